"""The grader bites: every submission in `tests/submissions/<a>/` gets exactly the verdict
its first docstring line declares, graded for real through the sandbox.

Declarations (first line of the file's docstring):
- `CORRECT: <style>` — full marks;
- `BROKEN: loses test_a, test_b — <the bug>` — exactly those tests fail, all others pass.
The reference scores full marks and the committed stubs score zero (tested below).
"""

from __future__ import annotations

import ast
import multiprocessing
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from autograder import course
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


def _grade(path: Path, assignment: str) -> dict:
    return grade_file(path, assignment, LIMITS)


@pytest.fixture(scope="module")
def graded() -> dict[Path, dict]:
    """Every submission, reference and stub of this file, graded once, two judges in parallel
    (each with its own fork server and worker uid, as `nnzoo grade -j 2` does)."""
    jobs = [(p, p.parent.name) for p in SUBMISSIONS]
    jobs += [(course.assignment(a).reference, a) for a in ASSIGNMENTS]
    jobs += [(course.assignment(a).stub, a) for a in ASSIGNMENTS]
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = pool.map(_grade, *zip(*jobs))
        return {path: result for (path, _), result in zip(jobs, results)}


@pytest.mark.parametrize("path", SUBMISSIONS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_submission_gets_its_declared_verdict(path: Path, graded: dict) -> None:
    kind, lost = declared(path)
    result = graded[path]
    failed = {t.name for t in result.tests if t.status != "passed"}
    names = {t.name for t in result.tests}
    assert lost <= names, f"declared tests that do not exist: {sorted(lost - names)}"
    messages = {t.name: t.message for t in result.tests if t.status != "passed"}
    assert failed == lost, f"{kind} submission: failed {sorted(failed)}, declared {sorted(lost)}; messages: {messages}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_scores_full_marks(assignment: str, graded: dict) -> None:
    result = graded[course.assignment(assignment).reference]
    assert result.max_score > 0
    assert result.score == result.max_score, [t for t in result.tests if t.status != "passed"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_stubs_score_zero(assignment: str, graded: dict) -> None:
    result = graded[course.assignment(assignment).stub]
    assert result.score == 0, [t.name for t in result.tests if t.status == "passed"]
