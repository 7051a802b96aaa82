"""Grading the candidates exactly as `nnzoo grade` grades a class.

Each candidate is a student of a class (`StudentSubmission` holding one `<a>.py`), graded
by `autograder.batch.grade_class` — the sandboxed workers, the hidden tests, the `-j N`
judge processes, the atomic per-student records — into `<out>/<a>/grading/`.  Grading
resumes: a candidate whose code and grader are unchanged keeps its grade, so a rerun
grades only what changed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from autograder.atomic import write_atomic
from autograder.batch import BatchOptions, grade_class
from autograder.judge.result import AssignmentResult, StudentRecord
from autograder.load import StudentSubmission
from autograder.selfcheck.candidates import Candidate
from autograder.worker.limits import SandboxLimits


def write_candidates(folder: Path, assignment: str, candidates: list[Candidate]) -> None:
    """`<folder>/<id>/<a>.py` for each candidate, for the instructor to open."""
    for c in candidates:
        write_atomic(folder / c.id / f"{assignment}.py", c.source)


def grade_candidates(assignment: str, candidates: list[Candidate], out: Path, *, jobs: int = 1,
                     limits: SandboxLimits = SandboxLimits(),
                     on_done: Callable[[StudentRecord], None] = lambda record: None) -> dict[str, AssignmentResult]:
    """Each candidate's grade on `assignment` (candidate id → result)."""
    subs = [StudentSubmission(c.id, sources={assignment: c.source}, entry=c.id) for c in candidates]
    options = BatchOptions(out=out, assignments=[assignment], jobs=jobs, resume=True, limits=limits)
    summary = grade_class(subs, options, on_done=on_done)
    wanted = {c.id for c in candidates}
    return {r.student: r.assignments[assignment] for r in summary.records
            if r.student in wanted and assignment in r.assignments}
