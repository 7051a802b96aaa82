"""The student bundle: everything a student receives, and nothing else.

    assignments/<a>/      the stubs and the public tests
    autograder/           the checks and `nnzoo test` — without the answer key of the
                          conceptual questions, and with the grader's trusted
                          re-implementations of student tasks replaced by stubs (leaks.py)
    datasets/             the data files that ship
    pyproject.toml, Makefile, README.md   `make` sets up, `make test` runs the public tests

Nothing of `solutions/` is copied; `tests/test_bundle.py` proves it line by line.
"""

from __future__ import annotations

import ast
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from autograder.bundle.leaks import solution_lines, strip_leaks
from autograder.course import assignments as course_assignments
from autograder.course import project_root

MARKER = ".nnzoo-bundle"
#: instructor-only files of the package (paths relative to autograder/)
LEFT_OUT: tuple[str, ...] = ()
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")

STUDENT_README = """\
# nnzoo — the Neural Net Zoo assignments

```bash
make          # once: creates .venv with PyTorch (CPU) and nnzoo, then says what to do next
make test     # runs the public tests on your code: points per test and a hint per failure
```

Assignments: {assignments}.  For each one, fill in the stubs in `assignments/<a>/<a>.py`
— every function's docstring gives the formula, the shapes and an example — and run its
public tests:

```bash
make test A=mlp                  # one assignment (or: .venv/bin/nnzoo test mlp)
.venv/bin/pytest assignments/mlp # plain pytest works too
```

Each test shows the property of the lecture it checks.  Your grade comes from hidden
tests that check the same properties more thoroughly, so passing the public tests is a
good sign but not the whole grade.  Do not rename the functions, classes or their
arguments, and do not use the PyTorch built-in a task asks you to write (each
assignment's docstring lists them): that costs the points of the task.

`datasets/` holds the data the assignments use; nothing is downloaded.
"""

STUDENT_MAKEFILE = """\
# nnzoo (students) — `make` sets up .venv once; `make test` runs the public tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := {torch}
# one assignment: make test A=mlp
A ?=

.PHONY: setup test clean

setup: $(BIN)/nnzoo
\t@echo "Ready. Fill in assignments/<a>/<a>.py, then run: make test   (one assignment: make test A=mlp)"

$(BIN)/nnzoo: pyproject.toml
\t$(PYTHON) -m venv $(VENV)
\t$(BIN)/pip install -q --upgrade pip
\t$(BIN)/pip install -q $(TORCH)
\t$(BIN)/pip install -q -e .
\ttouch $@

test: $(BIN)/nnzoo
\t$(BIN)/nnzoo test $(A)

clean:
\trm -rf $(VENV) *.egg-info
"""


class BundleError(Exception):
    """The bundle cannot be written (e.g. DIR holds other files)."""


@dataclass
class BundleReport:
    """What `write_bundle` had to leave out of the grader's package.

    `stubbed`: "file:name" of each definition replaced by a stub (it re-implements a
    student task); `still_used`: "file uses name" where bundled code still calls one of
    them — those public checks cannot pass in the bundle until the grader keeps that
    definition out of the shipped package.
    """

    stubbed: list[str] = field(default_factory=list)
    still_used: list[str] = field(default_factory=list)


def _names_used(source: str) -> set[str]:
    used: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, ast.Attribute):
            used.add(node.attr)
        elif isinstance(node, ast.alias):
            used.add(node.name)
    return used


def _torch_pin(root: Path) -> str:
    makefile = root / "Makefile"
    match = re.search(r"^TORCH\s*:=\s*(\S+)", makefile.read_text(), re.M) if makefile.is_file() else None
    return match.group(1) if match else "torch"


def _prepare(out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise BundleError(f"{out} is not empty — give a new folder (or one a previous `nnzoo release --out` wrote)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def _copy_package(root: Path, out: Path) -> list[tuple[str, str]]:
    """Copy autograder/ without its instructor-only files; returns (file, name) of each
    definition stubbed out."""
    source, target = root / "autograder", out / "autograder"
    shutil.copytree(source, target, ignore=IGNORED)
    for rel in LEFT_OUT:
        (target / rel).unlink(missing_ok=True)
    lines = solution_lines(root / "solutions")
    stubbed = []
    for path in sorted(target.rglob("*.py")):
        new, names = strip_leaks(path.read_text(), lines)
        if names:
            path.write_text(new)
            stubbed += [(str(path.relative_to(out)), n) for n in names]
    return stubbed


def _still_used(out: Path, stubbed: list[tuple[str, str]]) -> list[str]:
    names = {n for _, n in stubbed}
    found = []
    for path in sorted(out.rglob("*.py")):
        for name in sorted(_names_used(path.read_text()) & names):
            found.append(f"{path.relative_to(out)} uses {name}")
    return found


def write_bundle(out: Path, assignments: list[str] | None = None) -> BundleReport:
    """Write the student bundle into `out` (new, or a previous bundle); report what was
    stubbed out of the grader's package (trusted re-implementations of student tasks)."""
    root = project_root()
    out = Path(out)
    protected = [root, *(root / d for d in ("assignments", "autograder", "solutions", "datasets"))]
    if any(out.resolve() == p.resolve() or p.resolve() in out.resolve().parents for p in protected[1:]) \
            or out.resolve() == root.resolve():
        raise BundleError(f"{out} is inside the project's own folders — give a folder outside them")
    chosen = [a.name for a in course_assignments(hidden=False) if assignments is None or a.name in assignments]
    if not chosen:
        raise BundleError("no assignment with public tests to bundle")
    _prepare(out)
    for a in chosen:
        shutil.copytree(root / "assignments" / a, out / "assignments" / a, ignore=IGNORED)
    stubbed = _copy_package(root, out)
    if (root / "datasets").is_dir():
        shutil.copytree(root / "datasets", out / "datasets", ignore=IGNORED)
    shutil.copy2(root / "pyproject.toml", out / "pyproject.toml")
    if (root / "LICENSE").is_file():
        shutil.copy2(root / "LICENSE", out / "LICENSE")
    (out / "README.md").write_text(STUDENT_README.format(assignments=", ".join(chosen)))
    (out / "Makefile").write_text(STUDENT_MAKEFILE.format(torch=_torch_pin(root)))
    (out / ".gitignore").write_text(".venv/\n*.egg-info/\n__pycache__/\n")
    (out / MARKER).write_text("written by `nnzoo release --out`; rerunning it replaces this folder\n")
    return BundleReport([f"{f}:{n}" for f, n in stubbed], _still_used(out, stubbed))


def release_bundle(out: Path, assignments: list[str] | None) -> int:
    """`nnzoo release --out DIR`: write the bundle; an exit code for the command line."""
    try:
        report = write_bundle(out, assignments)
    except BundleError as exc:
        print(f"nnzoo release: {exc}", file=sys.stderr)
        return 2
    print(f"wrote the student bundle to {out} — students run `make` then `make test` in it")
    if report.stubbed:
        print("left out of the bundle's autograder/ (they re-implement student tasks): " + ", ".join(report.stubbed))
    for line in report.still_used:
        print(f"warning: {line}, which the bundle leaves out — the public checks that need it fail there", file=sys.stderr)
    return 0
