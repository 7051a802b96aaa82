"""A memory task for the rnn assignment: recall the first symbol of a sequence."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def recall_first(n_sequences: int, *, length: int = 10, num_symbols: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """One-hot symbol sequences; the label is the FIRST symbol, which the model must carry
    through every later step in its hidden state.

    Shape:
        - X: (n_sequences, length, num_symbols), float32 one-hot
        - y: (n_sequences,), int64 in [0, num_symbols)

    Example:
        >>> X, y = recall_first(3, seed=0)
        >>> X.shape, y.shape
        (torch.Size([3, 10, 4]), torch.Size([3]))
    """
    gen = torch.Generator().manual_seed(seed)
    symbols = torch.randint(0, num_symbols, (n_sequences, length), generator=gen)
    return F.one_hot(symbols, num_symbols).float(), symbols[:, 0]
