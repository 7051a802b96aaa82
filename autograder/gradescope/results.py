"""Gradescope's results.json, from nnzoo's test results — rewritten after every test.

The fields (Gradescope's autograder specification, `docs/specs.md` of
gradescope/autograder_samples): top level `score` (it overrides the sum of the tests:
the final score after any late penalty), `execution_time` (seconds), `output` (for the
student), `stdout_visibility` ("hidden": stdout is for instructors), `extra_data`
(nnzoo's version, the grader's fingerprint, the sandbox levels, the raw score and the
late penalty); per test `name`, `number` ("1", "2", …), `score`, `max_score`, `status`
("passed"/"failed"), `output` (the reason of a failure, never hidden values),
`visibility` (nnzoo's marker: `visible`, `hidden`, `after_due_date` are Gradescope's own
words) and `extra_data` (the test's `execution_time`, nnzoo's status and reason).

Until the last test has run, one more entry stands for the tests not run yet, holding their
points: a run cut short (time limit, killed for memory) still reports every point, the
ones it could not award as failed.  Each write is atomic (a temporary file, then rename).
A 0-point `hidden` entry (instructors only) says which sandbox level graded the submission.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder.atomic import write_atomic
from autograder.course.term import Lateness
from autograder.export.grades import number
from autograder.judge.result import ERROR, TestResult

NOT_RUN = "tests not run yet"
SANDBOX = "nnzoo sandbox (instructors only)"
GRADER_ERROR = ("the grader could not evaluate this test — not a fault of your code; "
                "your instructor has been told and will regrade it")


def test_output(t: TestResult) -> str:
    """What the student reads under a test: why it failed (its hint), or what it checked."""
    if t.status == ERROR:
        return GRADER_ERROR
    if t.passed:
        return t.doc or "passed"
    return t.message or "failed"


def test_entry(t: TestResult, index: int, seconds: float) -> dict:
    return {
        "name": f"{t.name} ({t.property})" if t.property else t.name,
        "number": str(index),
        "score": number(t.score),
        "max_score": number(t.max_score),
        "status": "passed" if t.passed else "failed",
        "output": test_output(t),
        "visibility": t.visibility if t.visibility in ("visible", "hidden", "after_due_date") else "hidden",
        "extra_data": {"execution_time": round(seconds, 3), "nnzoo_status": t.status, "reason": t.reason},
    }


@dataclass
class GradescopeResults:
    """results.json of one submission, written to `path` after every change.

    Attributes:
        path: `/autograder/results/results.json`.
        assignment / max_score: what is graded, and its total points (for the tests not run yet).
        extra: nnzoo's own record (`extra_data`).
    """

    path: Path
    assignment: str
    max_score: float
    extra: dict = field(default_factory=dict)
    tests: list[TestResult] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    lateness: Lateness = Lateness()
    sandbox: dict[str, str] = field(default_factory=dict)
    message: str = ""
    done: bool = False
    started: float = field(default_factory=time.monotonic)
    _last: float = field(default_factory=time.monotonic)

    def add(self, t: TestResult) -> None:
        """One more test's result (call from the judge's `on_result`); writes at once."""
        now = time.monotonic()
        self.tests.append(t)
        self.seconds.append(now - self._last)
        self._last = now
        self.write()

    @property
    def raw(self) -> float:
        return float(sum(t.score for t in self.tests))

    def to_json(self) -> dict:
        entries = [test_entry(t, i, s) for i, (t, s) in enumerate(zip(self.tests, self.seconds), start=1)]
        left = self.max_score - sum(t.max_score for t in self.tests)
        if not self.done and left > 0:
            entries.append({"name": NOT_RUN, "number": str(len(entries) + 1), "score": 0, "max_score": number(left),
                            "status": "failed", "visibility": "visible",
                            "output": "The autograder stopped before these tests ran (a time or memory limit?). "
                                      "Their points are not awarded; ask your instructor."})
        if self.sandbox:
            entries.append({"name": SANDBOX, "number": str(len(entries) + 1), "score": 0, "max_score": 0,
                            "status": "passed", "visibility": "hidden",
                            "output": "\n".join(f"{k}: {v}" for k, v in self.sandbox.items())})
        penalty = self.lateness.penalty(self.raw)
        lines = [self.message] if self.message else []
        if self.lateness.fraction:
            lines.append(f"Late: {self.lateness.reason} — {number(self.raw)} − {number(penalty)} = "
                         f"{number(self.raw - penalty)} points.")
        if not self.done:
            lines.append("Grading did not finish: the tests not run yet score 0.")
        return {
            "score": number(self.raw - penalty),
            "execution_time": round(time.monotonic() - self.started, 3),
            "output": "\n".join(lines),
            "stdout_visibility": "hidden",
            "tests": entries,
            "extra_data": {**self.extra, "assignment": self.assignment, "raw_score": number(self.raw),
                           "penalty": number(penalty), "late_days": self.lateness.days, "sandbox": dict(self.sandbox),
                           "finished": self.done},
        }

    def write(self) -> None:
        write_atomic(self.path, json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n")
