"""CORRECT: names bound at import time — the attention function as a default argument, the
self-attention class through a module-level table, the layer class through an alias —, the
heads kept in a private attribute (no `num_heads`), `from torch import ...` names, attention
output taken from the returned weights, one shared dropout module, and an isinstance check
on the layers."""

from math import sqrt

from torch import Tensor, bool as tbool, cat, empty, ones, tril, zeros
from torch.nn import Dropout, Embedding, LayerNorm, Linear, Module, ModuleList, Parameter, init
from torch.nn.functional import relu, softmax


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None):
    scores = (q @ k.transpose(-2, -1)) / sqrt(k.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(mask.logical_not(), float("-inf"))
    weights = softmax(scores, dim=-1)
    return weights @ v, weights


def causal_mask(n: int, device=None) -> Tensor:
    return tril(ones(n, n, dtype=tbool, device=device))


class MultiHeadSelfAttention(Module):
    def __init__(self, d_model: int, num_heads: int, bias: bool = True) -> None:
        super().__init__()
        self._h = num_heads
        self._dk = d_model // num_heads
        self.in_proj_weight = Parameter(init.xavier_uniform_(empty(3 * d_model, d_model)))
        if bias:
            self.in_proj_bias = Parameter(zeros(3 * d_model))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(d_model, d_model, bias=bias)

    def _split(self, t: Tensor) -> Tensor:
        B, N, _ = t.shape
        return t.reshape(B, N, self._h, self._dk).permute(0, 2, 1, 3)  # (B, h, N, dk)

    def forward(self, x: Tensor, mask: Tensor | None = None, _attend=scaled_dot_product_attention) -> Tensor:
        qkv = x @ self.in_proj_weight.T
        if self.in_proj_bias is not None:
            qkv = qkv + self.in_proj_bias
        q, k, v = (self._split(t) for t in qkv.chunk(3, dim=-1))
        if mask is not None and mask.ndim == 3:
            mask = mask[:, None]
        _, weights = _attend(q, k, v, mask)
        heads = weights @ v  # (B, h, N, dk)
        merged = cat(heads.unbind(1), dim=-1)  # (B, N, d), head 0 first
        return self.out_proj(merged)


_BLOCKS = {"attention": MultiHeadSelfAttention}


class TransformerEncoderLayer(Module):
    def __init__(self, d_model: int, num_heads: int, dim_feedforward: int, dropout: float = 0.0, norm_first: bool = True) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.d_model = d_model
        self.self_attn = _BLOCKS["attention"](d_model, num_heads)
        self.linear1 = Linear(d_model, dim_feedforward)
        self.linear2 = Linear(dim_feedforward, d_model)
        self.norm1 = LayerNorm(d_model)
        self.norm2 = LayerNorm(d_model)
        self._drop = Dropout(dropout)

    def _sa(self, x: Tensor, mask: Tensor | None) -> Tensor:
        return self._drop(self.self_attn(x, mask=mask))

    def _ff(self, x: Tensor) -> Tensor:
        return self._drop(self.linear2(self._drop(relu(self.linear1(x)))))

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if x.shape[-1] != self.d_model:
            raise ValueError("wrong token dimension")
        if self.norm_first:
            x = x + self._sa(self.norm1(x), mask)
            return x + self._ff(self.norm2(x))
        x = self.norm1(x + self._sa(x, mask))
        return self.norm2(x + self._ff(x))


_Layer = TransformerEncoderLayer


class TokenClassifier(Module):
    def __init__(self, vocab_size: int, num_classes: int, d_model: int = 32, num_heads: int = 4,
                 num_layers: int = 2, dim_feedforward: int = 64) -> None:
        super().__init__()
        self.embedding = Embedding(vocab_size, d_model)
        self.layers = ModuleList([_Layer(d_model, num_heads, dim_feedforward, norm_first=True) for _ in range(num_layers)])
        self.readout = Linear(d_model, num_classes)

    def forward(self, tokens: Tensor) -> Tensor:
        h = self.embedding(tokens)
        for layer in self.layers:
            assert isinstance(layer, TransformerEncoderLayer)
            h = layer(h)
        return self.readout(h)
