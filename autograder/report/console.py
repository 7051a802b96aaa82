"""Tables for the terminal (rich): a student's points, and an instructor's gradebook."""

from __future__ import annotations

import io
from typing import Callable, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from autograder.judge.result import TestResult


def _render(table: Table) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=110, force_terminal=False, color_system=None).print(table)
    return buffer.getvalue().rstrip("\n")


def _number(x: float) -> str:
    return f"{x:g}"


def points_table(results: Sequence[TestResult], write: Callable[[str], None] = print, *, reasons: bool = True,
                 cause: Callable[[TestResult], str] | None = None) -> None:
    """Points per test (a parametrised test keeps its id: `test_x[lstm]`) and the total;
    with `reasons`, why each failure lost its points — one entry per cause (default: per
    message), naming every test it cost: an untouched stub is one reason, not one per test."""
    table = Table(title="nnzoo — points", show_lines=False)
    table.add_column("test")
    table.add_column("property")
    table.add_column("points", justify="right")
    for r in results:  # Text, not markup: `[lstm]` is an id, not a style
        table.add_row(Text(f"{r.mark} {r.name}"), Text(r.property), f"{_number(r.score)}/{_number(r.max_score)}")
    score = sum(r.score for r in results)
    total = sum(r.max_score for r in results)
    table.add_section()
    table.add_row("total", "", f"{_number(score)}/{_number(total)}")
    for line in _render(table).splitlines():
        write(line)
    failures = [r for r in results if not r.passed]
    if not failures:
        return
    if not reasons:
        write("Why points were lost: see the failures above.")
        return
    write("")
    write("Why points were lost:")
    for tests in failure_reasons(failures, cause).values():
        only = tests[0]
        names = f"{only.name} ({only.property})" if len(tests) == 1 and only.property else ", ".join(r.name for r in tests)
        write(f"- {names}:")
        for line in (tests[0].message or "failed").splitlines():
            write(f"    {line}")
        if any(r.message != tests[0].message for r in tests[1:]):
            write("    (the other tests: the same error, with their own inputs)")


def failure_reasons(failures: Sequence[TestResult], cause: Callable[[TestResult], str] | None = None,
                    ) -> dict[str, list[TestResult]]:
    """Failed tests grouped by `cause` (default: their message), in the order causes first appear."""
    grouped: dict[str, list[TestResult]] = {}
    for r in failures:
        grouped.setdefault(cause(r) if cause else r.message, []).append(r)
    return grouped


def gradebook_table(rows: Sequence[dict], assignments: Sequence[str], maxima: dict[str, float]) -> str:
    """One row per student: score per assignment and the total."""
    table = Table(title="nnzoo — gradebook")
    table.add_column("student")
    for a in assignments:
        table.add_column(f"{a} (/{_number(maxima[a])})", justify="right")
    table.add_column(f"total (/{_number(sum(maxima.values()))})", justify="right")
    for row in rows:
        table.add_row(row["student"], *(_number(row["scores"][a]) for a in assignments), _number(row["total"]))
    return _render(table)
