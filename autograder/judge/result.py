"""The one result type: a test's verdict, an assignment's grade, a student's record.

Made by the judge's pytest plugin, stored as JSON in the batch's `students/<id>.json`,
read by every report and export (grades.csv/json, feedback, overview, nbgrader,
Gradescope, LMS).  `to_json`/`from_json` are the only (de)serialisation.
"""

from __future__ import annotations

import builtins
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Sequence

PASSED, FAILED, ERROR = "passed", "failed", "error"
VISIBILITIES = ("visible", "hidden", "after_due_date")
#: "lines": curves over a step (series name → values); "bars": one bar per index (e.g. per node);
#: "heatmap": one 2-D grid (series name → rows); "threshold": numbers against `threshold`.
FIGURE_KINDS = ("lines", "bars", "heatmap", "threshold")
#: Bounds of what a check may attach: numbers per figure, figures per test, label lengths.
MAX_FIGURE_VALUES, MAX_FIGURES, MAX_LABEL = 400, 4, 120
#: Values looked at at all (per series, per row): beyond, they are cut before pooling.
MAX_POOLED = 1_000_000


def _known(cls: type, data: dict) -> dict:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _finite_or_none(x: Any) -> float | None:
    """A number rounded to 4 significant digits; NaN and inf become None (JSON has neither)."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return float(f"{x:.4g}") if math.isfinite(x) else None


def _bounded_series(values: Any, budget: int) -> list:
    """`values` (a list of numbers, or of rows for a heat map) within `budget` numbers:
    a long list is pooled (each bucket's largest value) rather than cut, so a spike survives."""
    rows = list(values)[:MAX_POOLED]
    if rows and isinstance(rows[0], (list, tuple)):
        grid = [[_finite_or_none(v) for v in list(row)[:MAX_POOLED]] for row in rows]
        side = max(1, math.isqrt(budget))
        return [_pooled(row, side) for row in _pooled_rows(grid, side)]
    return _pooled([_finite_or_none(v) for v in rows], budget)


def _pooled(values: list, n: int) -> list:
    if len(values) <= n:
        return values
    edges = [round(i * len(values) / n) for i in range(n + 1)]
    return [_max(values[a:b]) for a, b in zip(edges, edges[1:])]


def _pooled_rows(grid: list[list], n: int) -> list[list]:
    if len(grid) <= n:
        return grid
    edges = [round(i * len(grid) / n) for i in range(n + 1)]
    return [[_max(col) for col in zip(*grid[a:b])] for a, b in zip(edges, edges[1:])]


def _max(values: Sequence) -> float | None:
    finite = [v for v in values if v is not None]
    return max(finite) if finite else None


@dataclass
class Figure:
    """Numbers a check attaches to a test's result, for a picture in the feedback.

    Only values the judge computed while grading: the student's own outputs (a training
    curve, gradient norms, accuracies), differences from the expected result, thresholds —
    never a hidden input or an expected tensor.  Bounded: at most `MAX_FIGURE_VALUES`
    numbers, pooled down (bucket maxima) when a check hands more; NaN and inf are None.

    Attributes:
        kind: one of `FIGURE_KINDS`.
        title: what the picture shows, for the student.
        series: label → values (a list of numbers; for "heatmap" a list of rows; for
            "threshold" one number per label).
        xlabel / ylabel: axis labels; log: a logarithmic value axis.
        threshold: a required level drawn as a line ("threshold", or a "lines" target).
        x0: the step of a curve's first value (epochs count from 1, time steps from 0).
    """

    kind: str
    title: str
    series: dict[str, Any] = field(default_factory=dict)
    xlabel: str = ""
    ylabel: str = ""
    log: bool = False
    threshold: float | None = None
    x0: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FIGURE_KINDS:
            raise ValueError(f"Figure kind must be one of {FIGURE_KINDS}, not {self.kind!r}")
        self.title, self.xlabel, self.ylabel = (str(t)[:MAX_LABEL] for t in (self.title, self.xlabel, self.ylabel))
        self.threshold = _finite_or_none(self.threshold) if self.threshold is not None else None
        items = list(dict(self.series).items())[:8]
        if self.kind == "threshold":
            self.series = {str(k)[:MAX_LABEL]: _finite_or_none(v) for k, v in items}
            return
        budget = MAX_FIGURE_VALUES // max(1, len(items))
        self.series = {str(k)[:MAX_LABEL]: _bounded_series(v, budget) for k, v in items}

    @builtins.property
    def size(self) -> int:
        """How many numbers the figure holds."""
        def count(v: Any) -> int:
            return sum(count(x) for x in v) if isinstance(v, list) else 1
        return sum(count(v) for v in self.series.values())

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Figure":
        return cls(**_known(cls, data))


@dataclass
class TestResult:
    """One test's verdict.

    Attributes:
        name: the test's id (`test_x`, or `test_x[param]`); property: the lecture property.
        score / max_score: points earned / possible.
        status: "passed", "failed" (the student's code), "error" (the grader could not evaluate).
        message: why it failed, for the student (property + hint, never hidden values).
        reason: machine-readable cause ("check", "exception", "timeout", "exit", "budget",
            "missing", "syntax", "policy", "crash", "grader", or "").
        doc: the first paragraph of the test's docstring, on one line; kind: "test" or "question" (nbgrader).
        visibility: "visible", "hidden" or "after_due_date" (shown to the student when).
        figures: numbers that explain a failure, for pictures in the feedback (kept only
            for tests that did not pass; at most `MAX_FIGURES`).
    """

    __test__ = False  # not a pytest test class

    name: str
    property: str = ""
    score: float = 0.0
    max_score: float = 0.0
    status: str = FAILED
    message: str = ""
    reason: str = ""
    doc: str = ""
    kind: str = "test"
    visibility: str = "visible"
    figures: list[Figure] = field(default_factory=list)

    @builtins.property  # the field `property` shadows the builtin in this class body
    def passed(self) -> bool:
        return self.status == PASSED

    @builtins.property
    def function(self) -> str:
        """The test function's name (a parametrised test's id without its parameters)."""
        return self.name.split("[")[0]

    @builtins.property
    def mark(self) -> str:
        return "✓" if self.passed else "✗"

    def line(self, *, reason: bool = True) -> str:
        """`✓ name (property): score/max`, and with `reason` the message of a failure below it."""
        text = f"{self.mark} {self.name} ({self.property}): {self.score:g}/{self.max_score:g}"
        if reason and not self.passed and self.message:
            text += "\n    " + self.message.replace("\n", "\n    ")
        return text

    def to_json(self, *, detail: bool = True) -> dict[str, Any]:
        """As JSON; `detail=False` leaves the figures out (see `AssignmentResult.to_json`)."""
        # no `asdict` deep copy (grades.json holds every test of the class)
        data = {name: getattr(self, name) for name in _TEST_FIELDS if name != "figures" or detail}
        if detail:
            data["figures"] = [f.to_json() for f in self.figures]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TestResult":
        known = _known(cls, data)
        known["figures"] = [Figure.from_json(f) for f in known.get("figures", [])[:MAX_FIGURES]]
        return cls(**known)


_TEST_FIELDS = tuple(f.name for f in fields(TestResult))


@dataclass
class AssignmentResult:
    """One student's grade on one assignment.

    Attributes:
        tests: every test's result; score / max_score are their sums.
        sandbox: the isolation level of each layer, as the worker's first message reported it.
        scan: names the static scan flags for human review.
        notes: what the student should know beyond the tests (e.g. a notebook cell skipped).
        fingerprint: what the grade was made with (see `batch.fingerprint`).
        digest: hash of the code graded (see `StudentSubmission.digest`).
        submitted: False when the student handed nothing in for this assignment (the
            overview keeps such students out of pass rates).
        seconds: wall time spent grading it (0 when unknown, e.g. a record from before).
        submitted_at: when the student handed it in (ISO text, "" when unknown); the late
            penalty is worked out from it and the term (`course.term`) when grades are written.
    """

    tests: list[TestResult] = field(default_factory=list)
    sandbox: dict[str, str] = field(default_factory=dict)
    scan: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fingerprint: str = ""
    digest: str = ""
    submitted: bool = True
    seconds: float = 0.0
    submitted_at: str = ""

    @property
    def score(self) -> float:
        return float(sum(t.score for t in self.tests))

    @property
    def max_score(self) -> float:
        return float(sum(t.max_score for t in self.tests))

    @property
    def errors(self) -> list[TestResult]:
        return [t for t in self.tests if t.status == ERROR]

    def to_json(self, *, detail: bool = True) -> dict[str, Any]:
        """As JSON; `detail=False` leaves out what only the reports read (the tests' figures,
        the grading time), so that grades.json stays small and the same on every regrade."""
        data = {"score": self.score, "max_score": self.max_score, "tests": [t.to_json(detail=detail) for t in self.tests],
                "sandbox": dict(self.sandbox), "scan": list(self.scan), "notes": list(self.notes),
                "fingerprint": self.fingerprint, "digest": self.digest, "submitted": self.submitted,
                "submitted_at": self.submitted_at}
        if detail:
            data["seconds"] = round(self.seconds, 3)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "AssignmentResult":
        return cls(tests=[TestResult.from_json(t) for t in data.get("tests", [])], sandbox=dict(data.get("sandbox", {})),
                   scan=list(data.get("scan", [])), notes=list(data.get("notes", [])),
                   fingerprint=str(data.get("fingerprint", "")), digest=str(data.get("digest", "")),
                   submitted=bool(data.get("submitted", True)), seconds=float(data.get("seconds", 0.0)),
                   submitted_at=str(data.get("submitted_at", "")))


@dataclass
class StudentRecord:
    """Everything graded for one student (`students/<id>.json`).

    Attributes:
        assignments: assignment → its result (only the assignments graded for this student).
        notes: what was skipped while reading the student's entry (e.g. a link).
    """

    student: str
    assignments: dict[str, AssignmentResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return float(sum(r.score for r in self.assignments.values()))

    def to_json(self) -> dict[str, Any]:
        return {"student": self.student, "notes": list(self.notes),
                "assignments": {a: r.to_json() for a, r in self.assignments.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "StudentRecord":
        return cls(student=str(data["student"]), notes=list(data.get("notes", [])),
                   assignments={a: AssignmentResult.from_json(r) for a, r in data.get("assignments", {}).items()})
