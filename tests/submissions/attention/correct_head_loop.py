"""CORRECT: a Python loop over heads with torch.cat, masked_fill with a large negative number
replaced by -inf via a boolean index, post-/pre-norm written as two methods, functional dropout."""

import torch
import torch.nn.functional as F
from torch import nn


def scaled_dot_product_attention(q, k, v, mask=None):
    d_k = q.shape[-1]
    scores = torch.matmul(q, k.transpose(-1, -2)) / d_k ** 0.5
    if mask is not None:
        scores = scores.masked_fill(mask.logical_not(), float("-inf"))
    scores = scores - scores.amax(dim=-1, keepdim=True)
    e = scores.exp()
    weights = e / e.sum(dim=-1, keepdim=True)
    return torch.matmul(weights, v), weights


def causal_mask(n, device=None):
    return torch.ones(n, n, device=device).tril().bool()


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.d_head = d_model // num_heads
        self.in_proj_weight = nn.Parameter(nn.init.xavier_normal_(torch.empty(3 * d_model, d_model)))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model)) if bias else None
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, x, mask=None):
        d = x.shape[-1]
        w_q, w_k, w_v = self.in_proj_weight[:d], self.in_proj_weight[d:2 * d], self.in_proj_weight[2 * d:]
        q, k, v = x @ w_q.T, x @ w_k.T, x @ w_v.T
        if self.in_proj_bias is not None:
            q = q + self.in_proj_bias[:d]
            k = k + self.in_proj_bias[d:2 * d]
            v = v + self.in_proj_bias[2 * d:]
        heads = []
        for h in range(self.num_heads):
            cols = slice(h * self.d_head, (h + 1) * self.d_head)
            out, _ = scaled_dot_product_attention(q[..., cols], k[..., cols], v[..., cols], mask)
            heads.append(out)
        return self.out_proj(torch.cat(heads, dim=-1))


class TransformerEncoderLayer(nn.Module):
    def __init__(self, d_model, num_heads, dim_feedforward, dropout=0.0, norm_first=True):
        super().__init__()
        self.self_attn = MultiHeadSelfAttention(d_model, num_heads)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model, eps=1e-5)
        self.norm2 = nn.LayerNorm(d_model, eps=1e-5)
        self.norm_first = norm_first
        self.p = dropout

    def _drop(self, x):
        return F.dropout(x, self.p, training=self.training)

    def _ff(self, x):
        return self._drop(self.linear2(self._drop(torch.relu(self.linear1(x)))))

    def forward(self, x, mask=None):
        if not self.norm_first:
            x = self.norm1(x + self._drop(self.self_attn(x, mask=mask)))
            return self.norm2(x + self._ff(x))
        x = x + self._drop(self.self_attn(self.norm1(x), mask=mask))
        return x + self._ff(self.norm2(x))


class TokenClassifier(nn.Module):
    def __init__(self, vocab_size, num_classes, d_model=32, num_heads=4, num_layers=2, dim_feedforward=64):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.layers = nn.ModuleList()
        for _ in range(num_layers):
            self.layers.append(TransformerEncoderLayer(d_model, num_heads, dim_feedforward, norm_first=True))
        self.readout = nn.Linear(d_model, num_classes)

    def forward(self, tokens):
        h = self.embedding(tokens)
        for layer in self.layers:
            h = layer(h)
        return self.readout(h)
