"""The mutants' registry: what each operator module registers into, and what runs them
(the package's docstring, `autograder.selfcheck.mutants`, says what each one makes)."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from autograder.selfcheck.source import (
    Edit,
    NotApplicable,
    Source,
    docstring_nodes,
    in_annotation,
    parents,
    qualified_name,
)


@dataclass(frozen=True)
class Mutant:
    """One mutant: what changed (`description`), where (`lines` of the reference,
    `function`), by which operator, and its full text."""

    operator: str
    description: str
    source: str
    lines: tuple[int, ...]
    function: str
    spec_observable: bool = False


@dataclass(frozen=True)
class Site:
    """What an operator yields: the edits, the node mutated and what was done."""

    edits: tuple[Edit, ...]
    node: ast.AST
    change: str
    spec_observable: bool = False


class Context:
    """The reference and what operators ask of it."""

    def __init__(self, src: Source) -> None:
        self.src = src
        self.parent = parents(src.tree)
        self.docstrings = docstring_nodes(src.tree)
        self._raises = {n for r in ast.walk(src.tree) if isinstance(r, ast.Raise) for n in ast.walk(r)}

    def mutable(self, node: ast.AST) -> bool:
        """Inside a solution region, and not a docstring, annotation, f-string or raise."""
        if not hasattr(node, "lineno") or not self.src.in_solution(node):
            return False
        if node in self.docstrings or node in self._raises or in_annotation(node, self.parent):
            return False
        up = node
        while up in self.parent:
            up = self.parent[up]
            if isinstance(up, ast.JoinedStr):
                return False
        return True

    def nodes(self, *types: type) -> Iterator[ast.AST]:
        for node in ast.walk(self.src.tree):
            if isinstance(node, types) and self.mutable(node):
                yield node

    def text(self, node: ast.AST) -> str:
        return self.src.segment(node)


Operator = Callable[[Context], Iterator[Site]]
OPERATORS: dict[str, tuple[str, Operator]] = {}


def operator(name: str, description: str) -> Callable[[Operator], Operator]:
    def register(fn: Operator) -> Operator:
        OPERATORS[name] = (description, fn)
        return fn
    return register


def shorten(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def replacing(ctx: Context, node: ast.AST, new: str) -> Site:
    return Site((ctx.src.replace(node, new),), node, f"`{shorten(ctx.text(node))}` → `{shorten(new)}`")




def mutants_of(text: str, only: set[str] | None = None, problems: list[str] | None = None) -> list[Mutant]:
    """Every distinct mutant of `text`, in operator order then source order; an operator
    that fails adds one line to `problems` and the others go on."""
    src = Source(text)
    ctx = Context(src)
    seen = {text}
    made = []
    for name, (_, fn) in OPERATORS.items():
        if only and name not in only:
            continue
        try:
            sites = list(fn(ctx))
        except Exception as exc:  # noqa: BLE001 — an operator's bug costs its own mutants only
            if problems is not None:
                problems.append(f"mutants {name}: the operator failed ({type(exc).__name__}: {exc}) — skipped")
            continue
        for site in sites:
            try:
                out = src.apply(site.edits)
            except NotApplicable:
                continue
            if out in seen:
                continue
            try:
                compile(out, f"<mutant {name}>", "exec")
            except SyntaxError:
                continue
            seen.add(out)
            lines = tuple(range(site.node.lineno, site.node.end_lineno + 1))
            made.append(Mutant(name, f"line {site.node.lineno}: {site.change}", out, lines,
                               qualified_name(site.node, ctx.parent), site.spec_observable))
    return made
