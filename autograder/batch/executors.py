"""Where students are graded: in this process (`-j 1`) or in N judge processes (`-j N`).

Each judge process grades one student at a time and claims its own worker uid and fork
server; records come back as they finish (`as_completed`), and the caller writes each one
atomically at once.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Iterator

from autograder.judge.result import StudentRecord
from autograder.load import StudentSubmission
from autograder.worker.limits import SandboxLimits

Task = tuple[StudentSubmission, list[str]]


def run_local(todo: list[Task], limits: SandboxLimits, prints: dict[str, str], jobs: int) -> Iterator[StudentRecord]:
    """Grade each `(submission, assignments)` of `todo`; records in order of completion."""
    from autograder.batch import grade_student

    if jobs <= 1:
        for sub, assignments in todo:
            yield grade_student(sub, assignments, limits, prints)
        return
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(grade_student, sub, assignments, limits, prints) for sub, assignments in todo]
        for future in as_completed(futures):
            yield future.result()
