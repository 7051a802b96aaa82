"""A set task for the attention assignment: label each token by how often it occurs.

Every token's label depends on the other tokens (a per-token model without attention
cannot do better than guessing from the token alone), and not on their order.
"""

from __future__ import annotations

import torch


def token_counts(n_sequences: int, *, length: int = 10, vocab_size: int = 6, num_classes: int = 4,
                 seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random token sequences; the label of a token is (its count in the sequence - 1), capped.

    Shape:
        - tokens: (n_sequences, length), int64 in [0, vocab_size)
        - labels: (n_sequences, length), int64 in [0, num_classes)

    Example:
        >>> tokens, labels = token_counts(2, length=4, seed=0)
        >>> tokens.shape, labels.shape
        (torch.Size([2, 4]), torch.Size([2, 4]))
    """
    gen = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, vocab_size, (n_sequences, length), generator=gen)
    counts = (tokens.unsqueeze(2) == tokens.unsqueeze(1)).sum(dim=2)  # (n, length): occurrences of each token
    return tokens, (counts - 1).clamp(max=num_classes - 1)
