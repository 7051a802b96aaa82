"""Generating the student stubs from the reference (the single source).

Every `### BEGIN SOLUTION` … `### END SOLUTION` region (nbgrader's markers) becomes
`raise NotImplementedError(hint)`, where the hint is the `# Hint: …` comment line right
above the region (kept in the stub too).
"""

from __future__ import annotations

from pathlib import Path

from autograder.course import Assignment
from autograder.course.regions import SOLUTION, lines

HINT = "# Hint:"


def stub_source(reference: str) -> str:
    """`reference` with every solution region replaced by a `raise NotImplementedError`."""
    out: list[str] = []
    for line in lines(reference, SOLUTION):
        if line.kind == "outside":
            out.append(line.text)
        elif line.kind == "marker" and line.text.strip() == SOLUTION[0]:
            indent = line.text[: len(line.text) - len(line.text.lstrip())]
            previous = out[-1].strip() if out else ""
            hint = previous[len(HINT):].strip() if previous.startswith(HINT) else "not implemented yet"
            out.append(f"{indent}raise NotImplementedError({hint!r})\n")
    return "".join(out)


def expected_stub(assignment: Assignment) -> str:
    return stub_source(assignment.reference.read_text())


def write_stubs(assignments: list[Assignment]) -> list[Path]:
    """Regenerate `assignments/<a>/<a>.py` for each assignment; return the files changed."""
    changed = []
    for a in assignments:
        text = expected_stub(a)
        if not a.stub.is_file() or a.stub.read_text() != text:
            a.stub.parent.mkdir(parents=True, exist_ok=True)
            a.stub.write_text(text)
            changed.append(a.stub)
    return changed
