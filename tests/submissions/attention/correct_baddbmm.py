"""CORRECT: flattened (B*H) batches with bmm/baddbmm-style code, mask expanded by hand,
functional layer norm through the registered modules."""

import math

import torch
import torch.nn as nn


def scaled_dot_product_attention(q, k, v, mask=None):
    scale = 1 / math.sqrt(q.size(-1))
    scores = (q * scale) @ k.transpose(-2, -1)
    if mask is not None:
        scores = scores + torch.zeros_like(scores).masked_fill(~mask.expand_as(scores), float("-inf"))
    weights = scores.softmax(-1)
    return weights @ v, weights


def causal_mask(n, device=None):
    return ~torch.triu(torch.ones(n, n, dtype=torch.bool, device=device), diagonal=1)


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.n_heads = num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model).uniform_(-0.1, 0.1))
        self.register_parameter("in_proj_bias", nn.Parameter(torch.zeros(3 * d_model)) if bias else None)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, x, mask=None):
        B, N, D = x.shape
        H = self.n_heads
        qkv = torch.matmul(x, self.in_proj_weight.t())
        if self.in_proj_bias is not None:
            qkv += self.in_proj_bias
        qkv = qkv.reshape(B, N, 3, H, D // H).permute(2, 0, 3, 1, 4).reshape(3, B * H, N, D // H)
        if mask is not None:
            mask = mask.expand(B, N, N) if mask.dim() == 2 else mask
            mask = mask.repeat_interleave(H, dim=0)
        out, _ = scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], mask)
        out = out.reshape(B, H, N, D // H).transpose(1, 2).reshape(B, N, D)
        return self.out_proj(out)


class TransformerEncoderLayer(nn.Module):
    def __init__(self, d_model, num_heads, dim_feedforward, dropout=0.0, norm_first=True):
        super().__init__()
        self.norm_first = norm_first
        self.norm1 = nn.LayerNorm(d_model)
        self.self_attn = MultiHeadSelfAttention(d_model, num_heads)
        self.norm2 = nn.LayerNorm(d_model)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, mask=None):
        attn = lambda t: self.dropout(self.self_attn(t, mask))
        ff = lambda t: self.dropout(self.linear2(self.dropout(self.linear1(t).clamp(min=0))))
        if self.norm_first:
            x = x + attn(self.norm1(x))
            x = x + ff(self.norm2(x))
        else:
            x = self.norm1(x + attn(x))
            x = self.norm2(x + ff(x))
        return x


class TokenClassifier(nn.Module):
    def __init__(self, vocab_size, num_classes, d_model=32, num_heads=4, num_layers=2, dim_feedforward=64):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.layers = nn.ModuleList(TransformerEncoderLayer(d_model, num_heads, dim_feedforward) for _ in range(num_layers))
        self.readout = nn.Linear(d_model, num_classes)

    def forward(self, tokens):
        x = self.embedding(tokens)
        for block in self.layers:
            x = block(x)
        return self.readout(x)
