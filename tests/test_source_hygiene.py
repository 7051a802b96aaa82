"""The grader's own source: no module defines a top-level name twice.

A second `def` of a name silently replaces the first for every caller in the module — the
judge's safe comparison of replies was once shadowed by a tensor helper of the same name,
so a fixed grader error came back (an audit, 2026-12-05).  ruff's F811 does not see it when
the first definition is used inside a function."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([*(ROOT / "autograder").rglob("*.py"), *(ROOT / "solutions").rglob("test_hidden.py"),
                  *(ROOT / "assignments").rglob("test_*.py")])


def defined_twice(path: Path) -> list[str]:
    names = Counter(node.name for node in ast.parse(path.read_text()).body
                    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))
    return sorted(name for name, count in names.items() if count > 1)


def test_no_module_of_the_grader_defines_a_function_or_class_twice():
    assert SOURCES
    twice = {str(p.relative_to(ROOT)): names for p in SOURCES if (names := defined_twice(p))}
    assert not twice, twice
