"""CORRECT: einsum everywhere, torch.where for the mask, F.softmax, chunked projections."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled_dot_product_attention(q, k, v, mask=None):
    scores = torch.einsum("...nd,...md->...nm", q, k) * (1.0 / math.sqrt(k.size(-1)))
    if mask is not None:
        scores = torch.where(mask, scores, torch.tensor(float("-inf"), dtype=scores.dtype))
    weights = F.softmax(scores, dim=-1)
    return torch.einsum("...nm,...mv->...nv", weights, v), weights


def causal_mask(n, device=None):
    i = torch.arange(n, device=device)
    return i[:, None] >= i[None, :]


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.h = num_heads
        self.in_proj_weight = nn.Parameter(torch.randn(3 * d_model, d_model) / math.sqrt(d_model))
        if bias:
            self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, x, mask=None):
        B, N, D = x.shape
        qkv = torch.einsum("bnd,ed->bne", x, self.in_proj_weight)
        if self.in_proj_bias is not None:
            qkv = qkv + self.in_proj_bias
        q, k, v = qkv.chunk(3, dim=-1)
        split = lambda t: t.reshape(B, N, self.h, D // self.h).permute(0, 2, 1, 3)
        if mask is not None and mask.dim() == 3:
            mask = mask[:, None]
        out, _ = scaled_dot_product_attention(split(q), split(k), split(v), mask)
        return self.out_proj(out.permute(0, 2, 1, 3).reshape(B, N, D))


class TransformerEncoderLayer(nn.Module):
    def __init__(self, d_model, num_heads, dim_feedforward, dropout=0.0, norm_first=True):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadSelfAttention(d_model, num_heads)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)

    def ff(self, x):
        return self.drop(self.linear2(self.drop(F.relu(self.linear1(x)))))

    def forward(self, x, mask=None):
        if self.norm_first:
            h = x + self.drop(self.self_attn(self.norm1(x), mask))
            return h + self.ff(self.norm2(h))
        h = self.norm1(x + self.drop(self.self_attn(x, mask)))
        return self.norm2(h + self.ff(h))


class TokenClassifier(nn.Module):
    def __init__(self, vocab_size, num_classes, d_model=32, num_heads=4, num_layers=2, dim_feedforward=64):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.layers = nn.Sequential(*[TransformerEncoderLayer(d_model, num_heads, dim_feedforward) for _ in range(num_layers)])
        self.readout = nn.Linear(d_model, num_classes)

    def forward(self, tokens):
        return self.readout(self.layers(self.embedding(tokens)))
