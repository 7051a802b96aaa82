"""The one result type: a test's verdict, an assignment's grade, a student's record.

Made by the judge's pytest plugin, stored as JSON in the batch's `students/<id>.json`,
read by every report and export (grades.csv/json, feedback, overview, nbgrader,
Gradescope, LMS).  `to_json`/`from_json` are the only (de)serialisation.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field, fields
from typing import Any

PASSED, FAILED, ERROR = "passed", "failed", "error"
VISIBILITIES = ("visible", "hidden", "after_due_date")


def _known(cls: type, data: dict) -> dict:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


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
        doc: the test's first docstring line; kind: "test" or "question" (nbgrader).
        visibility: "visible", "hidden" or "after_due_date" (shown to the student when).
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

    def to_json(self) -> dict[str, Any]:
        # every field is a str or a float: no `asdict` deep copy (grades.json holds every test of the class)
        return {name: getattr(self, name) for name in _TEST_FIELDS}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TestResult":
        return cls(**_known(cls, data))


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
    """

    tests: list[TestResult] = field(default_factory=list)
    sandbox: dict[str, str] = field(default_factory=dict)
    scan: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fingerprint: str = ""
    digest: str = ""
    submitted: bool = True

    @property
    def score(self) -> float:
        return float(sum(t.score for t in self.tests))

    @property
    def max_score(self) -> float:
        return float(sum(t.max_score for t in self.tests))

    @property
    def errors(self) -> list[TestResult]:
        return [t for t in self.tests if t.status == ERROR]

    def to_json(self) -> dict[str, Any]:
        return {"score": self.score, "max_score": self.max_score, "tests": [t.to_json() for t in self.tests],
                "sandbox": dict(self.sandbox), "scan": list(self.scan), "notes": list(self.notes),
                "fingerprint": self.fingerprint, "digest": self.digest, "submitted": self.submitted}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "AssignmentResult":
        return cls(tests=[TestResult.from_json(t) for t in data.get("tests", [])], sandbox=dict(data.get("sandbox", {})),
                   scan=list(data.get("scan", [])), notes=list(data.get("notes", [])),
                   fingerprint=str(data.get("fingerprint", "")), digest=str(data.get("digest", "")),
                   submitted=bool(data.get("submitted", True)))


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
