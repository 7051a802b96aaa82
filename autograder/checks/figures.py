"""Pictures that explain a failure: the numbers a check attaches to the test running now.

A check (or a hidden test) calls `show(figure)` with values the judge already holds — the
student's training curve, their accuracy against the threshold, where an output differs
from the expected one, gradient norms per step — and the plugin stores them in that
test's `TestResult.figures` when the test does not pass (a passing test keeps none).
The feedback page draws them (`autograder.report.figures`).

Never attach a hidden input or an expected tensor: only the student's own outputs,
differences, thresholds and summaries.  `Figure` bounds the size (a few hundred numbers).

In a hidden test::

    checks.show_gradient_norms(norms, "rnn")                  # one curve per call, one plot
    checks.show_accuracy(acc, 0.9, "held-out accuracy")        # `checks.reaches` does this itself
    checks.show_heatmap("your attention weights (batch 0)", weights[0], xlabel="key", ylabel="query")
    checks.show(lambda: costly_figure())                       # built only if the test fails
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Sequence

import torch

from autograder.judge.result import MAX_FIGURES, Figure
from autograder.worker.probes import one_thread

Pending = Figure | Callable[[], "Figure | None"]

#: The figures attached by the test running now (one test at a time per judge process).
_pending: list[Pending] = []


def show(figure: Pending | None) -> None:
    """Attach `figure` to the result of the test running now.

    A callable is called only when the test fails (for a figure that costs a reference
    run); a figure with the kind and title of one already attached adds its series to it.
    """
    if figure is None:
        return
    if isinstance(figure, Figure):
        for other in _pending:
            if isinstance(other, Figure) and (other.kind, other.title) == (figure.kind, figure.title):
                other.series = {**other.series, **figure.series}
                other.__post_init__()  # re-bound the merged series
                return
    if len(_pending) < 2 * MAX_FIGURES:
        _pending.append(figure)


def clear() -> None:
    """Forget what was attached (the plugin calls it before each test)."""
    _pending.clear()


def take() -> list[Figure]:
    """The attached figures, lazy ones built now (a failing one is left out: a picture never
    changes a verdict; the global RNG is left as it was), each once, then forgotten."""
    figures: list[Figure] = []
    for item in _pending:
        if len(figures) >= MAX_FIGURES:
            break
        if callable(item):
            with torch.random.fork_rng(devices=[]), one_thread(), contextlib.suppress(Exception):
                item = item()
        if isinstance(item, Figure) and item not in figures:  # e.g. a check rerun on trusted parts
            figures.append(item)
    clear()
    return figures


# -- building figures -------------------------------------------------------------------------

def numbers(values: Any) -> list:
    """A tensor or a (nested) sequence as plain Python floats (rows of a 2-D tensor as lists)."""
    if isinstance(values, torch.Tensor):
        return values.detach().double().cpu().tolist()
    return [numbers(v) if isinstance(v, (list, tuple, torch.Tensor)) else v for v in values]


def _curve(values: Any) -> list[float] | None:
    """`values` as a list of numbers, or None when it is not one (e.g. a submission's garbage)."""
    if isinstance(values, torch.Tensor) and values.dim() == 1:
        return numbers(values)
    if isinstance(values, (list, tuple)) and values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return [float(v) for v in values]
    return None


def training_curve(losses: Any, reference: Any = None) -> Figure | None:
    """The student's loss per epoch beside the reference's (same data, same settings);
    `losses` may also be a dict of named curves (e.g. "pretrained", "from scratch")."""
    named = losses if isinstance(losses, dict) else {"yours": losses}
    series = {str(k): c for k, c in ((k, _curve(v)) for k, v in named.items()) if c is not None}
    theirs = _curve(reference)
    if not series:
        return None
    if theirs is not None:
        series["reference"] = theirs
    return Figure("lines", "training loss per epoch", series, xlabel="epoch", ylabel="mean loss over samples", x0=1)


def accuracy(value: float | dict[str, float], threshold: float, what: str) -> Figure:
    """A score (`what`, e.g. "held-out accuracy") against the required level; `value` may be a
    dict of named scores (e.g. "pretrained", "from scratch")."""
    return Figure("threshold", what, value if isinstance(value, dict) else {"yours": value}, threshold=threshold)


def gradient_norms(norms: Any, label: str) -> Figure | None:
    """||dL/dh_t|| per time step t on a log axis; one call per curve (e.g. "rnn", "lstm")."""
    curve = _curve(norms)
    if curve is None:
        return None
    return Figure("lines", "gradient norm per time step", {label: curve}, xlabel="time step t",
                  ylabel="‖dL/dh_t‖", log=True)


def heatmap(title: str, grid: Any, *, xlabel: str = "", ylabel: str = "", label: str = "value") -> Figure | None:
    """A 2-D tensor (or the largest entry over its leading dimensions) as a heat map."""
    if not isinstance(grid, torch.Tensor) or grid.dim() < 2 or grid.numel() == 0:
        return None
    rows = grid.detach().double().reshape(-1, *grid.shape[-2:]).amax(dim=0)
    return Figure("heatmap", title, {label: numbers(rows)}, xlabel=xlabel, ylabel=ylabel)


def per_item(title: str, values: Any, *, xlabel: str = "node", ylabel: str = "", threshold: float | None = None) -> Figure | None:
    """One bar per item (a node, a sample, a step): e.g. the error of every node."""
    curve = _curve(values.flatten() if isinstance(values, torch.Tensor) else values)
    if curve is None:
        return None
    return Figure("bars", title, {ylabel or "value": curve}, xlabel=xlabel, ylabel=ylabel, threshold=threshold)


#: The largest step of `how_far_off`: 10⁸ times the tolerance and more.
MOST_ORDERS = 8


def how_far_off(diff: torch.Tensor, tolerance: float) -> torch.Tensor:
    """|yours − expected| per entry as whole orders of magnitude over `tolerance`: 0 within
    it, k for up to 10^k times it (at most `MOST_ORDERS`).  Where an entry is off, not the
    number itself: the student's code chose its output, so the exact difference from it
    would show the expected values (an output of zeros: |expected|), hidden inputs with it.

    Example:
        >>> how_far_off(torch.tensor([0.0, 2e-5, 0.5]), 1e-5).tolist()
        [0.0, 1.0, 5.0]
    """
    ratio = diff / max(tolerance, 1e-300)
    orders = torch.ceil(torch.log10(ratio.clamp(min=1.0))).nan_to_num(MOST_ORDERS, MOST_ORDERS, 0)
    return orders.clamp(0, MOST_ORDERS).where((ratio > 1) | ratio.isnan(), torch.zeros_like(ratio))  # NaN: off


def difference(actual: torch.Tensor, expected: torch.Tensor, what: str, tolerance: float) -> Figure | None:
    """Where `actual` differs from `expected`, entry by entry, in orders of magnitude over the
    tolerance (`how_far_off`) — never the expected values, nor the exact difference.  1-D: a
    bar per entry; 2-D (after the largest over leading dimensions): a heat map, or a bar per
    row when the rows are many and narrow (e.g. nodes × features)."""
    if actual.shape != expected.shape or actual.dim() == 0:
        return None
    diff = how_far_off((actual.detach().double() - expected.detach().double()).abs(), tolerance)
    title = f"where {what} differs (orders of magnitude over the tolerance)"
    if diff.dim() > 1 and sum(n > 1 for n in diff.shape) <= 1:  # e.g. (1, 3): one row
        diff = diff.flatten()
    if diff.dim() == 1:
        return Figure("bars", title, {"how far off": numbers(diff)}, xlabel="index", threshold=0.5)
    grid = diff.reshape(-1, *diff.shape[-2:]).amax(dim=0)
    rows, cols = grid.shape
    n = diff.dim()
    if cols <= 4 and rows >= 4 * cols:
        return Figure("bars", title, {"how far off, worst in the row": numbers(grid.amax(dim=1))},
                      xlabel=f"index along dim {n - 2} of {tuple(diff.shape)} (node, sample …)", threshold=0.5)
    label = "how far off" if n == 2 else "how far off, worst over the other dims"
    return Figure("heatmap", title, {label: numbers(grid)}, xlabel=f"dim {n - 1} of {tuple(diff.shape)}",
                  ylabel=f"dim {n - 2}")


def number_differences(actual: Sequence[Any], expected: Sequence[float], what: str, tolerance: float = 1e-6) -> Figure | None:
    """Where a list of numbers (e.g. the losses per epoch) differs, in orders of magnitude
    over `tolerance` per entry (`how_far_off`)."""
    if len(actual) != len(expected) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in actual):
        return None
    diff = torch.tensor([abs(float(a) - float(e)) for a, e in zip(actual, expected)], dtype=torch.float64)
    return Figure("bars", f"where {what} differ (orders of magnitude over the tolerance)",
                  {"how far off": numbers(how_far_off(diff, tolerance))}, xlabel="index", threshold=0.5)


# -- one line in a test -----------------------------------------------------------------------

def show_training_curve(losses: Any, reference: Any = None) -> None:
    """Attach the student's loss curve (and the reference's); `reference` may be a callable
    returning the reference's losses, run only if the test fails."""
    if callable(reference):
        show(lambda: training_curve(losses, reference()))
    else:
        show(training_curve(losses, reference))


def show_accuracy(value: float | dict[str, float], threshold: float, what: str = "held-out accuracy") -> None:
    show(accuracy(value, threshold, what))


def show_gradient_norms(norms: Any, label: str) -> None:
    show(gradient_norms(norms, label))


def show_heatmap(title: str, grid: Any, *, xlabel: str = "", ylabel: str = "") -> None:
    show(heatmap(title, grid, xlabel=xlabel, ylabel=ylabel))


def show_per_node(title: str, values: Any, *, ylabel: str = "error", threshold: float | None = None) -> None:
    show(per_item(title, values, xlabel="node", ylabel=ylabel, threshold=threshold))

