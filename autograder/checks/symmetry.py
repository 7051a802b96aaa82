"""Symmetry checks over a sequence (token, time or node) dimension: permutation
equivariance and causality.

Both are generic: any module built by `Build`, any inputs.  The sequence dimension is
`dim` of the first argument and of the output (the output's first item when the module
returns a tuple, e.g. an RNN's `(outputs, last_state)`).  Each check runs the subject
through the `run` probe, so it works on a sandboxed submission and on a `LocalSubject`
alike, and fails with `fail(prop, problem, hint)` — never showing hidden values.

Example (hidden tests of the attention and rnn assignments)::

    permutation_equivariant(submission, model=Build("MultiHeadSelfAttention", 8, 2),
                            args=(x,), prop="permutation equivariance", hint="...")
    causal(submission, model=Build("RNN", 4, 8), args=(x,), positions=(0, 3),
           prop="causality", hint="...")
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

import torch

from autograder.checks.base import expect_tensor, fail, tolerances
from autograder.judge.subject import run_each
from autograder.worker.spec import Build


def _output(result: dict, what: str, prop: str, hint: str) -> tuple[torch.Tensor, dict]:
    """The output tensor of a `run` probe's result (first item of a tuple output), and the result."""
    out = result["output"]
    if isinstance(out, (list, tuple)) and out:
        out = out[0]  # e.g. an RNN's (outputs, last_state)
    return expect_tensor(out, what, prop, hint=hint), result


def _runs(sub: Any, requests: Sequence[dict], patch: dict | None) -> Iterator[dict]:
    """The `run` probe for each of `requests`, pipelined (see `judge.subject.run_each`):
    each answer is checked as it comes, while the worker computes the next."""
    return run_each(sub, "run", requests, patch=patch)


def permute_first(args: Sequence[Any], perm: torch.Tensor, dim: int) -> tuple:
    """The default input permutation: `args[0]` permuted along `dim`, the rest unchanged."""
    return (args[0].index_select(dim, perm), *args[1:])


def permutation_equivariant(
    sub: Any,
    *,
    model: Build,
    args: Sequence[Any],
    prop: str,
    hint: str,
    dim: int = 1,
    kwargs: dict | None = None,
    permute_args: Callable[[Sequence[Any], torch.Tensor, int], tuple] = permute_first,
    state_dict: dict | None = None,
    patch: dict | None = None,
    seed: int = 0,
) -> None:
    """f(P x) = P f(x): permuting the inputs along `dim` permutes the output along `dim` the same way.

    Args:
        sub: the subject (`submission`, `reference` or a `LocalSubject`).
        model: how to build the module; `state_dict` / `patch` as in the `run` probe.
        args: the positional inputs; `args[0]` (any dtype, e.g. float features or long
            token ids) has the permuted dimension `dim` of size n >= 2.
        kwargs: keyword inputs, passed unchanged to both calls.
        permute_args: `(args, perm, dim) -> permuted args`; the default permutes only
            `args[0]`.  Pass your own when other inputs carry the same index (e.g. a
            graph's `edge_index` relabelled by the inverse permutation).
        seed: draws the permutation (never the identity).
    """
    n = args[0].shape[dim]
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    if torch.equal(perm, torch.arange(n)):
        perm = perm.roll(1)
    base = dict(model=model, state_dict=state_dict, kwargs=kwargs, backward=False)
    results = _runs(sub, [dict(args=tuple(args), **base), dict(args=permute_args(args, perm, dim), **base)], patch)
    out, _ = _output(next(results), "the output", prop, hint)
    out_p, _ = _output(next(results), "the output for permuted tokens", prop, hint)
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
    """Output i depends only on inputs 0..i: it neither changes when inputs after i change,
    nor has a gradient with respect to them (d out_i / d x_j = 0 for j > i).

    Args:
        sub: the subject (`submission`, `reference` or a `LocalSubject`).
        model: how to build the module; `state_dict` / `patch` as in the `run` probe.
        args: the positional inputs; `args[0]` is a floating tensor whose dimension `dim`
            is the sequence (its dtype is also the model's, so pass float64 for tight
            tolerances).  The other inputs are passed unchanged.
        kwargs: keyword inputs (e.g. ``{"mask": causal_mask}``), passed unchanged.
        positions: the positions i checked (those without a later input are skipped).
        seed: draws the replacement values of the inputs after i.
    """
    x = args[0]
    n = x.shape[dim]
    base = dict(model=model, state_dict=state_dict, kwargs=kwargs, dtype=x.dtype)
    gen = torch.Generator().manual_seed(seed)
    checked = [i for i in positions if i + 1 < n]
    changed = {}  # position i -> the input with everything after i replaced
    for i in checked:
        changed[i] = x.clone()
        tail = changed[i].narrow(dim, i + 1, n - i - 1)
        tail.copy_(torch.randn(tail.shape, generator=gen, dtype=x.dtype) * 3)
    results = _runs(sub, [dict(args=tuple(args), backward=False, **base)] +
                    [dict(args=(changed[i], *args[1:]), backward=False, **base) for i in checked], patch)
    out, _ = _output(next(results), "the output", prop, hint)
    rtol, atol = tolerances(out.dtype)
    for i in checked:
        out2, _ = _output(next(results), "the output", prop, hint)
        if not torch.allclose(out2.narrow(dim, 0, i + 1), out.narrow(dim, 0, i + 1), rtol=rtol, atol=atol):
            fail(prop, f"output {i} changed when only inputs after position {i} changed", hint)
    cotangents = []
    for i in checked:
        cotangents.append(torch.zeros_like(out))
        cotangents[-1].narrow(dim, i, 1).fill_(1.0)
    gradients = _runs(sub, [dict(args=tuple(args), grad_args=(0,), cotangent=c, **base) for c in cotangents], patch)
    for i, result in zip(checked, gradients):
        grad = _output(result, "the output", prop, hint)[1]["input_grads"][0]
        if grad is None:  # the output does not depend on the input at all: nothing leaks
            continue
        grad = expect_tensor(grad, "the gradient w.r.t. the input", prop, hint=hint)
        leak = float(grad.narrow(dim, i + 1, n - i - 1).abs().max())
        if leak > atol:
            fail(prop, f"output {i} has a non-zero gradient w.r.t. inputs after position {i}", hint)
