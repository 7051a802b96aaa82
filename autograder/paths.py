"""Where the course material lives, and the fixed order of the assignments (SPEC §1)."""

from __future__ import annotations

import os
from pathlib import Path

ASSIGNMENTS: tuple[str, ...] = ("mlp", "attention", "rnn", "gnn", "transfer")


def project_root() -> Path:
    """The folder holding `assignments/` and `solutions/` (the repo, or a student bundle).

    `NNZOO_ROOT` overrides; otherwise the parent of the installed `autograder` package.
    """
    env = os.environ.get("NNZOO_ROOT")
    return Path(env).resolve() if env else Path(__file__).resolve().parent.parent


def assignment_dir(assignment: str) -> Path:
    return project_root() / "assignments" / assignment


def solution_dir(assignment: str) -> Path:
    return project_root() / "solutions" / assignment


def available_assignments(*, hidden: bool) -> list[str]:
    """Assignments present here, in SPEC order: with hidden tests (instructor) or public ones."""
    base = (solution_dir if hidden else assignment_dir)
    test_name = "test_hidden.py" if hidden else None
    found = []
    for a in ASSIGNMENTS:
        name = test_name or f"test_{a}.py"
        if (base(a) / name).is_file():
            found.append(a)
    return found
