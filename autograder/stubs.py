"""Generating the student stubs from the reference (the single source).

Every `### BEGIN SOLUTION` … `### END SOLUTION` region (nbgrader's markers) becomes
`raise NotImplementedError(hint)`, where the hint is the `# Hint: …` comment line right
above the region (kept in the stub too).
"""

from __future__ import annotations

from pathlib import Path

from autograder.paths import assignment_dir, solution_dir

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
HINT = "# Hint:"


def stub_source(reference: str) -> str:
    """`reference` with every solution region replaced by a `raise NotImplementedError`."""
    out: list[str] = []
    inside = False
    for number, line in enumerate(reference.splitlines(keepends=True), start=1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"line {number}: nested {BEGIN}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            previous = out[-1].strip() if out else ""
            hint = previous[len(HINT):].strip() if previous.startswith(HINT) else "not implemented yet"
            out.append(f"{indent}raise NotImplementedError({hint!r})\n")
        elif stripped == END:
            if not inside:
                raise ValueError(f"line {number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN} is never closed")
    return "".join(out)


def stub_path(assignment: str) -> Path:
    return assignment_dir(assignment) / f"{assignment}.py"


def expected_stub(assignment: str) -> str:
    return stub_source((solution_dir(assignment) / f"{assignment}.py").read_text())


def write_stubs(assignments: list[str]) -> list[Path]:
    """Regenerate `assignments/<a>/<a>.py` for each assignment; return the files changed."""
    changed = []
    for a in assignments:
        path = stub_path(a)
        text = expected_stub(a)
        if not path.is_file() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            changed.append(path)
    return changed
