"""Tables for the terminal (rich): a student's points, and an instructor's gradebook."""

from __future__ import annotations

import io
from typing import Callable, Sequence

from rich.console import Console
from rich.table import Table

from autograder.judge.result import TestResult


def _render(table: Table) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=110, force_terminal=False, color_system=None).print(table)
    return buffer.getvalue().rstrip("\n")


def _number(x: float) -> str:
    return f"{x:g}"


def points_table(results: Sequence[TestResult], write: Callable[[str], None] = print) -> None:
    """Points per test, the reason of each failure, and the total."""
    table = Table(title="nnzoo — points", show_lines=False)
    table.add_column("test")
    table.add_column("property")
    table.add_column("points", justify="right")
    for r in results:
        table.add_row(f"{r.mark} {r.name}", r.property, f"{_number(r.score)}/{_number(r.max_score)}")
    score = sum(r.score for r in results)
    total = sum(r.max_score for r in results)
    table.add_section()
    table.add_row("total", "", f"{_number(score)}/{_number(total)}")
    for line in _render(table).splitlines():
        write(line)
    failures = [r for r in results if not r.passed]
    if failures:
        write("")
        write("Why points were lost:")
        for r in failures:
            write(f"- {r.name} ({r.property}):")
            for line in r.message.splitlines():
                write(f"    {line}")


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
