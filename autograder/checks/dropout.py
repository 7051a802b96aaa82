"""Where dropout acts in a post-norm encoder layer, read through the norms that follow it.

Pre-norm, a block's dropped entries show in the output as they are (the residual sum adds
the block's output to the input).  Post-norm, a layer norm follows every residual sum, and
a norm mixes a token's entries; but each entry is still one of a few values before the
norm (dropped, kept and scaled by 1/(1-p), …), so every pattern of a token's d entries is
tried (K^d of them, 2^8 or 3^8 for d = 8) and the one the norm turns into the output is the
dropout's choice.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from autograder.checks.base import fail

POST_NORM_HINT = ("post-norm drops where pre-norm does — the attention block's output, and in the feed-forward block "
                  "after the activation and after linear2 — inside each block, before its residual sum; never the sum "
                  "itself nor a norm's output")


def dropout_choices(actual: torch.Tensor, candidates: torch.Tensor, after: Callable[[torch.Tensor], torch.Tensor],
                    prop: str, what: str, hint: str) -> list[float]:
    """The share of entries taking each candidate, where each token of `actual` `(B, N, d)` is
    `after` (per token) of entries chosen among `candidates` `(K, B, N, d)`; fails when no
    choice gives a token.

    >>> x = torch.randn(1, 2, 4, dtype=torch.float64)
    >>> dropout_choices(F.layer_norm(x, (4,)), torch.stack([x * 0, x]), lambda v: F.layer_norm(v, (4,)), "p", "x", "")
    [0.0, 1.0]
    """
    K, d = candidates.shape[0], candidates.shape[-1]
    choice = torch.cartesian_prod(*[torch.arange(K)] * d).reshape(K ** d, d)  # every pattern of one token
    tokens = candidates.flatten(1, 2)  # (K, tokens, d)
    counts = torch.zeros(K)
    for t, token in enumerate(actual.flatten(0, 1)):
        patterns = tokens[:, t].T.gather(1, choice.T).T  # (K^d, d): each pattern's entries
        hit = torch.isclose(after(patterns), token, rtol=1e-7, atol=1e-8).all(-1).nonzero()
        if len(hit) == 0:
            fail(prop, f"in train mode, {what} is not dropped where nn.TransformerEncoderLayer drops it: each of its "
                       "entries 0 or scaled by 1/(1-p), before the residual sum", hint)
        counts += torch.bincount(choice[hit[0, 0]], minlength=K)
    return (counts / counts.sum()).tolist()


def post_norm_dropout_sites(run: Callable[[dict], torch.Tensor], sd: dict[str, torch.Tensor], x: torch.Tensor,
                            p: float, prop: str, hint: str = POST_NORM_HINT) -> None:
    """A post-norm layer (d = 8, dim_feedforward = 16, 2 heads, PyTorch's layout `sd`, float64)
    drops where nn.TransformerEncoderLayer does: the attention block's output before the
    residual sum, the feed-forward block after the activation and after the second linear.

    `run(weights)`: the layer's train-mode output on `x` `(B, N, 8)` with `weights` (the
    judge's: the attention block alone, then the feed-forward block alone)."""
    scale = 1.0 / (1.0 - p)
    zeros = lambda *shape: torch.zeros(*shape, dtype=torch.float64)  # noqa: E731 — three shapes of zeros
    norm = {n: (lambda v, n=n: F.layer_norm(v, (8,), sd[f"{n}.weight"], sd[f"{n}.bias"], 1e-5)) for n in ("norm1", "norm2")}
    attention = torch.nn.MultiheadAttention(8, 2, batch_first=True, dtype=torch.float64)
    attention.load_state_dict({k.removeprefix("self_attn."): v for k, v in sd.items() if k.startswith("self_attn.")})
    with torch.no_grad():
        branch = attention(x, x, x, need_weights=False)[0]  # post-norm, the block reads x itself
    attention_only = dict(sd, **{"linear2.weight": zeros(8, 16), "linear2.bias": zeros(8)})
    dropped, _ = dropout_choices(run(attention_only), torch.stack([x, x + scale * branch]),
                                 lambda v: norm["norm2"](norm["norm1"](v)), prop, "post-norm, the attention block's output", hint)
    if not p / 2 <= dropped <= p + 0.15:
        fail(prop, f"(norm_first=False) in train mode a share {dropped:.2f} of the attention block's output is dropped, "
                   f"for dropout={p}", hint)
    # linear1 copies norm1's output (|h| < 3, so +3 is past the ReLU) to 8 units; linear2 reads them back (+0.5)
    feed_forward_only = dict(sd, **{
        "self_attn.out_proj.weight": zeros(8, 8), "self_attn.out_proj.bias": zeros(8),
        "linear1.weight": torch.eye(16, 8, dtype=torch.float64), "linear1.bias": torch.full((16,), 3.0, dtype=torch.float64),
        "linear2.weight": torch.eye(8, 16, dtype=torch.float64), "linear2.bias": torch.full((8,), 0.5, dtype=torch.float64)})
    h = norm["norm1"](x)
    dropped, bias_only, both_kept = dropout_choices(
        run(feed_forward_only), torch.stack([h, h + scale * 0.5, h + scale * (scale * (h + 3.0) + 0.5)]), norm["norm2"],
        prop, "post-norm, the feed-forward block's output", hint)
    if not (p / 2 <= dropped <= p + 0.15 and bias_only >= p * (1 - p) / 4 and both_kept >= 0.6 * (1 - p) ** 2):
        fail(prop, "(norm_first=False) in train mode the feed-forward block is not dropped once after the activation "
                   "and once after the second linear", hint)
