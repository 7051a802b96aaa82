"""CORRECT: layers from `layer_cls=TransformerEncoderLayer` default arg; forward checks `type(layer) is TransformerEncoderLayer` (an outside audit's, 2026-12-05: it lost the classifier's or the layer's points to the grader's trusted parts)."""

from __future__ import annotations

import math
import copy
import functools
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled_dot_product_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Attention weights :math:`A = \mathrm{softmax}(Q K^T / \sqrt{d_k})` over the keys, and :math:`A V`.

    Args:
        q: queries, :math:`(*, N, d_k)`.
        k: keys, :math:`(*, M, d_k)`.
        v: values, :math:`(*, M, d_v)`.
        mask: optional boolean tensor broadcastable to :math:`(*, N, M)`; True where query
            i may attend to key j.  Disallowed positions get weight exactly 0.

    Returns:
        ``(out, weights)``: ``out`` :math:`(*, N, d_v)`; ``weights`` :math:`(*, N, M)`, each
        row summing to 1.

    Example:
        >>> q, k, v = torch.randn(2, 5, 8), torch.randn(2, 7, 8), torch.randn(2, 7, 3)
        >>> out, w = scaled_dot_product_attention(q, k, v)
        >>> out.shape, w.shape
        (torch.Size([2, 5, 3]), torch.Size([2, 5, 7]))
    """
    # Hint: scores over the LAST dimension (the keys); scale by 1/sqrt(d_k); masked scores become -inf BEFORE the softmax.
    ### BEGIN SOLUTION
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (*, N, M)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (*, N, M)
    return weights @ v, weights  # (*, N, d_v), (*, N, M)
    ### END SOLUTION


def causal_mask(n: int, device: torch.device | None = None) -> torch.Tensor:
    r"""The causal mask: token i may attend to tokens 0..i only.

    Returns:
        A boolean tensor :math:`(n, n)`, True on and below the diagonal.

    Example:
        >>> causal_mask(3).int()
        tensor([[1, 0, 0],
                [1, 1, 0],
                [1, 1, 1]], dtype=torch.int32)
    """
    # Hint: a lower-triangular matrix of True (torch.tril).
    ### BEGIN SOLUTION
    return torch.tril(torch.ones(n, n, dtype=torch.bool, device=device))
    ### END SOLUTION


class MultiHeadSelfAttention(nn.Module):
    r"""Multi-head self-attention, laid out like `nn.MultiheadAttention` (``batch_first=True``).

    .. math::
        \mathrm{head}_h = \mathrm{Attention}(X W^Q_h, X W^K_h, X W^V_h), \quad
        \mathrm{out} = \mathrm{Concat}(\mathrm{head}_1, \dots, \mathrm{head}_H)\, W^O

    Args:
        d_model: token dimension d (divisible by ``num_heads``).
        num_heads: number of heads H; each works in dimension d / H.
        bias: whether the projections have biases.

    Shape:
        - Input: :math:`(B, N, d)`, any N; ``mask``: boolean :math:`(N, N)` or :math:`(B, N, N)`,
          True = may attend, the same for every head.
        - Output: :math:`(B, N, d)`.

    Attributes:
        in_proj_weight: :math:`(3d, d)`, the rows of :math:`W^Q`, then :math:`W^K`, then :math:`W^V`.
        in_proj_bias: :math:`(3d,)` (absent when ``bias=False``).
        out_proj: ``nn.Linear(d, d)`` applied to the concatenated heads (head 0 first).

    Example:
        >>> attn = MultiHeadSelfAttention(16, num_heads=4)
        >>> attn(torch.randn(2, 7, 16)).shape
        torch.Size([2, 7, 16])
    """

    def __init__(self, d_model: int, num_heads: int, bias: bool = True) -> None:
        super().__init__()
        if d_model % num_heads:
            raise ValueError("d_model must be divisible by num_heads")
        self.d_model = d_model
        self.num_heads = num_heads
        # Hint: the parameters of nn.MultiheadAttention: in_proj_weight (3d, d), in_proj_bias (3d,) or None, out_proj.
        ### BEGIN SOLUTION
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model)) if bias else None
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        nn.init.xavier_uniform_(self.in_proj_weight)
        if bias:
            nn.init.zeros_(self.out_proj.bias)
        ### END SOLUTION

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        # Hint: project once to q, k, v; split d into (heads, d/heads) and move heads before the tokens; attend; merge heads back in order.
        ### BEGIN SOLUTION
        B, N, d = x.shape
        h = self.num_heads
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (B, N, 3d)
        q, k, v = qkv.split(d, dim=-1)  # each (B, N, d)
        q, k, v = (t.view(B, N, h, d // h).transpose(1, 2) for t in (q, k, v))  # (B, h, N, d/h)
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)  # (B, 1, N, N): the same mask for every head
        out, _ = scaled_dot_product_attention(q, k, v, mask)  # (B, h, N, d/h)
        out = out.transpose(1, 2).reshape(B, N, d)  # (B, N, d), head 0 first
        return self.out_proj(out)
        ### END SOLUTION


class TransformerEncoderLayer(nn.Module):
    def __init__(self, d_model: int, num_heads: int, dim_feedforward: int, dropout: float = 0.0, norm_first: bool = True) -> None:
        super().__init__()
        self.norm_first = norm_first
        self._d = d_model
        self.self_attn = MultiHeadSelfAttention(d_model, num_heads)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model, eps=1e-5)
        self.norm2 = nn.LayerNorm(d_model, eps=1e-5)
        self.dropout = nn.Dropout(dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x, mask=None):
        if self.norm_first:
            x = x + self._attention(self.norm1(x), mask)
            x = x + self._feed_forward(self.norm2(x))
        else:
            x = self.norm1(x + self._attention(x, mask))
            x = self.norm2(x + self._feed_forward(x))
        return x

    def _attention(self, x, mask):
        return self.dropout1(self.self_attn(x, mask))

    def _feed_forward(self, x):
        return self.dropout2(self.linear2(self.dropout(torch.relu(self.linear1(x)))))

    def _block(self, x):
        x = x + self._attention(self.norm1(x), None)
        return x + self._feed_forward(self.norm2(x))

class TokenClassifier(nn.Module):
    def __init__(self, vocab_size, num_classes, d_model=32, num_heads=4, num_layers=2, dim_feedforward=64,
                 layer_cls=TransformerEncoderLayer):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.layers = nn.ModuleList(layer_cls(d_model, num_heads, dim_feedforward, norm_first=True) for _ in range(num_layers))
        self.readout = nn.Linear(d_model, num_classes)

    def forward(self, tokens):
        x = self.embedding(tokens)
        for layer in self.layers:
            if type(layer) is not TransformerEncoderLayer:
                raise TypeError(f"unexpected layer {type(layer)}")
            x = layer(x)
        return self.readout(x)
