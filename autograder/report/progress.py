"""The progress bar every grading route shows while a class is graded (`nnzoo grade`, with
or without `--nbgrader`): on stderr, so stdout keeps only the results, and gone when done.
Outside a terminal (a log file, a CI job), a line per student instead: a bar is not drawn
there, and a run of many minutes said nothing."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator

from autograder.judge.result import StudentRecord


@contextmanager
def grading_progress(students: int) -> Iterator[Callable[[StudentRecord], None]]:
    """A bar over `students`; yields the `on_done` callback of `batch.grade_class`."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    if not console.is_terminal:
        done = 0

        def line(record: StudentRecord) -> None:
            nonlocal done
            done += 1
            print(f"graded {done}/{students}: {record.student}", file=sys.stderr, flush=True)

        yield line
        return
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"grading {students} students", total=students)
        yield lambda record: progress.advance(task)
