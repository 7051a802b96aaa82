"""Symmetry checks over a sequence (token, time or node) dimension: permutation
equivariance and causality.

Both are generic: any module built by `Build`, any inputs.  The sequence dimension is
`dim` of the first argument and of the output (the output's first item when the module
returns a tuple, e.g. an RNN's `(outputs, last_state)`); the output keeps the input's
dimensions up to and including `dim` (batch dimensions, then one output per position).
Each check runs the subject through the `run` probe, so it works on a sandboxed
submission and on a `LocalSubject` alike, and fails with `fail(prop, problem, hint)` —
never showing hidden values.  The shapes of what comes back are checked before anything
is indexed or compared: a reply's shapes are the student's to choose.

Example (hidden tests of the attention and rnn assignments)::

    permutation_equivariant(submission, model=Build("MultiHeadSelfAttention", 8, 2),
                            args=(x,), prop="permutation equivariance", hint="...")
    causal(submission, model=Build("RNN", 4, 8), args=(x,), positions=(0, 3),
           prop="causality", hint="...")
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

import torch

from autograder.checks.base import expect_like, expect_tensor, fail, leading_output, tolerances
from autograder.judge.subject import run_each
from autograder.worker.spec import Build


def _shape_text(shape: Sequence[int], more: bool = False) -> str:
    """`shape` as a student reads it: "(2, 6, 8)", or "(2, 6, …)" when more dimensions may follow."""
    return "(" + ", ".join([*map(str, shape), "…"]) + ")" if more else str(tuple(shape))


def _per_position(out: torch.Tensor, x: torch.Tensor, dim: int, what: str, prop: str, hint: str) -> torch.Tensor:
    """`out`, checked to keep the dimensions of the input `x` up to and including the
    sequence dimension `dim`: one output per position (so that it can be permuted or cut
    along `dim` like the input)."""
    lead = tuple(x.shape[: dim + 1])
    if tuple(out.shape[: dim + 1]) != lead:
        fail(prop, f"{what} has shape {_shape_text(out.shape)}, expected {_shape_text(lead, more=True)}: "
                   f"the first {dim + 1} dimension(s) of the input {_shape_text(x.shape)}, one output per position "
                   f"along dimension {dim}", hint)
    return out


def _runs(sub: Any, requests: Sequence[dict], patch: dict | None) -> Iterator[dict]:
    """The `run` probe for each of `requests`, pipelined (see `judge.subject.run_each`):
    each answer is checked as it comes, while the worker computes the next."""
    return run_each(sub, "run", requests, patch=patch)


def permute_first(args: Sequence[Any], perm: torch.Tensor, dim: int) -> tuple:
    """The default input permutation: `args[0]` permuted along `dim`, the rest unchanged."""
    return (args[0].index_select(dim, perm), *args[1:])


def changed_input(x: torch.Tensor) -> torch.Tensor | None:
    """`x` with every entry changed, for checking that an output depends on its input:
    floats + 1; integers (token ids) moved to the next id seen, cyclically, so that they stay
    ids the module knows; None when there is nothing to change to (one id only)."""
    if x.is_floating_point():
        return x + 1
    top = int(x.max()) if x.numel() else 0
    return (x + 1) % (top + 1) if top > 0 else None


def nontrivial(out: torch.Tensor, x: torch.Tensor, out_changed: torch.Tensor | None, prop: str, hint: str) -> None:
    """A symmetry proves something only of a module that computes: `out` (for input `x`)
    must not be `x` itself, and must differ from `out_changed`, the output for changed
    inputs (None: not checked).  A constant and the identity are
    equivariant and causal without computing anything."""
    if out.shape == x.shape and out.dtype == x.dtype and torch.equal(out, x):
        fail(prop, "the output is the input itself: the module computes nothing, which no symmetry can show", hint)
    if out_changed is not None and out_changed.shape == out.shape and torch.equal(out_changed, out):
        fail(prop, "the output did not change when its inputs changed: a module that ignores its input has every "
                   "symmetry and shows none", hint)


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
    inference: bool = False,
) -> None:
    """f(P x) = P f(x): permuting the inputs along `dim` permutes the output along `dim` the same way.

    The output must keep `args[0]`'s dimensions up to `dim`, and the output for the permuted
    input the first output's shape and dtype; otherwise `prop` fails, naming the shapes.
    It must also show that the module computes (`nontrivial`): not the input itself, and
    another output for `changed_input(args[0])`.

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
        inference: run the module in eval mode under `torch.no_grad()`, as a trained model
            predicts (a model with dropout is equivariant only there).
    """
    n = args[0].shape[dim]
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    if torch.equal(perm, torch.arange(n)):
        perm = perm.roll(1)
    base = dict(model=model, state_dict=state_dict, kwargs=kwargs, backward=False, inference=inference)
    changed = changed_input(args[0])
    requests = [dict(args=tuple(args), **base), dict(args=permute_args(args, perm, dim), **base)]
    if changed is not None:
        requests.append(dict(args=(changed, *args[1:]), **base))
    results = _runs(sub, requests, patch)
    out = _per_position(leading_output(next(results), "the output", prop, hint=hint), args[0], dim, "the output", prop, hint)
    out_p = expect_like(leading_output(next(results), "the output for permuted tokens", prop, hint=hint), out,
                        "the output for permuted tokens", "the output for the tokens in order", prop, hint=hint)
    expected = out.index_select(dim, perm)
    rtol, atol = tolerances(out.dtype)
    if not torch.allclose(out_p, expected, rtol=rtol * 100, atol=atol * 100):
        fail(prop, "permuting the input tokens did not permute the outputs the same way", hint)
    out_c = leading_output(next(results), "the output for changed inputs", prop, hint=hint) if changed is not None else None
    nontrivial(out, args[0], out_c, prop, hint)


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

    The output must keep `args[0]`'s dimensions up to `dim`, every other output the first
    one's shape and dtype, and the input's gradient the input's; otherwise `prop` fails,
    naming the shapes.  It must also show that the module computes (`nontrivial`): not the
    input itself, and some output after i changed with the inputs after i.

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
    out = _per_position(leading_output(next(results), "the output", prop, hint=hint), x, dim, "the output", prop, hint)
    rtol, atol = tolerances(out.dtype)
    later_changed = False  # whether any output after i followed its changed inputs
    for i in checked:
        what = f"the output with the inputs after position {i} changed"
        out2 = expect_like(leading_output(next(results), what, prop, hint=hint), out, what, "the output for the original input",
                           prop, hint=hint)
        if not torch.allclose(out2.narrow(dim, 0, i + 1), out.narrow(dim, 0, i + 1), rtol=rtol, atol=atol):
            fail(prop, f"output {i} changed when only inputs after position {i} changed", hint)
        later_changed = later_changed or not torch.equal(out2.narrow(dim, i + 1, n - i - 1), out.narrow(dim, i + 1, n - i - 1))
    nontrivial(out, x, out if checked and not later_changed else None, prop, hint)
    cotangents = []
    for i in checked:
        cotangents.append(torch.zeros_like(out))
        cotangents[-1].narrow(dim, i, 1).fill_(1.0)
    gradients = _runs(sub, [dict(args=tuple(args), grad_args=(0,), cotangent=c, **base) for c in cotangents], patch)
    for i, result in zip(checked, gradients):
        leading_output(result, "the output", prop, hint=hint)
        if len(result["input_grads"]) != 1:
            fail(prop, f"{len(result['input_grads'])} input gradients came back, expected 1 (the input's)", hint)
        grad = result["input_grads"][0]
        if grad is None and not later_changed:  # the output does not depend on the input at all: nothing leaks
            continue
        if grad is None:  # the outputs above followed the inputs: a graph joins them (or the reply is not the run's)
            fail(prop, f"no gradient w.r.t. the input came back for output {i}, though the outputs follow the input", hint)
        grad = expect_tensor(grad, "the gradient w.r.t. the input", prop, shape=x.shape, dtype=x.dtype, hint=hint)
        leak = float(grad.narrow(dim, i + 1, n - i - 1).abs().max())
        if leak > atol:
            fail(prop, f"output {i} has a non-zero gradient w.r.t. inputs after position {i}", hint)
