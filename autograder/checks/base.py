"""Verdict primitives: validate what came back from a worker, compare it, explain failures
(in words, and in the numbers `show` attaches for a picture: an accuracy against its
threshold, where an output differs)."""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence, TypeVar

import torch

from autograder.checks.figures import accuracy, difference, show
from autograder.errors import StudentCodeError
from autograder.worker.probes.core import describe

Attempt = TypeVar("Attempt")


class CheckFailed(AssertionError):
    """A property does not hold; the message is for the student (property + hint)."""


def fail(prop: str, problem: str, hint: str = "") -> None:
    text = f"{prop}: {problem}"
    if hint:
        text += f"\nHint: {hint}"
    raise CheckFailed(text)


def first_that_passes(check: Callable[[Attempt], Any], *attempts: Attempt) -> Any:
    """`check(attempt)` for each of `attempts` in turn, until one passes (its result is
    returned).  When none does, the FIRST attempt's failure is raised: the one the student
    should read.  For a property that correct code may meet in more than one way, e.g. on
    the grader's trusted parts or else on the student's own (a size check in their own
    Linear; a primitive bound at import time).

    Example: ``first_that_passes(check, Build("MLP", 6, [10], 3).swap(...), Build("MLP", 6, [10], 3))``
    """
    first: Exception | None = None
    for attempt in attempts:
        try:
            return check(attempt)
        except (CheckFailed, StudentCodeError) as failed:
            first = first or failed
    assert first is not None, "first_that_passes needs at least one attempt"
    raise first


def reaches(value: float, threshold: float, what: str, prop: str, hint: str = "") -> None:
    """Fail `prop` when `value` (a held-out accuracy, an AUC) is below `threshold` (the
    feedback then shows the two side by side)."""
    if value < threshold:
        show(accuracy(value, threshold, what))
        fail(prop, f"{what} {value:.2f} is below the required {threshold:.2f}", hint)


def expect_tensor(
    value: Any,
    what: str,
    prop: str,
    *,
    shape: Sequence[int] | None = None,
    dtype: torch.dtype | None = None,
    finite: bool = True,
    bool_ok: bool = False,
    hint: str = "",
) -> torch.Tensor:
    """`value` as a tensor, after checking its exact type, shape, dtype and finiteness.

    With no `dtype` given, a tensor of booleans is refused unless `bool_ok` (a state_dict's
    buffers, say): the judge computes with what comes back, and `abs`, `-` or a norm of a
    bool tensor raise — a grader error the student's forged reply would have caused."""
    if type(value) is not torch.Tensor:
        fail(prop, f"{what} should be a torch.Tensor, got {describe(value)}", hint)
    if shape is not None and tuple(value.shape) != tuple(shape):
        fail(prop, f"{what} has shape {tuple(value.shape)}, expected {tuple(shape)}", hint)
    if dtype is not None and value.dtype != dtype:
        # only a float for a float is the dtype rule's business; a bool mask, a long index
        # or degree's float counts have a dtype of their own
        rule = " (the dtype should follow the input)" if value.is_floating_point() and dtype.is_floating_point else ""
        fail(prop, f"{what} has dtype {value.dtype}, expected {dtype}{rule}", hint)
    if dtype is None and value.dtype == torch.bool and not bool_ok:
        fail(prop, f"{what} has dtype torch.bool, expected numbers", hint)
    if finite and value.is_floating_point() and not bool(torch.isfinite(value).all()):
        fail(prop, f"{what} contains NaN or inf", hint)
    return value


def expect_like(value: Any, like: torch.Tensor, what: str, like_what: str, prop: str, *, hint: str = "") -> torch.Tensor:
    """`value` as a tensor of the shape and dtype of `like` (`like_what`: another output of
    the same subject, already checked), so that the two can be compared element by element.

    Two tensors of a worker's replies are never compared before this: `torch.allclose`
    broadcasts, and shapes such as (1, N, K) and (K, N, 1) would cost the judge K × N × K
    elements."""
    tensor = expect_tensor(value, what, prop, hint=hint)
    if tensor.shape != like.shape:
        fail(prop, f"{what} has shape {tuple(tensor.shape)}, but {like_what} has shape {tuple(like.shape)}: "
                   "inputs of the same shape should give outputs of the same shape", hint)
    if tensor.dtype != like.dtype:
        fail(prop, f"{what} has dtype {tensor.dtype}, but {like_what} has dtype {like.dtype}", hint)
    return tensor


def tolerances(dtype: torch.dtype) -> tuple[float, float]:
    """(rtol, atol) for comparing two correct implementations in `dtype`."""
    return (1e-7, 1e-9) if dtype == torch.float64 else (1e-4, 1e-5)


def expect_close(actual: Any, expected: torch.Tensor, what: str, prop: str, *, hint: str = "") -> None:
    """`actual` equals `expected` (same shape and dtype, within the dtype's tolerance); when
    not, the feedback shows where they differ (how far off per entry, never `expected`)."""
    tensor = expect_tensor(actual, what, prop, shape=expected.shape, dtype=expected.dtype, hint=hint)
    rtol, atol = tolerances(expected.dtype)
    if not torch.allclose(tensor, expected, rtol=rtol, atol=atol):
        show(lambda: difference(tensor, expected, what, atol))
        exact = tensor.is_floating_point() or tensor.is_complex()  # bool tensors cannot be subtracted, uint8 would wrap
        worst = float(((tensor - expected) if exact else (tensor.double() - expected.double())).abs().max())
        fail(prop, f"{what} differs from the expected result (largest difference {worst:.2g}){_float32_note(tensor, expected)}", hint)
    if rounded_to_float32(tensor, expected):
        fail(prop, f"{what} holds float32 numbers only, where the expected float64 result does not: float64 in means float64 out, "
                   "at float64 precision — does a step compute in float32 (a .float(), a tensor made with the default dtype)?", hint)


def rounded_to_float32(tensor: torch.Tensor, expected: torch.Tensor) -> bool:
    """A float64 `tensor` every entry of which is a float32 number, where at least four
    entries of the float64 `expected` are not: it went through float32.  One rounding to
    float32 at the end (relative error ≤ 6e-8) passes float64's tolerance (1e-7); a correct
    float64 result is a float32 number by chance with odds of 2⁻²⁹ an entry.

    Example:
        >>> x = torch.randn(8, dtype=torch.float64)
        >>> rounded_to_float32(x.float().double(), x), rounded_to_float32(x, x)
        (True, False)
    """
    if tensor.dtype != torch.float64 or expected.dtype != torch.float64 or tensor.shape != expected.shape:
        return False
    def single(t: torch.Tensor) -> torch.Tensor:
        return t == t.float().double()
    return bool(single(tensor).all()) and int((~single(expected)).sum()) >= 4


def _float32_note(tensor: torch.Tensor, expected: torch.Tensor) -> str:
    """A float64 result off by float32 round-off only: some step ran in float32."""
    if expected.dtype == torch.float64 and torch.allclose(tensor, expected, *tolerances(torch.float32)):
        return (" — small, the size of float32's round-off: does a step compute in float32 (a tensor made with the default "
                "dtype, a .float())? float64 in means float64 all the way. If every step is float64, look for a small difference in the "
                "recipe: a constant (an eps), or a loss summed where its mean belongs (Adam's steps barely show a loss's scale)")
    return ""


def output_tensor(result: dict, what: str, prop: str, **kwargs: Any) -> torch.Tensor:
    """The single-tensor output of a `run` probe result, validated."""
    return expect_tensor(result["output"], what, prop, **kwargs)


def leading_output(result: dict, what: str, prop: str, **kwargs: Any) -> torch.Tensor:
    """The output tensor of a `run` probe result, validated: the first item when the module
    returns a tuple or list (e.g. an RNN's `(outputs, last_state)`), else the output itself.

    `output_tensor` stays the check for modules that must return exactly one tensor.
    """
    out = result["output"]
    if isinstance(out, (list, tuple)) and out:
        out = out[0]
    return expect_tensor(out, what, prop, **kwargs)


def is_nan_free(values: Sequence[float]) -> bool:
    return all(isinstance(v, float) and math.isfinite(v) for v in values)


def drawn_apart(vector: torch.Tensor, matrix: torch.Tensor, limit: float = 0.5) -> bool:
    """Whether `vector` `(n,)` was drawn apart from every column of `matrix` `(n, m)`: its
    correlation with each stays below `limit` (for independent draws of 300 values it stays
    below 0.2; a bias copied or scaled from a weight column has 1).  False for a constant.

    Example:
        >>> w = torch.rand(300, 400, dtype=torch.float64)
        >>> drawn_apart(torch.rand(300, dtype=torch.float64), w), drawn_apart(w[:, 7] * 0.5, w)
        (True, False)
    """
    v, m = vector.double() - vector.double().mean(), matrix.double() - matrix.double().mean(0)
    correlation = (v @ m) / (v.norm() * m.norm(dim=0))
    return bool(correlation.abs().max() < limit)  # NaN (a constant) is not below
