"""Probes and trusted building blocks for the attention assignment.

The trusted blocks wrap PyTorch's own modules behind the assignment's API (masks with
True = may attend), so a test of a larger module can swap them in (`patch=`) and grade
that module alone.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.worker.probes import probe
from autograder.worker.probes.core import build_model, plain
from autograder.worker.spec import Build


def trusted_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None) -> tuple:
    """PyTorch's `F.scaled_dot_product_attention`, returning `(out, None)` (no weights)."""
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask), None


def _pytorch_mask(mask: torch.Tensor | None, num_heads: int) -> torch.Tensor | None:
    """The assignment's mask (True = may attend, (N, N) or (B, N, N)) in nn.MultiheadAttention's terms."""
    if mask is None:
        return None
    return ~(mask.repeat_interleave(num_heads, dim=0) if mask.dim() == 3 else mask)


class TrustedSelfAttention(nn.MultiheadAttention):
    """`nn.MultiheadAttention` with the assignment's `forward(x, mask=None)`."""

    def __init__(self, d_model: int, num_heads: int, bias: bool = True) -> None:
        super().__init__(d_model, num_heads, bias=bias, batch_first=True)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x, x, x, attn_mask=_pytorch_mask(mask, self.num_heads), need_weights=False)[0]


class TrustedEncoderLayer(nn.TransformerEncoderLayer):
    """`nn.TransformerEncoderLayer` (batch first) with the assignment's signature and mask."""

    def __init__(self, d_model: int, num_heads: int, dim_feedforward: int, dropout: float = 0.0, norm_first: bool = True) -> None:
        super().__init__(d_model, num_heads, dim_feedforward, dropout=dropout, batch_first=True, norm_first=norm_first)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x, src_mask=_pytorch_mask(mask, self.self_attn.num_heads))


@probe
def train_token_classifier(
    module: Any,
    *,
    model: Build,
    state_dict: dict | None,
    tokens: torch.Tensor,
    labels: torch.Tensor,
    eval_tokens: torch.Tensor,
    steps: int,
    lr: float,
    batch_size: int = 64,
    seed: int = 0,
) -> dict:
    """The grader's own loop: Adam on per-token cross-entropy with random mini-batches.

    Returns the logits on `eval_tokens` (their labels stay with the judge).  Runs on one
    thread (as in the sandbox), also when called in-process: the model is tiny, and extra
    threads only slow it down on a busy machine.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(module, model, state_dict, tokens, labels, eval_tokens, steps, lr, batch_size, seed)
    finally:
        torch.set_num_threads(threads)


def _train(module: Any, model: Build, state_dict: dict | None, tokens: torch.Tensor, labels: torch.Tensor,
           eval_tokens: torch.Tensor, steps: int, lr: float, batch_size: int, seed: int) -> dict:
    obj = build_model(module, model, state_dict, None)
    optimizer = torch.optim.Adam(obj.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(tokens), (batch_size,), generator=gen)
        logits = obj(tokens[idx])  # (batch, N, C)
        loss = F.cross_entropy(logits.flatten(0, 1), labels[idx].flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return {"logits": plain(obj(eval_tokens))}
