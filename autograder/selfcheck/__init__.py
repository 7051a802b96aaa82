"""`nnzoo selfcheck`: the grader grades itself.

How well do an assignment's hidden tests tell correct code from wrong code?  Selfcheck
makes submissions whose verdict is known in advance and grades them exactly as
`nnzoo grade` grades a class (sandboxed workers, `-j N` judge processes, resumable):

- the reference must score full marks, its generated stubs zero;
- **correct variants** — the reference rewritten in ways docs/spec.md §3 says grading never
  depends on (name binding, helpers, private members, statement order, …) — must score
  full marks; a variant that does not has found a test grading the shape of correct code;
- **mutants** — single-point bugs in the solution regions — should be killed; the
  mutation score is killed / (mutants − equivalent ones), per assignment and per test, and
  every survivor is reported with its diff and the property it breaks.

Data flows one way:

    source.py       faithful edits of a Python file by AST node spans
    variants/       semantics-preserving transforms (one function each)
    mutants.py      mutation operators (one function each)
    candidates.py   reference + stubs + variants + mutants, each a student id
    grading.py      graded through `autograder.batch.grade_class`
    battery.py      the hidden tests' calls, recorded on the reference, replayed on a mutant
    equivalence.py  the documented rule that marks a surviving mutant equivalent
    run.py          one assignment end to end → `AssignmentReport` (report.py)
    console.py      the rich tables
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from autograder import __version__, course
from autograder.atomic import write_atomic
from autograder.selfcheck.report import MIN_MUTATION_SCORE, AssignmentReport
from autograder.selfcheck.run import SelfcheckOptions, check_assignment

RESULTS = "selfcheck.json"


def generator_names() -> list[str]:
    """The names `--only` accepts: every transform, then every mutation operator."""
    from autograder.selfcheck.mutants import OPERATORS
    from autograder.selfcheck.variants import TRANSFORMS

    return [*TRANSFORMS, *OPERATORS]


def write_results(out: Path, reports: list[AssignmentReport]) -> Path:
    """Merge `reports` into `<out>/selfcheck.json` (assignments checked before are kept)."""
    path = out / RESULTS
    try:
        data = json.loads(path.read_text())
        assignments = dict(data.get("assignments", {}))
    except (FileNotFoundError, json.JSONDecodeError, AttributeError):
        assignments = {}
    for r in reports:
        assignments[r.name] = {**r.to_json(), "checked": datetime.now(UTC).isoformat(timespec="seconds")}
    ordered = {a: assignments[a] for a in course.in_order(set(assignments))}
    data = {"nnzoo": __version__, "goal": {"variants": "every variant full marks",
                                           "mutation_score": MIN_MUTATION_SCORE}, "assignments": ordered}
    write_atomic(path, json.dumps(data, indent=1) + "\n")
    return path


def run_selfcheck(names: list[str], options: SelfcheckOptions, say: Callable[[str], None] = print,
                  **hooks: Callable) -> tuple[list[AssignmentReport], list[str]]:
    """Selfcheck each named assignment; an unknown name is one line and the rest go on.
    Returns the reports and the names that are not assignments."""
    reports, unknown = [], []
    for name in names:
        try:
            reports.append(check_assignment(name, options, say, **hooks))
        except course.UnknownAssignment as exc:
            say(f"selfcheck: {exc}")
            unknown.append(name)
            continue
        write_results(options.out, reports[-1:])  # each assignment as soon as it is checked
    return reports, unknown


__all__ = ["RESULTS", "AssignmentReport", "SelfcheckOptions", "check_assignment", "generator_names", "run_selfcheck",
           "write_results"]
