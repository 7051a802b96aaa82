"""Generic checks on modules and functions: shapes, parameter layout, equality with a
reference (outputs and gradients), gradient flow, documented errors."""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Sequence

import torch

from autograder.checks import verdicts
from autograder.checks.base import (
    CheckFailed,
    describe,
    expect_close,
    expect_tensor,
    fail,
    leading_output,
    tolerances,
)
from autograder.checks.figures import difference, number_differences, show
from autograder.errors import StudentCodeError, SubmissionFailure
from autograder.judge.subject import Raised, run_each
from autograder.worker.probes.core import NONTENSOR, NUMBERS, tensor_argument, tensors_in
from autograder.worker.spec import Build


def _cast(args: Sequence[Any], dtype: torch.dtype | None) -> tuple:
    """Floating tensors in `args` (also inside tuples, e.g. an LSTM state) cast to `dtype`."""
    def cast(a: Any) -> Any:
        if isinstance(a, torch.Tensor) and a.is_floating_point():
            return a.to(dtype)
        if isinstance(a, tuple):
            return tuple(cast(b) for b in a)
        return a

    return tuple(args) if dtype is None else tuple(cast(a) for a in args)


def _shapes(args: Sequence[Any]) -> str:
    return ", ".join(str(tuple(a.shape)) for a in args if isinstance(a, torch.Tensor)) or "no tensors"


def reference_state_dict(ref: Any, model: Build, dtype: torch.dtype | None = None, seed: int = 0, patch: dict | None = None) -> dict:
    """The reference model's freshly initialised (seeded) `state_dict`, to load everywhere."""
    return ref.run("state_dict", model=model, dtype=dtype, seed=seed, patch=patch)["state_dict"]


def compare_nested(actual: Any, expected: Any, what: str, prop: str, hint: str) -> None:
    """Compare a (nested) output structure: tensors within tolerance, same structure.

    When an item differs, the feedback also shows where the items after it differ (e.g. the
    attention weights after the attention output), or, for a list of numbers (the losses per
    epoch), the difference of every entry."""
    if isinstance(expected, torch.Tensor):
        expect_close(actual, expected, what, prop, hint=hint)
    elif isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)) or len(actual) != len(expected):
            fail(prop, f"{what} should be a tuple of {len(expected)} items, got {describe(actual)}", hint)
        for i, (a, e) in enumerate(zip(actual, expected)):
            try:
                compare_nested(a, e, f"item {i} of {what}", prop, hint)
            except CheckFailed:
                _show_other_differences(actual, expected, i, what)
                raise
    elif expected is None:
        if actual is not None:
            fail(prop, f"{what} should be None, got {describe(actual)}", hint)
    elif isinstance(expected, float):
        if not isinstance(actual, (float, int)) or isinstance(actual, bool):
            fail(prop, f"{what} should be a Python float, got {describe(actual)}", hint)
        if not within(actual, expected, 1e-6 * max(1.0, abs(expected))):
            fail(prop, f"{what} {_how_far(actual, expected)}", hint)
    elif (marker := next((v for v in (actual, expected) if isinstance(v, dict) and NONTENSOR in v), None)) is not None:
        # a worker's marker of a value that is not plain: two numpy values (two runs' losses) compare by their numbers,
        # as Python floats do; any other marker holds no value, and two of them prove no two runs alike
        numbers = [v.get(NUMBERS) if isinstance(v, dict) and NONTENSOR in v else None for v in (actual, expected)]
        if not all(isinstance(n, torch.Tensor) and n.dtype == torch.float64 and n.numel() <= 10_000 for n in numbers) \
                or not plain_equal(actual[NONTENSOR], expected[NONTENSOR]):
            fail(prop, f"{what} should be plain values (numbers, tensors), got {describe(marker)}", hint)
        compare_nested(*(n.tolist() for n in numbers), what, prop, hint)
    elif isinstance(expected, dict):
        if not isinstance(actual, dict) or actual.keys() != expected.keys():
            fail(prop, f"{what} should be a dict with the keys {sorted(map(str, expected))[:8]}, got {describe(actual)}", hint)
        for key in expected:
            compare_nested(actual[key], expected[key], f"{what}[{key!r}]", prop, hint)
    elif type(actual) is not type(expected) or not plain_equal(actual, expected):
        fail(prop, f"{what} differs from the expected value", hint)


def plain_equal(actual: Any, expected: Any) -> bool:
    """`actual == expected`, False where `==` gives no answer: a tensor's, or a container's
    holding tensors, is a tensor, whose truth value raises — a reply's values compared
    with plain ones (node labels, losses) never make a grader error.

    Example:
        >>> plain_equal([0, 1], [0, 1]), plain_equal([torch.ones(2), 1], [0, 1])
        (True, False)
    """
    try:
        return (actual == expected) is True
    except Exception:  # the student's values, however odd, never make a grader error
        return False


def within(actual: float, expected: float, tol: float) -> bool:
    """Whether the number `actual` is at most `tol` away from `expected`.

    A NaN or an infinity is within only of the same non-finite value (NaN of NaN, inf of an
    inf of the same sign): written as `abs(actual - expected) > tol`, a check would let NaN
    through, since every comparison with NaN is False."""
    actual, expected = _number(actual), _number(expected)
    if math.isfinite(actual) and math.isfinite(expected):
        return abs(actual - expected) <= tol
    return actual == expected or (math.isnan(actual) and math.isnan(expected))


def _number(value: float) -> float:
    """`value` as a float; an int too large for one counts as an infinity of its sign."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _how_far(actual: float, expected: float) -> str:
    """How a number that is not `within` reach of `expected` differs from it, in words."""
    actual, expected = _number(actual), _number(expected)
    if not math.isfinite(actual):
        return f"is {actual} where a finite number was expected (a NaN or inf means the computation blew up or divided by zero)"
    if not math.isfinite(expected):
        return "is a finite number where the computation should not give one"
    return f"differs from the expected value (by {abs(actual - expected):.2g})"


def is_private(name: str) -> bool:
    """Whether a `state_dict` entry is private: its own name (after the last dot) starts with "_"."""
    return name.rpartition(".")[2].startswith("_")


def without_private_buffers(state: dict, parameters: Iterable[str]) -> dict:
    """`state` (a module's `state_dict`) without its private buffers: the entries with a
    private name that are not among `parameters` (the module's parameter names).

    SPEC fixes the names of the parameters (and so of what a built-in's `state_dict` holds);
    a constant that the student keeps as a buffer of their own, named with a leading "_"
    (e.g. `_zero`), is their business and must not cost a layout check."""
    params = set(parameters)
    return {name: value for name, value in state.items() if name in params or not is_private(name)}


def _show_other_differences(actual: Sequence[Any], expected: Sequence[Any], failed: int, what: str) -> None:
    """Attach where the items after the `failed` one differ too (built only if the test fails)."""
    if all(isinstance(e, float) for e in expected):
        show(lambda: number_differences(actual, expected, what))
        return
    for j in range(failed + 1, len(expected)):
        a, e = actual[j], expected[j]
        if isinstance(e, torch.Tensor) and type(a) is torch.Tensor and a.shape == e.shape and a.dtype == e.dtype:
            show(lambda a=a, e=e, j=j: None if torch.allclose(a, e, *tolerances(e.dtype))
                 else difference(a, e, f"item {j} of {what}", tolerances(e.dtype)[1]))


def _size(args: Sequence[Any]) -> int:
    """How many values the tensors among `args` hold."""
    return sum(a.numel() for a in args if isinstance(a, torch.Tensor))


def matches_reference(
    sub: Any,
    ref: Any,
    *,
    model: Build | None,
    inputs: Sequence[Sequence[Any]],
    prop: str,
    hint: str,
    call: str = "model",
    kwargs: dict | None = None,
    dtypes: Sequence[torch.dtype | None] = (torch.float64, torch.float32),
    grad_args: Sequence[int] = (0,),
    gradients: bool = True,
    state_dict_seed: int = 0,
    patch: dict | None = None,
    calls_before: int = 0,
) -> None:
    """Same outputs (and gradients w.r.t. inputs and parameters) as the reference.

    For every dtype and every argument tuple in `inputs`, both implementations get the
    same weights (the reference's seeded `state_dict`) and the same inputs; outputs,
    input gradients and parameter gradients must agree within the dtype's tolerance.
    The largest input (the first of the largest) is also run in each dtype as a trained
    model predicts — in eval mode under `torch.no_grad()` — and must give the reference's
    output there too.  With `calls_before`, every answer graded is the model's call after
    that many calls on the same input (with `state=None`, an RNN starts from zeros on
    every call: it keeps nothing from one call to the next).
    """
    cases = []  # (dtype, args, request): every input in every dtype, all known before the first runs
    for dtype in dtypes:
        sd = reference_state_dict(ref, model, dtype, state_dict_seed, patch) if model is not None else None
        for args in inputs:
            args = _cast(args, dtype)
            cases.append((dtype, args, dict(model=model, state_dict=sd, dtype=dtype, call=call, args=args, kwargs=kwargs,
                                            grad_args=grad_args if gradients else (), backward=gradients, calls_before=calls_before,
                                            args_after=True)))
        if inputs:
            largest = _cast(max(inputs, key=_size), dtype)
            cases.append((dtype, largest, dict(model=model, state_dict=sd, dtype=dtype, call=call, args=largest, kwargs=kwargs,
                                               grad_args=(), backward=False, inference=True, calls_before=calls_before)))
    actuals = run_each(sub, "run", [request for _, _, request in cases], patch=patch)
    for (dtype, args, request), actual in zip(cases, actuals):
        expected = ref.run("run", patch=patch, **request)
        where = (f"at call {calls_before + 1} of one model on the same input, " if calls_before else "") + \
            f"for input of shape {_shapes(args)}" + (f" in {dtype}" if dtype else "")
        if request.get("inference"):
            where += ", in eval mode under torch.no_grad()"
        compare_nested(actual["output"], expected["output"], f"the output {where}", prop, hint)
        if request.get("args_after"):
            _expect_left_as_given(actual.get("args_after"), args, where, prop, hint)
        if not request["backward"]:
            continue
        if len(actual["input_grads"]) != len(expected["input_grads"]):
            fail(prop, f"{len(actual['input_grads'])} input gradients came back {where}, expected "
                       f"{len(expected['input_grads'])} (one per input asked for)", hint)
        for i, (a, e) in enumerate(zip(actual["input_grads"], expected["input_grads"])):
            compare_nested(a, e, f"the gradient w.r.t. input {grad_args[i]} {where}", prop, hint)
        for name, e in expected["param_grads"].items():
            a = actual["param_grads"].get(name)
            if e is None:
                continue
            if a is None:
                fail(prop, f"parameter `{name}` received no gradient {where}", hint)
            expect_close(a, e, f"the gradient of `{name}` {where}", prop, hint=hint)


def _expect_left_as_given(after: Any, given: Sequence[Any], where: str, prop: str, hint: str) -> None:
    """Every tensor the judge gave a call (`given`) came back (`after`) as it was given: a
    module that changes its input in place (`mask.unsqueeze_(1)`) computes the right output
    and leaves the caller a different mask."""
    if not isinstance(after, list) or len(after) != len(given):
        fail(prop, f"the inputs as the call left them did not come back {where}", hint)
    for i, (sent, left) in enumerate(zip(given, after)):
        if not tensor_argument(sent):
            continue
        sent_tensors, left_tensors = list(tensors_in(sent)), list(tensors_in(left))
        if len(left_tensors) != len(sent_tensors):
            fail(prop, f"input {i} as the call left it did not come back {where}", hint)
        for sent_t, left_t in zip(sent_tensors, left_tensors):
            if not (type(left_t) is torch.Tensor and left_t.shape == sent_t.shape and left_t.dtype == sent_t.dtype
                    and _same_values(left_t, sent_t.detach())):
                now = f"shape {tuple(left_t.shape)}" if left_t.shape != sent_t.shape else "other values"
                fail(prop, f"the call changed its input {i} {where} (now {now}): a module leaves what it is given as it was — "
                           "x.unsqueeze(1), not x.unsqueeze_(1); no in-place change of an argument", hint)


def _same_values(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal values, NaN where NaN."""
    if a.is_floating_point():
        return torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(), b.nan_to_num())
    return torch.equal(a, b)


def composed_of_its_own_parts(sub: Any, ref: Any, *, model: Build, inputs: Sequence[Sequence[Any]], parts: Sequence[dict],
                              prop: str, hint: str, grad_args: Sequence[int] = (0,)) -> None:
    """`model` built from the student's own parts — its trusted swaps taken out, no trusted
    globals patched in — computes the reference's outputs and gradients (float64), wherever
    those parts are right: each of `parts` (keyword arguments of `matches_reference`, e.g.
    `dict(model=Build("Linear", 3, 16), inputs=[(x,)])`, with `tests`: the names of the
    tests that grade that part) is right when its tests passed (`verdicts`), wrong when
    one failed — its own test's to cost: this check then passes — and checked against the
    reference here when they have not run (one that differs, raises or hangs is wrong).
    `grad_args` as in `matches_reference` (() for token ids).  A composite that builds
    other parts than asked (an RNN ignoring its `cell` argument) fails here too: on its
    own parts it computes something else.

    The other tests run a composite on the grader's trusted parts, so that a wrong part
    does not cost the composite's points too; a composite can tell those parts by their
    class, and one that is right only on them earned nothing.

    Example: ``composed_of_its_own_parts(sub, ref, model=mlp(3, [16], 4), inputs=[(x,)],
    parts=[dict(model=Build("Linear", 3, 16), inputs=[(x,)])], prop=..., hint=...)``
    """
    for part in parts:
        graded = verdicts.all_passed(part.get("tests", ()))
        if graded is False:  # its own test costs it
            return
        if graded is None:
            try:
                matches_reference(sub, ref, prop=prop, hint=hint, dtypes=(torch.float64,),
                                  **{k: v for k, v in part.items() if k != "tests"})
            except (CheckFailed, StudentCodeError, SubmissionFailure):  # a part that fails, raises or hangs: its own test's
                return
    own = Build(model.name, *model.args, **model.kwargs)
    matches_reference(sub, ref, model=own, inputs=inputs, dtypes=(torch.float64,), grad_args=grad_args, prop=prop,
                      hint=f"{hint} (here on your own parts, which are right on their own: {own} must compute with them "
                           "what it computes with PyTorch's)")


def parameters_like(sub: Any, model: Build, expected: dict[str, Sequence[int]], *, prop: str, hint: str, patch: dict | None = None) -> None:
    """The module's parameter names and shapes equal `expected` (a built-in's layout)."""
    shapes = sub.run("state_dict", model=model, patch=patch)["param_shapes"]
    got = {n: tuple(s) for n, s in shapes.items()}
    want = {n: tuple(s) for n, s in expected.items()}
    if got != want:
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        wrong = sorted(n for n in set(got) & set(want) if got[n] != want[n])
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"unexpected {_some_names(extra)}")
        if wrong:
            parts.append("wrong shape for " + ", ".join(f"`{n}` {got[n]} (expected {want[n]})" for n in wrong))
        fail(prop, f"{model}: parameters differ from the PyTorch layout: " + "; ".join(parts), hint)


def _some_names(names: list[str], most: int = 5, chars: int = 40) -> str:
    """A few of `names` (the student's code chose them), each cut short, and how many more.

    Example:
        >>> _some_names(["w1", "w2"])
        "['w1', 'w2']"
    """
    shown = [n if len(n) <= chars else n[: chars - 1] + "…" for n in names[:most]]
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return f"{shown}{more}"


def depends_on_weights(
    sub: Any, *, model: Build, args: Sequence[Any], prop: str, hint: str, state_dict: dict | None = None,
    dtype: torch.dtype | None = torch.float64, patch: dict | None = None, seed: int = 0,
) -> None:
    """The output of `model` on `args` changes when its weights change.  A rule that a module
    meets with weights it never reads (a fixed matrix, a constant, no parameters at all)
    shows nothing of the layer that is to learn them: sizes, symmetries and locality hold
    for it whatever it computes.

    Runs `model` with `state_dict` (None: the subject's own freshly built weights, read with
    the `state_dict` probe) and again with every floating tensor moved by N(0, 0.5²), drawn
    here from `seed` (anything else, e.g. a module's extra state, goes back as it came); the
    two outputs (first items, for a tuple) must differ.

    Example: ``depends_on_weights(submission, model=Build("GCNLayer", 3, 4), args=(x, edge_index), prop=..., hint=...)``
    """
    if state_dict is None:
        state_dict = sub.run("state_dict", model=model, dtype=dtype, patch=patch).get("state_dict")
        if not isinstance(state_dict, dict):
            fail(prop, f"{model}: its state_dict() is not a dict of tensors", hint)
    generator = torch.Generator().manual_seed(seed)
    moved = {name: value + 0.5 * torch.randn(value.shape, generator=generator, dtype=value.dtype)
             if isinstance(value, torch.Tensor) and value.is_floating_point() else value for name, value in state_dict.items()}
    requests = [dict(model=model, state_dict=sd, dtype=dtype, args=tuple(args), backward=False) for sd in (state_dict, moved)]
    before, after = (leading_output(result, f"the output of {model}", prop, finite=False, hint=hint)
                     for result in run_each(sub, "run", requests, patch=patch))
    if before.shape == after.shape and torch.equal(before, after):
        fail(prop, f"{model}: the output did not change when every weight changed — a layer must compute with its own "
                   "parameters; a rule met without them shows nothing of what the layer learns", hint)


def shape_preserved(
    sub: Any,
    *,
    model: Build | None,
    make_args: Callable[[int], Sequence[Any]],
    expected_shape: Callable[[int], Sequence[int]],
    sizes: Sequence[int],
    prop: str,
    hint: str,
    call: str = "model",
    state_dict: dict | None = None,
    patch: dict | None = None,
) -> None:
    """For every size n, the output of `make_args(n)` (its first item, for a tuple) has shape `expected_shape(n)`."""
    for n in sizes:
        args = tuple(make_args(n))
        result = sub.run("run", model=model, state_dict=state_dict, call=call, args=args, backward=False, patch=patch)
        leading_output(result, f"the output for input of shape {_shapes(args)}", prop, shape=expected_shape(n), hint=hint)


def every_parameter_gets_gradient(
    sub: Any, *, model: Build, args: Sequence[Any], prop: str, hint: str,
    state_dict: dict | None = None, patch: dict | None = None,
) -> None:
    """After one backward pass, every parameter has a non-zero, finite gradient."""
    result = sub.run("run", model=model, state_dict=state_dict, args=tuple(args), patch=patch)
    if not result["param_grads"]:
        fail(prop, f"{model} has no parameters registered", hint)
    for name, grad in result["param_grads"].items():
        if grad is None:
            fail(prop, f"parameter `{name}` received no gradient", hint)
        grad = expect_tensor(grad, f"the gradient of `{name}`", prop, bool_ok=True, hint=hint)  # refused below, as any non-float
        if not grad.is_floating_point():
            fail(prop, f"the gradient of parameter `{name}` has dtype {grad.dtype}: a gradient is a floating-point tensor", hint)
        if not bool(grad.abs().sum() > 0):
            fail(prop, f"the gradient of parameter `{name}` is all zeros", hint)


def raises(
    sub: Any,
    *,
    error: str,
    prop: str,
    hint: str,
    model: Build | None = None,
    call: str = "model",
    args: Sequence[Any] = (),
    state_dict: dict | None = None,
    patch: dict | None = None,
) -> None:
    """Calling with `args` raises `error` (by name, subclasses included)."""
    result = sub.run("run", model=model, state_dict=state_dict, call=call, args=tuple(args), backward=False, allow_error=True, patch=patch)
    if not isinstance(result, Raised):
        raise CheckFailed(f"{prop}: input of shape {_shapes(args)} should raise {error}, but no error was raised\nHint: {hint}")
    if not result.is_a(error):
        fail(prop, f"input of shape {_shapes(args)} should raise {error}, but {result.types[0]} was raised", hint)
