"""What the variant transforms need to know about a module: its own definitions, the
functions that use them, local names, and fresh names that collide with nothing."""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass

from autograder.selfcheck.source import Source, in_annotation, parents


@dataclass(frozen=True)
class Use:
    """A name of the module's own classes or functions, used inside `function`.

    `top` is the module-level statement holding that function (a class or a def)."""

    node: ast.Name
    function: ast.FunctionDef
    top: ast.stmt


def own_definitions(tree: ast.Module) -> dict[str, int]:
    """Module-level classes, functions and constants (`NAME = ...`) → the index of their
    statement in the body."""
    found = {}
    for i, stmt in enumerate(tree.body):
        if isinstance(stmt, (ast.ClassDef, ast.FunctionDef)):
            found[stmt.name] = i
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            found.update({t.id: i for t in targets if isinstance(t, ast.Name)})
    return found


def functions(tree: ast.Module) -> list[tuple[ast.FunctionDef, ast.ClassDef | None, ast.stmt]]:
    """Every module-level function and every method of a module-level class:
    `(function, its class or None, the module-level statement)`."""
    found = []
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef):
            found.append((stmt, None, stmt))
        elif isinstance(stmt, ast.ClassDef):
            found += [(item, stmt, stmt) for item in stmt.body if isinstance(item, ast.FunctionDef)]
    return found


def local_names(fn: ast.FunctionDef) -> set[str]:
    """Names bound anywhere inside `fn` (parameters, assignments, loop targets, nested
    definitions, imports) — an over-approximation of its locals, which is the safe side."""
    a = fn.args
    names = {arg.arg for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs]}
    names |= {arg.arg for arg in (a.vararg, a.kwarg) if arg is not None}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node is not fn:
            names.add(node.name)
        elif isinstance(node, ast.arg) and node is not fn:
            names.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


def body_nodes(fn: ast.FunctionDef) -> list[ast.AST]:
    """Every node of `fn`'s body (not its decorators, defaults or annotations)."""
    return [node for stmt in fn.body for node in ast.walk(stmt)]


def own_name_uses(src: Source) -> list[Use]:
    """Loads of the module's own classes and functions inside function bodies (where they
    are looked up at call time — the binding a student may organise differently)."""
    own = own_definitions(src.tree)
    parent = parents(src.tree)
    uses = []
    for fn, _, top in functions(src.tree):
        local = local_names(fn)
        for node in body_nodes(fn):
            if (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in own
                    and node.id not in local and not in_annotation(node, parent)):
                uses.append(Use(node, fn, top))
    return uses


def all_identifiers(tree: ast.AST) -> set[str]:
    """Every name the module binds or reads (names, arguments, definitions, imports, builtins);
    attribute names are not names and do not collide."""
    found = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return found


class FreshNames:
    """Hands out identifiers that collide with nothing in the module (nor with each other)."""

    def __init__(self, tree: ast.AST) -> None:
        self.taken = all_identifiers(tree)

    def __call__(self, wanted: str) -> str:
        name, n = wanted, 1
        while name in self.taken:
            n += 1
            name = f"{wanted}{n}"
        self.taken.add(name)
        return name


def is_pure(node: ast.AST) -> bool:
    """An expression without calls or side effects, safe to evaluate twice or not at all."""
    if isinstance(node, (ast.Name, ast.Constant)):
        return True
    if isinstance(node, ast.Attribute):
        return is_pure(node.value)
    if isinstance(node, ast.Subscript):
        return is_pure(node.value) and is_pure(node.slice)
    if isinstance(node, ast.Slice):
        return all(part is None or is_pure(part) for part in (node.lower, node.upper, node.step))
    if isinstance(node, ast.Tuple):
        return all(is_pure(e) for e in node.elts)
    return isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant)


def module_aliases(tree: ast.Module) -> dict[str, str]:
    """Top-level `import torch`, `import torch.nn as nn` … → local name → module path."""
    found = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    found[alias.asname] = alias.name
                else:
                    found[alias.name.split(".")[0]] = alias.name.split(".")[0]
    return found


def last_import_end(tree: ast.Module) -> int:
    """The last line of the last top-level import (0 when there is none)."""
    ends = [stmt.end_lineno for stmt in tree.body if isinstance(stmt, (ast.Import, ast.ImportFrom))]
    return max(ends, default=0)


def forwarded_arguments(fn: ast.FunctionDef, skip_first: bool) -> str:
    """The argument list that passes `fn`'s own parameters on unchanged."""
    a = fn.args
    positional = [arg.arg for arg in [*a.posonlyargs, *a.args]][1 if skip_first else 0:]
    parts = positional[:]
    if a.vararg:
        parts.append(f"*{a.vararg.arg}")
    parts += [f"{arg.arg}={arg.arg}" for arg in a.kwonlyargs]
    if a.kwarg:
        parts.append(f"**{a.kwarg.arg}")
    return ", ".join(parts)


def has_multiline_string(node: ast.AST, docstrings: set[ast.AST]) -> bool:
    """A string literal spanning lines (re-indenting the code would change its value)."""
    return any(isinstance(n, (ast.Constant, ast.JoinedStr)) and n not in docstrings and n.end_lineno > n.lineno
               and (not isinstance(n, ast.Constant) or isinstance(n.value, str)) for n in ast.walk(node))
