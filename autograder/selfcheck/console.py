"""The console view of a selfcheck: one summary table, then every failing variant (with
the failing test and its message) and every surviving mutant (its diff and the property
it breaks)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from autograder.selfcheck.report import (
    EQUIVALENT,
    KILLED,
    MIN_MUTATION_SCORE,
    SURVIVED,
    AssignmentReport,
)


def _score(report: AssignmentReport) -> str:
    score = report.mutation_score
    if score is None:
        return "n/a"
    mark = "✓" if score >= MIN_MUTATION_SCORE else "✗"
    return f"{mark} {score:.1%}"


def summary_table(reports: list[AssignmentReport]) -> Table:
    table = Table(title="nnzoo selfcheck", title_justify="left")
    for column, justify in (("assignment", "left"), ("reference", "right"), ("stubs", "right"),
                            ("variants full marks", "right"), ("mutants", "right"), ("killed", "right"),
                            ("equivalent", "right"), ("survived", "right"), (f"score (goal ≥ {MIN_MUTATION_SCORE:.0%})", "right")):
        table.add_column(column, justify=justify)
    for r in reports:
        ref_mark = "✓" if r.reference_score == r.max_score else "✗"
        stub_mark = "✓" if r.stub_score == 0 else "✗"
        var_mark = "✓" if r.variants_full_marks == len(r.variants) else "✗"
        table.add_row(r.name, f"{ref_mark} {r.reference_score:g}/{r.max_score:g}", f"{stub_mark} {r.stub_score:g}",
                      f"{var_mark} {r.variants_full_marks}/{len(r.variants)}", str(len(r.mutants)), str(r.count(KILLED)),
                      str(r.count(EQUIVALENT)), str(r.count(SURVIVED)), _score(r))
    return table


def print_details(console: Console, report: AssignmentReport) -> None:
    """Everything a developer must fix or judge, for one assignment."""
    name = report.name
    for f in report.stub_passes:
        console.print(f"[bold red]{name}: the stubs pass {f.test}[/] ({f.property})")
    for f in report.reference_failures:
        console.print(f"[bold red]{name}: the reference fails {f.test}[/] ({f.property}): {f.message}")
    for v in report.variants:
        for f in v.failures:
            console.print(f"[bold red]{name}: correct variant {v.id} fails {f.test}[/] ({f.property}) — {v.description}",
                          highlight=False)
            console.print("    " + f.message.replace("\n", "\n    "), markup=False, highlight=False)
    for m in report.mutants:
        if m.status != SURVIVED:
            continue
        console.print(f"[bold yellow]{name}: mutant {m.id} survives[/] in {m.function}: {m.description}", highlight=False)
        console.print(f"    breaks: {m.property} — {m.why} [{m.rule}]", markup=False, highlight=False)
        console.print("    " + m.diff.rstrip().replace("\n", "\n    "), markup=False, highlight=False)
    for line in report.problems:
        console.print(f"[yellow]{name}: {line}[/]", highlight=False)


def per_test_table(report: AssignmentReport) -> Table:
    table = Table(title=f"{report.name}: mutants killed per test", title_justify="left")
    for column in ("test", "property", "kills", "reaches"):
        table.add_column(column, justify="left" if column in ("test", "property") else "right")
    for name, t in report.per_test.items():
        table.add_row(name, t.property, str(t.kills), str(t.reaches))
    return table
