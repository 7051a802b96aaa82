"""Keeping solution code out of what students receive.

A *solution line* is a non-trivial line inside a `### BEGIN SOLUTION` … `### END SOLUTION`
region of a reference.  The grader's own package holds a few trusted re-implementations
(e.g. a plain-torch `scatter` it swaps in so that one broken piece costs its points only
once); the student bundle replaces every top-level definition that repeats a solution
line by a stub, so the bundle holds none.
"""

from __future__ import annotations

import ast
from pathlib import Path

from autograder.course.regions import SOLUTION, inside

#: Idioms every training loop shares (the grader's own loops too); they reveal nothing
#: the docstrings do not already say.
IDIOMS = frozenset({
    "optimizer.zero_grad()",
    "loss.backward()",
    "optimizer.step()",
    "with torch.no_grad():",
    "for _ in range(epochs):",
    "optimizer = torch.optim.Adam(model.parameters(), lr=lr)",
    "for name, parameter in model.named_parameters():",
    "outputs = []",
    "else:",
    "try:",
    "finally:",
})


def code_part(line: str) -> str:
    """The line without a trailing comment (a `#` inside a string is kept)."""
    stripped = line.strip()
    for i, ch in enumerate(stripped):
        if ch == "#" and stripped[:i].count('"') % 2 == 0 and stripped[:i].count("'") % 2 == 0:
            return stripped[:i].rstrip()
    return stripped


def is_trivial(line: str) -> bool:
    """Short or generic lines (`return x`, `)`, a training-loop idiom) say nothing of a solution."""
    code = code_part(line)
    return len(code) < 20 or code in IDIOMS or not any(c.isalpha() for c in code)


def solution_lines(solutions: Path) -> set[str]:
    """Every non-trivial line (stripped, comment removed) inside a solution region of `solutions/*/*.py`."""
    found: set[str] = set()
    for path in sorted(solutions.glob("*/*.py")):
        found.update(code_part(line) for line in inside(path.read_text(), SOLUTION) if not is_trivial(line))
    return found


def leaking_lines(text: str, lines: set[str]) -> list[str]:
    """The lines of `text` that are solution lines."""
    return [code_part(line) for line in text.splitlines() if code_part(line) in lines]


def strip_leaks(source: str, lines: set[str]) -> tuple[str, list[str]]:
    """`source` with every top-level function or class that repeats a solution line replaced
    by a stub that raises; returns the new source and the names replaced."""
    if not leaking_lines(source, lines):
        return source, []
    tree = ast.parse(source)
    text = source.splitlines(keepends=True)
    replaced: list[str] = []
    out: list[str] = []
    position = 0
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
        block = "".join(text[first:node.end_lineno])
        if not leaking_lines(block, lines):
            continue
        out.append("".join(text[position:first]))
        message = f"{node.name} is part of the grader and is not in the student bundle"
        if isinstance(node, ast.ClassDef):
            out.append(f"class {node.name}:\n    def __init__(self, *args, **kwargs):\n"
                       f"        raise RuntimeError({message!r})\n")
        else:
            out.append(f"def {node.name}(*args, **kwargs):\n    raise RuntimeError({message!r})\n")
        position = node.end_lineno
        replaced.append(node.name)
    out.append("".join(text[position:]))
    return "".join(out), replaced
