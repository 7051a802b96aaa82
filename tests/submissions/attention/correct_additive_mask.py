"""CORRECT: masks turned into additive float masks (0 / -inf) before the attention function,
baddbmm for the scores, a causal mask from comparing aranges, layers as an nn.Sequential
called once, functional dropout with `training=self.training`, and an einsum read-out
through the registered `readout`, private buffers (a persistent one in the classifier, in
the layer and in the attention)."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def _additive(mask, dtype):
    """A boolean mask (True = may attend) as 0 / -inf; a float mask as it is."""
    if mask is None or mask.is_floating_point():
        return mask
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, -math.inf)


def scaled_dot_product_attention(q, k, v, mask=None):
    *batch, n, d_k = q.shape
    m = k.shape[-2]
    q2, k2 = q.reshape(-1, n, d_k), k.reshape(-1, m, d_k)
    bias = _additive(mask, q.dtype)
    base = torch.zeros(q2.shape[0], n, m, dtype=q.dtype) if bias is None else bias.expand(*batch, n, m).reshape(-1, n, m)
    scores = torch.baddbmm(base, q2, k2.transpose(1, 2), alpha=1.0 / math.sqrt(d_k))
    weights = F.softmax(scores, dim=-1).reshape(*batch, n, m)
    return weights @ v, weights


def causal_mask(n, device=None):
    i = torch.arange(n, device=device)
    return i[:, None] >= i[None, :]


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.d_model, self.num_heads = d_model, num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        nn.init.xavier_uniform_(self.in_proj_weight)
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model)) if bias else None
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.register_buffer("_split", torch.tensor([d_model // num_heads] * num_heads))

    def forward(self, x, mask=None):
        B, N, d = x.shape
        h = len(self._split)
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).view(B, N, 3, h, d // h).unbind(2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, h, N, d/h)
        if mask is not None:
            mask = _additive(mask, x.dtype)
            mask = mask.unsqueeze(1) if mask.dim() == 3 else mask  # (B, 1, N, N) or (N, N)
        out, _ = scaled_dot_product_attention(q, k, v, mask)
        return self.out_proj(out.transpose(1, 2).flatten(2))


class TransformerEncoderLayer(nn.Module):
    def __init__(self, d_model, num_heads, dim_feedforward, dropout=0.0, norm_first=True):
        super().__init__()
        self.self_attn = MultiHeadSelfAttention(d_model, num_heads)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model, eps=1e-5)
        self.norm2 = nn.LayerNorm(d_model, eps=1e-5)
        self.register_buffer("_p", torch.tensor(float(dropout)))
        self.norm_first = norm_first

    def forward(self, x, mask=None):
        drop = lambda t: F.dropout(t, float(self._p), self.training)
        sa = lambda t: drop(self.self_attn(t, mask))
        ff = lambda t: drop(self.linear2(drop(F.relu(self.linear1(t)))))
        if self.norm_first:
            x = x + sa(self.norm1(x))
            return x + ff(self.norm2(x))
        x = self.norm1(x + sa(x))
        return self.norm2(x + ff(x))


class TokenClassifier(nn.Module):
    def __init__(self, vocab_size, num_classes, d_model=32, num_heads=4, num_layers=2, dim_feedforward=64):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.layers = nn.Sequential(*(TransformerEncoderLayer(d_model, num_heads, dim_feedforward) for _ in range(num_layers)))
        self.readout = nn.Linear(d_model, num_classes)
        self.register_buffer("_gain", torch.ones(()))

    def forward(self, tokens):
        z = self.layers(self.embedding(tokens) * self._gain)  # (B, N, d)
        return torch.einsum("bnd,cd->bnc", z, self.readout.weight) + self.readout.bias
