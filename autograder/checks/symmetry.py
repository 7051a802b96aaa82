"""Symmetry checks over a sequence (token or time) dimension: permutation equivariance
and causality.  Generic: any module, any inputs; the permuted / perturbed dimension is
`dim` of the first argument (and of the output)."""

from __future__ import annotations

from typing import Any, Sequence

import torch

from autograder.checks.base import expect_tensor, fail, tolerances
from autograder.probes.spec import Build


def _output(sub: Any, what: str, prop: str, hint: str, **request: Any) -> torch.Tensor:
    result = sub.run("run", **request)
    out = result["output"]
    if isinstance(out, (list, tuple)) and out:
        out = out[0]  # e.g. an RNN's (outputs, last_state)
    return expect_tensor(out, what, prop, hint=hint), result


def permutation_equivariant(
    sub: Any,
    *,
    model: Build,
    args: Sequence[Any],
    prop: str,
    hint: str,
    dim: int = 1,
    state_dict: dict | None = None,
    patch: dict | None = None,
    seed: int = 0,
) -> None:
    """Permuting `args[0]` along `dim` permutes the output along `dim` the same way."""
    x = args[0]
    perm = torch.randperm(x.shape[dim], generator=torch.Generator().manual_seed(seed))
    base = dict(model=model, state_dict=state_dict, patch=patch, backward=False)
    out, _ = _output(sub, "the output", prop, hint, args=tuple(args), **base)
    permuted_args = (x.index_select(dim, perm), *args[1:])
    out_p, _ = _output(sub, "the output for permuted tokens", prop, hint, args=permuted_args, **base)
    expected = out.index_select(dim, perm)
    if out_p.shape != expected.shape:
        fail(prop, f"the output for permuted tokens has shape {tuple(out_p.shape)}, expected {tuple(expected.shape)}", hint)
    rtol, atol = tolerances(out.dtype)
    if not torch.allclose(out_p, expected, rtol=rtol * 100, atol=atol * 100):
        fail(prop, "permuting the input tokens did not permute the outputs the same way", hint)


def causal(
    sub: Any,
    *,
    model: Build,
    args: Sequence[Any],
    prop: str,
    hint: str,
    kwargs: dict | None = None,
    dim: int = 1,
    positions: Sequence[int] = (0, 2),
    state_dict: dict | None = None,
    patch: dict | None = None,
    seed: int = 0,
) -> None:
    """Output i neither changes when inputs after i change, nor has a gradient w.r.t. them.

    `args[0]` is a floating tensor whose `dim` is the sequence dimension.
    """
    x = args[0]
    n = x.shape[dim]
    base = dict(model=model, state_dict=state_dict, patch=patch, kwargs=kwargs, dtype=x.dtype)
    out, _ = _output(sub, "the output", prop, hint, args=tuple(args), backward=False, **base)
    gen = torch.Generator().manual_seed(seed)
    rtol, atol = tolerances(out.dtype)
    for i in positions:
        if i + 1 >= n:
            continue
        changed = x.clone()
        tail = changed.narrow(dim, i + 1, n - i - 1)
        tail.copy_(torch.randn(tail.shape, generator=gen, dtype=x.dtype) * 3)
        out2, _ = _output(sub, "the output", prop, hint, args=(changed, *args[1:]), backward=False, **base)
        if not torch.allclose(out2.narrow(dim, 0, i + 1), out.narrow(dim, 0, i + 1), rtol=rtol, atol=atol):
            fail(prop, f"output {i} changed when only inputs after position {i} changed", hint)
        cotangent = torch.zeros_like(out)
        cotangent.narrow(dim, i, 1).fill_(1.0)
        _, result = _output(sub, "the output", prop, hint, args=tuple(args), grad_args=(0,), cotangent=cotangent, **base)
        grad = expect_tensor(result["input_grads"][0], "the gradient w.r.t. the input", prop, hint=hint)
        leak = float(grad.narrow(dim, i + 1, n - i - 1).abs().max())
        if leak > atol:
            fail(prop, f"output {i} has a non-zero gradient w.r.t. inputs after position {i}", hint)
