"""Probes and trusted building blocks for the attention assignment.

The trusted blocks wrap PyTorch's own modules behind the assignment's API (masks with
True = may attend).  A test of a larger module puts them into the student's BUILT model
where SPEC keeps the smaller one, whatever way the student's code names or binds its
classes (a table, an alias, a default argument) — `on_trusted_parts(model, submission)`:

    Build("TransformerEncoderLayer", 8, 2, 16).swap("self_attn", SELF_ATTENTION_LIKE)
    Build("TokenClassifier", 10, 4, num_heads=2).swap("layers.*", ENCODER_LAYER_LIKE)

The `*_LIKE` factories read the sizes the student's code chose from the part they replace
(its parameter shapes, its `num_heads`, its `norm_first`), so a constructor argument that
the student's code fails to pass on still shows.  Where the student's own smaller part
cannot be built (unfinished; a classifier's layers: always), the tests also `patch=` its
class name, so that typical code builds trusted parts from the start and the larger module
can still be graded (`on_trusted_parts(model, submission)`); the name then holds a class
standing in for the student's (`spec.patched_in`), so the parts built under it pass for
theirs (`table[type(layer)]`, `type(layer) is TransformerEncoderLayer`).  Where it can, it
is built and the swap replaces it, keeping its class and attributes.

`scaled_dot_product_attention` is a module function, not a part of a built model: tests of
`MultiHeadSelfAttention` patch it (`TRUSTED_ATTENTION`).  A correct student whose module
binds it at import time then uses their own (correct) function: full marks all the same.

Nothing here repeats a line of the reference solution: the student bundle ships this file.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from autograder.worker.forbidden import trust
from autograder.worker.probes import probe
from autograder.worker.probes.core import adam_on_random_batches, build_model, parameters_of, plain
from autograder.worker.spec import Build, MissingName, adopt, resolve


def trusted_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None, *,
                      scale: float | None = None, dropout_p: float = 0.0, is_causal: bool = False,
                      **unknown: Any) -> tuple:
    """PyTorch's `F.scaled_dot_product_attention`, and the attention weights it used.

    `mask` may be boolean (True = may attend) or additive (a float tensor, e.g. 0 / -inf),
    broadcastable to `(*, N, M)`: a student's module may hand either to the function.  The
    keywords are `F.scaled_dot_product_attention`'s, with its meaning (`scale` default
    1/sqrt(d_k); `dropout_p` on the weights the output uses; `is_causal`): a student's
    function may offer them too, and their module pass them.  Any other keyword has a
    meaning only the student's function knows: refused with a message that says so."""
    if unknown:
        raise TypeError(f"this test runs your module on the grader's scaled_dot_product_attention, which takes "
                        f"F.scaled_dot_product_attention's keywords (scale, dropout_p, is_causal), not "
                        f"{', '.join(sorted(unknown))}: call your function as SPEC gives it, (q, k, v, mask)")
    scale = 1.0 / math.sqrt(q.size(-1)) if scale is None else scale
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, is_causal=is_causal, scale=scale)
    logits = torch.einsum("...nd,...md->...nm", q, k) * scale
    if is_causal:
        mask = torch.ones(q.size(-2), k.size(-2), dtype=torch.bool).tril()
    if mask is not None and mask.dtype == torch.bool:
        logits = logits.masked_fill(mask.logical_not(), -math.inf)
    elif mask is not None:
        logits = logits + mask
    return out, logits.softmax(dim=-1)


def _pytorch_mask(mask: torch.Tensor | None, num_heads: int) -> torch.Tensor | None:
    """The assignment's mask (True = may attend, (N, N) or (B, N, N)) in nn.MultiheadAttention's
    terms: True = blocked, one (N, N) slice per batch element and head."""
    if mask is None:
        return None
    return ~(mask.repeat_interleave(num_heads, dim=0) if mask.dim() == 3 else mask)


class TrustedSelfAttention(nn.MultiheadAttention):
    """`nn.MultiheadAttention` with the assignment's `forward(x, mask=None)` and the
    handout's `d_model`; called as PyTorch calls it (`(q, k, v, attn_mask=…, …)`, from
    `nn.TransformerEncoderLayer`), it is `nn.MultiheadAttention`."""

    def __init__(self, d_model: int, num_heads: int, bias: bool = True) -> None:
        super().__init__(d_model, num_heads, bias=bias, batch_first=True)
        self.d_model = d_model

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, *value: torch.Tensor,  # type: ignore[override]
                **kwargs: Any) -> Any:
        """`(x, mask=None)`: the assignment's call, also with `need_weights=True` (then
        `(out, weights averaged over the heads)`, as `nn.MultiheadAttention` gives them)
        and `average_attn_weights`; `(query, key, value, …)`: PyTorch's own call."""
        if value or {"query", "key", "value"} & set(kwargs):  # (query, key, value, attn_mask=…, …): PyTorch's
            return super().forward(x, mask, *value, **kwargs)
        unknown = set(kwargs) - {"need_weights", "average_attn_weights"}
        if unknown:
            raise TypeError(f"this test runs your layer on the grader's self-attention, which takes (x, mask=None) "
                            f"and nn.MultiheadAttention's need_weights and average_attn_weights, not "
                            f"{', '.join(sorted(unknown))}: call it as SPEC gives it, self_attn(x, mask)")
        need_weights = bool(kwargs.get("need_weights", False))
        out, weights = super().forward(x, x, x, attn_mask=_pytorch_mask(mask, self.num_heads), need_weights=need_weights,
                                       average_attn_weights=bool(kwargs.get("average_attn_weights", True)))
        return (out, weights) if need_weights else out


class TrustedEncoderLayer(nn.TransformerEncoderLayer):
    """`nn.TransformerEncoderLayer` (batch first, ReLU) with the assignment's signature and
    mask, and a `self_attn` with the assignment's API (`TrustedSelfAttention`): a student's
    helper run on the layer may call `self.self_attn(x, mask)`."""

    def __init__(self, d_model: int, num_heads: int, dim_feedforward: int, dropout: float = 0.0, norm_first: bool = True) -> None:
        super().__init__(d_model, num_heads, dim_feedforward, dropout=dropout, batch_first=True, norm_first=norm_first)
        self.self_attn.__class__ = TrustedSelfAttention  # the same module layout
        self.self_attn.d_model = d_model

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x, src_mask=_pytorch_mask(mask, self.self_attn.num_heads))


_HERE = "autograder.worker.probes.attention"
#: patch= for tests of MultiHeadSelfAttention: the trusted attention function.
TRUSTED_ATTENTION = {"scaled_dot_product_attention": f"{_HERE}:trusted_attention"}
#: Swap factories: a trusted part with the sizes of the student's part it replaces.
SELF_ATTENTION_LIKE = f"{_HERE}:self_attention_like"
ENCODER_LAYER_LIKE = f"{_HERE}:encoder_layer_like"


# -- the swap factories ----------------------------------------------------------------------

def _divisors(n: int) -> list[int]:
    return [h for h in range(1, n + 1) if n % h == 0]


def _heads_of(attention: nn.Module, d_model: int, bias: bool) -> int:
    """How many heads the student's self-attention module uses: its `num_heads` (the
    attribute the handout gives), else found by comparing it with PyTorch's attention for
    every head count that divides d (on the grader's random weights)."""
    heads = getattr(attention, "num_heads", None)
    if isinstance(heads, int) and not isinstance(heads, bool) and heads > 0 and d_model % heads == 0:
        return heads
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, d_model, generator=gen)
    layout = trust(TrustedSelfAttention)(d_model, 1, bias=bias).state_dict()  # the same for every head count
    state = {n: torch.randn(t.shape, generator=gen) * 0.5 for n, t in layout.items()}
    found = []
    try:
        with torch.no_grad():
            missing, _ = attention.load_state_dict(state, strict=False)  # a private buffer keeps its value
            if set(missing) & set(parameters_of(attention)):
                raise KeyError(missing)
            for h in _divisors(d_model):
                witness = trust(TrustedSelfAttention)(d_model, h, bias=bias)
                witness.load_state_dict(state)
                if torch.allclose(attention(x), witness(x), rtol=1e-4, atol=1e-5):
                    found.append(h)
    except Exception:  # noqa: BLE001 — the student's module does not behave like attention at all
        found = []
    if len(found) != 1:
        raise MissingName("the grader cannot tell how many heads your `self_attn` uses: keep the attribute "
                          "`self.num_heads` that the handout's MultiHeadSelfAttention.__init__ sets")
    return found[0]


def _weight(module: nn.Module, path: str, owner: str) -> torch.Tensor:
    obj: Any = module
    for part in path.split("."):
        obj = getattr(obj, part, None)
    if not isinstance(obj, torch.Tensor):
        raise MissingName(f"{owner} has no `{path}` (the assignment asks for it)")
    return obj


def self_attention_like(old: nn.Module) -> nn.Module:
    """Swap factory: PyTorch's attention with the sizes of the student's `self_attn`
    (d from `in_proj_weight`, the bias from `in_proj_bias`, the number of heads)."""
    d_model = _weight(old, "in_proj_weight", "self_attn").shape[1]
    bias = isinstance(getattr(old, "in_proj_bias", None), torch.Tensor)
    heads = _heads_of(old, d_model, bias)
    return adopt(trust(TrustedSelfAttention)(d_model, heads, bias=bias), old)


def encoder_layer_like(old: nn.Module) -> nn.Module:
    """Swap factory: PyTorch's encoder layer with the sizes of the student's layer (d and
    dim_feedforward from `linear1.weight`, the heads of its `self_attn`, its `norm_first`;
    no dropout — the classifier's layers have none)."""
    dim_feedforward, d_model = _weight(old, "linear1.weight", "a layer of `layers`").shape
    attention = getattr(old, "self_attn", None)
    if not isinstance(attention, nn.Module):
        raise MissingName("a layer of `layers` has no `self_attn` (the assignment asks for it)")
    heads = _heads_of(attention, d_model, isinstance(getattr(attention, "in_proj_bias", None), torch.Tensor))
    norm_first = getattr(old, "norm_first", True)
    norm_first = norm_first if isinstance(norm_first, bool) else True
    return adopt(trust(TrustedEncoderLayer)(d_model, heads, dim_feedforward, dropout=0.0, norm_first=norm_first), old)


def post_norm_weights_without_dropout(sd: dict, d: int, ff: int) -> dict[str, dict]:
    """Weights under which a post-norm layer's output in train mode is its eval output, for
    nn.TransformerEncoderLayer: a norm's scale 0 makes its output its bias alone, whatever
    dropout did inside the blocks before it (norm1; linear2 0 then adds nothing after it), and
    nn.TransformerEncoderLayer never drops a norm's output."""
    zeros = lambda *shape: torch.zeros(*shape, dtype=torch.float64)  # noqa: E731 — two shapes of zeros
    bias = torch.linspace(-1.0, 1.0, d, dtype=torch.float64) + 0.05  # no entry 0
    return {"norm1": dict(sd, **{"norm1.weight": zeros(d), "norm1.bias": bias, "linear2.weight": zeros(d, ff), "linear2.bias": zeros(d)}),
            "norm2": dict(sd, **{"norm2.weight": zeros(d), "norm2.bias": bias})}


def on_trusted_parts(model: Build, subject: Any = None) -> tuple[Build, dict]:
    """`model` with PyTorch's parts where SPEC keeps the smaller ones (`self_attn` of an
    encoder layer, every layer of a classifier's `layers`), and the `patch=` that lets
    typical code build trusted parts from the start (so an unfinished smaller part does not
    stop the larger one from being graded):

        model, patch = on_trusted_parts(Build("TransformerEncoderLayer", 8, 2, 16), submission)
        submission.run("run", model=model, patch=patch, ...)

    With `subject` (the student's), the patch only where their own smaller part cannot be
    built: where it can, it is built and swapped as any part is, keeping its class and
    attributes (a layer reading `self.self_attn.d_model`).  A classifier's tests patch
    always: the factory would read a layer's heads from its attention, which is the
    layer's to pass on, not the classifier's.
    """
    if model.name == "TransformerEncoderLayer":
        swapped, patch = model.swap("self_attn", SELF_ATTENTION_LIKE), {"MultiHeadSelfAttention": f"{_HERE}:TrustedSelfAttention"}
    elif model.name == "TokenClassifier":
        swapped, patch = model.swap("layers.*", ENCODER_LAYER_LIKE), {"TransformerEncoderLayer": f"{_HERE}:TrustedEncoderLayer"}
    else:
        raise ValueError(f"no trusted parts for {model}")
    if subject is not None:
        try:
            built = subject.run("state_dict", model=swapped, allow_error=True)
        except Exception:  # noqa: BLE001 — a part that hangs or crashes when built: the patch stands in for it
            built = None
        if isinstance(built, dict):  # an error comes back as no dict
            return swapped, {}
    return swapped, patch


# -- probes ----------------------------------------------------------------------------------

@probe
def eval_mode_output(module: Any, *, model: Build, state_dict: dict, args: tuple, dtype: torch.dtype | None = None) -> dict:
    """The built model's output in eval mode, without a graph, the weights loaded as `run`
    loads them (a private buffer of the student's keeps its value) — for dropout, whose
    train-mode output `run` gives."""
    obj = build_model(module, model, state_dict, dtype)
    obj.eval()
    with torch.no_grad():
        return {"output": plain(obj(*args))}


#: The device `causal_mask_on` hands to `causal_mask`: a CPU device by another name ("cpu:0").
#: Grading machines may have no second device, and the "meta" device costs a second of
#: imports in every worker on its first `tril`.
MASK_DEVICE = torch.device("cpu", 0)


def _names_mask_device(value: Any) -> bool:
    if isinstance(value, torch.device):
        return value == MASK_DEVICE
    if isinstance(value, str) and value.startswith("cpu:"):
        try:
            return torch.device(value) == MASK_DEVICE
        except RuntimeError:
            return False
    return False


class _DeviceSeen(TorchFunctionMode):
    """Records the torch calls (tensor factories, `.to`, ...) that receive `MASK_DEVICE`."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if len(self.calls) < 20 and any(_names_mask_device(a) for a in (*args, *kwargs.values())):
            self.calls.append(str(getattr(func, "__name__", "a torch function"))[:60])
        return func(*args, **kwargs)


@probe
def causal_mask_on(module: Any, *, n: int) -> dict:
    """`causal_mask(n, device=MASK_DEVICE)`: the mask, and `device_calls`, the names of the
    torch calls that received that device (the function passes `device` on to the tensors it
    makes, or moves its mask there)."""
    seen = _DeviceSeen()
    with seen:
        mask = resolve(module, "causal_mask")(n, device=MASK_DEVICE)
    return {"mask": plain(mask), "device_calls": seen.calls}


@probe
def train_token_classifier(
    module: Any,
    *,
    model: Build,
    state_dict: dict | None,
    tokens: torch.Tensor,
    labels: torch.Tensor,
    steps: int,
    lr: float,
    batch_size: int = 64,
    seed: int = 0,
) -> dict:
    """The grader's own loop (`adam_on_random_batches`) on per-token cross-entropy.  The
    judge evaluates the returned `state_dict` on a trusted model with held-out tokens that
    never reach the worker."""
    classifier = build_model(module, model, state_dict, None)
    return adam_on_random_batches(classifier, tokens, labels, steps=steps, lr=lr, batch_size=batch_size, seed=seed,
                                  loss=lambda logits, y: F.cross_entropy(logits.flatten(0, 1), y.flatten()))
