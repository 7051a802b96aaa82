"""The grader bites: every submission in `tests/submissions/<a>/` gets exactly the verdict
its first docstring line declares, graded for real through the sandbox.

Declarations (first line of the file's docstring):
- `CORRECT: <style>` — full marks;
- `BROKEN: loses test_a, test_b — <the bug>` — exactly those tests fail, all others pass.
The reference scores full marks and the committed stubs score zero (tested below).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from autograder import course
from autograder.judge.result import AssignmentResult
from autograder.judge.run import grade_file
from autograder.sandbox import SandboxLimits

HERE = Path(__file__).parent / "submissions"
LIMITS = SandboxLimits(call_seconds=60)
ASSIGNMENTS = course.names(hidden=True)


def declared(path: Path) -> tuple[str, set[str]]:
    first = (ast.get_docstring(ast.parse(path.read_text())) or "").strip().splitlines()[0]
    if first.startswith("CORRECT:"):
        return "correct", set()
    match = re.match(r"BROKEN: loses ([\w, ]+?) — ", first)
    assert match, f"{path}: first docstring line must be 'CORRECT: …' or 'BROKEN: loses test_a, test_b — …'"
    return "broken", {t.strip() for t in match.group(1).split(",")}


SUBMISSIONS = sorted(p for p in HERE.glob("*/*.py") if p.parent.name in ASSIGNMENTS)


def grade(path: Path, assignment: str) -> AssignmentResult:
    return grade_file(path, assignment, LIMITS)


# Each test grades one file through the sandbox: independent tests, spread over the
# workers of `pytest -n` (each worker a judge with its own fork server and worker uid).

@pytest.mark.parametrize("path", SUBMISSIONS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_submission_gets_its_declared_verdict(path: Path) -> None:
    kind, lost = declared(path)
    result = grade(path, path.parent.name)
    failed = {t.name for t in result.tests if not t.passed}
    names = {t.name for t in result.tests}
    assert lost <= names, f"declared tests that do not exist: {sorted(lost - names)}"
    messages = {t.name: t.message for t in result.tests if not t.passed}
    assert failed == lost, f"{kind} submission: failed {sorted(failed)}, declared {sorted(lost)}; messages: {messages}"
    errors = {t.name: t.message for t in result.tests if t.status == "error"}
    assert not errors, f"a student's submission must never be a grader error: {errors}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_scores_full_marks(assignment: str) -> None:
    result = grade(course.assignment(assignment).reference, assignment)
    assert result.max_score > 0
    assert result.score == result.max_score, [t for t in result.tests if not t.passed]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_stubs_score_zero(assignment: str) -> None:
    result = grade(course.assignment(assignment).stub, assignment)
    assert result.score == 0, [t.name for t in result.tests if t.passed]
