"""The progress bar every grading route shows while a class is graded (`nnzoo grade`, with
or without `--nbgrader`): on stderr, so stdout keeps only the results, and gone when done."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from autograder.judge.result import StudentRecord


@contextmanager
def grading_progress(students: int) -> Iterator[Callable[[StudentRecord], None]]:
    """A bar over `students`; yields the `on_done` callback of `batch.grade_class`."""
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(f"grading {students} students", total=students)
        yield lambda record: progress.advance(task)
