"""A memory task for the rnn assignment: recall the symbol seen at an early step."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def recall_symbol(n_sequences: int, *, length: int = 10, num_symbols: int = 4, position: int = 1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """One-hot sequences of random symbols; the label is the symbol at step `position`.

    The model must carry that symbol through every later step in its hidden state.  With
    the default `position=1` (the second symbol) neither the last input alone nor the
    hidden state after the FIRST step tells the label, so a model that forgets, or that
    reads the wrong end of its outputs, stays at chance (1 / num_symbols).

    Shape:
        - X: (n_sequences, length, num_symbols), float32 one-hot
        - y: (n_sequences,), int64 in [0, num_symbols)

    Example:
        >>> X, y = recall_symbol(3, seed=0)
        >>> X.shape, y.shape
        (torch.Size([3, 10, 4]), torch.Size([3]))
        >>> bool((X[:, 1].argmax(1) == y).all())
        True
    """
    gen = torch.Generator().manual_seed(seed)
    symbols = torch.randint(0, num_symbols, (n_sequences, length), generator=gen)
    return F.one_hot(symbols, num_symbols).float(), symbols[:, position]
