"""CORRECT: a hand-written stable softmax whose mask multiplies the exponentials (exact zeros, no -inf), q scaled before the product, q/k/v from one reshape and permute, module-level constants (an outside audit's style)."""
from __future__ import annotations
import math
import torch
import torch.nn as nn
import torch.nn.functional as F

LN_EPS = 1e-5
_QKV = 3


def _softmax_masked(scores, mask):
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    m = scores.amax(dim=-1, keepdim=True).detach()
    e = torch.exp(scores - m)
    if mask is not None:
        e = e * mask.to(e.dtype)
    return e / e.sum(dim=-1, keepdim=True)


def scaled_dot_product_attention(q, k, v, mask=None):
    q = q * (q.shape[-1] ** -0.5)
    w = _softmax_masked(torch.matmul(q, k.mT), mask)
    return torch.matmul(w, v), w


def causal_mask(n, device=None):
    m = torch.zeros(n, n, dtype=torch.bool, device=device)
    for i in range(n):
        m[i, : i + 1] = True
    return m


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        if d_model % num_heads:
            raise ValueError("d_model must be divisible by num_heads")
        self.d_model = d_model
        self.num_heads = num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(_QKV * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.empty(_QKV * d_model)) if bias else None
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self._reset()

    def _reset(self):
        nn.init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            nn.init.constant_(self.in_proj_bias, 0.0)
            nn.init.constant_(self.out_proj.bias, 0.0)

    def forward(self, x, mask=None):
        B, N, d = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        qkv = qkv.view(B, N, _QKV, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        if mask is not None:
            mask = mask.view(-1, 1, N, N) if mask.dim() == 3 else mask
        out, _ = scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], mask)
        return self.out_proj(out.permute(0, 2, 1, 3).flatten(2))


class TransformerEncoderLayer(nn.Module):
    def __init__(self, d_model, num_heads, dim_feedforward, dropout=0.0, norm_first=True):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadSelfAttention(d_model, num_heads)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model, eps=LN_EPS)
        self.norm2 = nn.LayerNorm(d_model, eps=LN_EPS)
        self.dropout = nn.Dropout(dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x, mask=None):
        if not self.norm_first:
            x = self.norm1(x + self.dropout1(self.self_attn(x, mask=mask)))
            return self.norm2(x + self.dropout2(self.linear2(self.dropout(self.linear1(x).relu()))))
        y = self.norm1(x)
        x = x + self.dropout1(self.self_attn(y, mask=mask))
        y = self.norm2(x)
        return x + self.dropout2(self.linear2(self.dropout(self.linear1(y).relu())))


class TokenClassifier(nn.Module):
    def __init__(self, vocab_size, num_classes, d_model=32, num_heads=4, num_layers=2, dim_feedforward=64):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.layers = nn.ModuleList(TransformerEncoderLayer(d_model, num_heads, dim_feedforward, 0.0, True)
                                    for _ in range(num_layers))
        self.readout = nn.Linear(d_model, num_classes)

    def forward(self, tokens):
        x = self.embedding(tokens)
        for layer in self.layers:
            x = layer(x)
        return self.readout(x)
