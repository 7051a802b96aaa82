"""Faithful source rewrites: edit a Python file by the spans of its AST nodes.

A rewrite replaces the exact text of a few nodes and keeps every other character — the
comments, the layout, the `### BEGIN/END SOLUTION` markers — so a variant or a mutant
differs from the reference only where it says, and its diff is readable.  (`ast.unparse`
would reformat the whole file; stdlib `ast` positions are enough to avoid it.)

Positions: `ast` gives columns in UTF-8 bytes; `Source` turns them into character
offsets, so non-ASCII comments and strings are safe.
"""

from __future__ import annotations

import ast
import difflib
import io
import itertools
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property

from autograder.course.regions import SOLUTION, lines


class NotApplicable(Exception):
    """A transform found nothing in this file it can rewrite safely (the message says why)."""


@dataclass(frozen=True)
class Edit:
    """Replace the characters `start:end` of the text by `text` (`start == end`: insert)."""

    start: int
    end: int
    text: str


class Source:
    """A Python file's text, its AST and the offsets of its nodes."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tree = ast.parse(text)
        self._lines = text.splitlines(keepends=True)
        self._starts = [0]
        for line in self._lines:
            self._starts.append(self._starts[-1] + len(line))

    def offset(self, lineno: int, col_bytes: int) -> int:
        """The character offset of (1-based line, byte column)."""
        line = self._lines[lineno - 1] if lineno - 1 < len(self._lines) else ""
        return self._starts[lineno - 1] + len(line.encode()[:col_bytes].decode(errors="replace"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        return self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset)

    def segment(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.text[start:end]

    def line(self, lineno: int) -> str:
        return self._lines[lineno - 1]

    def indent_of(self, node: ast.AST) -> str:
        line = self.line(node.lineno)
        return line[: len(line) - len(line.lstrip())]

    def line_start(self, lineno: int) -> int:
        return self._starts[lineno - 1]

    @cached_property
    def solution_lines(self) -> frozenset[int]:
        """Line numbers inside `### BEGIN/END SOLUTION` regions (markers excluded)."""
        return frozenset(line.number for line in lines(self.text, SOLUTION) if line.kind == "inside")

    def in_solution(self, node: ast.AST) -> bool:
        return all(n in self.solution_lines for n in range(node.lineno, node.end_lineno + 1))

    def apply(self, edits: Iterable[Edit]) -> str:
        """The text with `edits` applied (they must not overlap)."""
        ordered = sorted(edits, key=lambda e: (e.start, e.end))
        for a, b in itertools.pairwise(ordered):
            if b.start < a.end:
                raise NotApplicable(f"two edits overlap at character {b.start}")
        out, at = [], 0
        for e in ordered:
            out.append(self.text[at:e.start])
            out.append(e.text)
            at = e.end
        out.append(self.text[at:])
        return "".join(out)

    def replace(self, node: ast.AST, text: str) -> Edit:
        start, end = self.span(node)
        return Edit(start, end, text)

    def token_between(self, left: ast.AST, right: ast.AST, symbol: str) -> Edit | None:
        """An edit spanning the operator `symbol` between two sibling nodes, or None when
        the text between them is not just that operator (and brackets, blanks)."""
        start, end = self.span(left)[1], self.span(right)[0]
        between = self.text[start:end]
        found = [tok for tok in _tokens(between) if tok.string not in "()"]
        if [t.string for t in found] != symbol.split():
            return None
        first, last = found[0], found[-1]
        return Edit(start + _char(between, first.start), start + _char(between, last.end), symbol)

    def signature_close(self, fn: ast.FunctionDef) -> int:
        """The offset of the `)` that closes `fn`'s parameter list."""
        start = self.offset(fn.lineno, fn.col_offset)
        text = self.text[start:]
        depth = 0
        for tok in _tokens(text):
            if tok.string == "(":
                depth += 1
            elif tok.string == ")":
                depth -= 1
                if depth == 0:
                    return start + _char(text, tok.start)
        raise NotApplicable(f"line {fn.lineno}: cannot find the end of {fn.name}'s parameters")


def _tokens(text: str) -> Iterator[tokenize.TokenInfo]:
    skip = {tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type not in skip:
                yield tok
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return


def _char(text: str, position: tuple[int, int]) -> int:
    """Character offset in `text` of a tokenize (row, col) position (col in characters)."""
    row, col = position
    rows = text.splitlines(keepends=True)
    return sum(len(r) for r in rows[: row - 1]) + col


def parenthesised(text: str) -> str:
    """`text` safe to put in any operand position."""
    return text if text.isidentifier() else f"({text})"


def unified_diff(before: str, after: str, name: str) -> str:
    """A short unified diff (2 lines of context) of two versions of `name`."""
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        f"reference/{name}", f"rewritten/{name}", n=2))


def parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    """Each node's parent."""
    found: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            found[child] = node
    return found


def enclosing_function(node: ast.AST, parent: dict[ast.AST, ast.AST]) -> ast.FunctionDef | None:
    while node in parent:
        node = parent[node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return node
    return None


def qualified_name(node: ast.AST, parent: dict[ast.AST, ast.AST]) -> str:
    """`Class.method` or `function` enclosing `node` ("<module>" at top level)."""
    names = []
    while node in parent:
        node = parent[node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
    return ".".join(reversed(names)) or "<module>"


def docstring_nodes(tree: ast.AST) -> set[ast.AST]:
    """The string constants that are docstrings (never rewritten)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                found.add(first.value)
    return found


def in_annotation(node: ast.AST, parent: dict[ast.AST, ast.AST]) -> bool:
    """Whether `node` is part of an annotation (never evaluated under `from __future__ import annotations`)."""
    child = node
    while child in parent:
        up = parent[child]
        if isinstance(up, ast.arg) and up.annotation is child:
            return True
        if isinstance(up, (ast.FunctionDef, ast.AsyncFunctionDef)) and up.returns is child:
            return True
        if isinstance(up, ast.AnnAssign) and up.annotation is child:
            return True
        child = up
    return False
