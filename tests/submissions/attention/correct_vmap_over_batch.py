"""CORRECT: attention mapped over the batch with torch.func.vmap, dropouts in an nn.ModuleDict.

attention: MHSA maps a per-sample function over the batch with torch.func.vmap (the mask
mapped too when it is per-sample), sdpa with torch.where and -inf, causal mask from
torch.ones(...).tril() compared > 0, the layer keeps its dropouts in an nn.ModuleDict
(extra private-ish names), the classifier as nn.Sequential of layers only."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import vmap


def scaled_dot_product_attention(q, k, v, mask=None):
    s = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(q.shape[-1]))
    if mask is not None:
        s = torch.where(mask, s, torch.tensor(-math.inf, dtype=s.dtype, device=s.device))
    a = torch.softmax(s, dim=-1)
    return torch.matmul(a, v), a


def causal_mask(n, device=None):
    return torch.ones(n, n, device=device).tril() > 0


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.d_model = d_model
        self.num_heads = num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        nn.init.xavier_uniform_(self.in_proj_weight)
        if bias:
            self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def _sample(self, x, mask):
        """x (N, d), mask (N, N) or None -> (N, d) before the output projection."""
        n, d = x.shape
        h = self.num_heads
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = (t.reshape(n, h, d // h).transpose(0, 1) for t in qkv.chunk(3, dim=-1))
        out, _ = scaled_dot_product_attention(q, k, v, mask)
        return out.transpose(0, 1).reshape(n, d)

    def forward(self, x, mask=None):
        if mask is None:
            heads = vmap(lambda xi: self._sample(xi, None))(x)
        elif mask.dim() == 2:
            heads = vmap(self._sample, in_dims=(0, None))(x, mask)
        else:
            heads = vmap(self._sample)(x, mask)
        return self.out_proj(heads)


class TransformerEncoderLayer(nn.Module):
    def __init__(self, d_model, num_heads, dim_feedforward, dropout=0.0, norm_first=True):
        super().__init__()
        self.self_attn = MultiHeadSelfAttention(d_model, num_heads)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model, eps=1e-5)
        self.norm2 = nn.LayerNorm(d_model, eps=1e-5)
        self.drops = nn.ModuleDict({"attn": nn.Dropout(dropout), "act": nn.Dropout(dropout), "ff": nn.Dropout(dropout)})
        self.norm_first = norm_first

    def forward(self, x, mask=None):
        sa = lambda t: self.drops["attn"](self.self_attn(t, mask))  # noqa: E731
        ff = lambda t: self.drops["ff"](self.linear2(self.drops["act"](F.relu(self.linear1(t)))))  # noqa: E731
        if self.norm_first:
            x = x + sa(self.norm1(x))
            x = x + ff(self.norm2(x))
        else:
            x = self.norm1(x + sa(x))
            x = self.norm2(x + ff(x))
        return x


class TokenClassifier(nn.Module):
    def __init__(self, vocab_size, num_classes, d_model=32, num_heads=4, num_layers=2, dim_feedforward=64):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.layers = nn.Sequential(*(TransformerEncoderLayer(d_model, num_heads, dim_feedforward, norm_first=True)
                                      for _ in range(num_layers)))
        self.readout = nn.Linear(d_model, num_classes)

    def forward(self, tokens):
        return self.readout(self.layers(self.embedding(tokens)))
