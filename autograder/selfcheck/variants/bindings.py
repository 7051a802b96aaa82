"""Variants that bind the module's names differently (docs/spec.md §3: module-level tables of
classes, aliases, default arguments, closures), and `torch.x` as `from torch import x`.

Each keeps the behaviour exactly: the same objects are called, only found another way.
A grader that swaps a trusted piece in by replacing a module global no longer reaches
code bound this way — which is the point.
"""

from __future__ import annotations

import ast
import importlib
import types

from autograder.selfcheck.source import (
    Edit,
    NotApplicable,
    Source,
    docstring_nodes,
    in_annotation,
    parents,
)
from autograder.selfcheck.variants.analysis import (
    FreshNames,
    has_multiline_string,
    last_import_end,
    local_names,
    module_aliases,
    own_definitions,
    own_name_uses,
)
from autograder.selfcheck.variants.registry import transform

NO_USES = "no function uses another of the module's own classes or functions"


def _append(src: Source, text: str) -> Edit:
    end = len(src.text)
    lead = "" if src.text.endswith("\n") else "\n"
    return Edit(end, end, f"{lead}\n\n{text}\n")


@transform("table", "own classes and functions used through a module-level table: `_OWN[\"RNNCell\"](...)`")
def table(src: Source) -> str:
    uses = own_name_uses(src)
    if not uses:
        raise NotApplicable(NO_USES)
    name = FreshNames(src.tree)("_OWN")
    names = sorted({u.node.id for u in uses})
    edits = [src.replace(u.node, f"{name}[{u.node.id!r}]") for u in uses]
    edits.append(_append(src, f"{name} = {{{', '.join(f'{n!r}: {n}' for n in names)}}}"))
    return src.apply(edits)


@transform("aliases", "own classes and functions used through module-level aliases: `RNNCell_ = RNNCell`")
def aliases(src: Source) -> str:
    uses = own_name_uses(src)
    if not uses:
        raise NotApplicable(NO_USES)
    fresh = FreshNames(src.tree)
    alias = {n: fresh(f"{n}_") for n in sorted({u.node.id for u in uses})}
    edits = [src.replace(u.node, alias[u.node.id]) for u in uses]
    edits.append(_append(src, "\n".join(f"{a} = {n}" for n, a in alias.items())))
    return src.apply(edits)


def _parameter_insertion(src: Source, fn: ast.FunctionDef, params: list[str]) -> Edit:
    """Keyword-only parameters `params` (already `name=default`) added to `fn`'s signature."""
    a = fn.args
    new = ", ".join(params)
    star = a.vararg is not None or bool(a.kwonlyargs)
    if a.kwarg is not None:  # before **kwargs
        at = src.offset(a.kwarg.lineno, a.kwarg.col_offset) - 2
        return Edit(at, at, (new if star else f"*, {new}") + ", ")
    close = src.signature_close(fn)
    before = src.text[:close].rstrip()
    has_params = bool(a.posonlyargs or a.args or star)
    text = new if star else f"*, {new}"
    if has_params and not before.endswith(","):
        text = ", " + text
    return Edit(close, close, text)


@transform("default_arguments", "own classes and functions bound as default arguments: `def forward(self, x, *, _relu=relu)`")
def default_arguments(src: Source) -> str:
    own = own_definitions(src.tree)
    index = {id(stmt): i for i, stmt in enumerate(src.tree.body)}
    by_function: dict[ast.FunctionDef, list] = {}
    for use in own_name_uses(src):
        if own[use.node.id] < index[id(use.top)]:  # defined before the def runs: a default can hold it
            by_function.setdefault(use.function, []).append(use)
    if not by_function:
        raise NotApplicable("no function uses a class or function of the module defined before it")
    edits = []
    for fn, uses in by_function.items():
        taken = local_names(fn) | set(own)
        bound: dict[str, str] = {}
        for use in uses:
            if use.node.id not in bound:
                name = f"_{use.node.id}"
                while name in taken:
                    name += "_"
                taken.add(name)
                bound[use.node.id] = name
            edits.append(src.replace(use.node, bound[use.node.id]))
        edits.append(_parameter_insertion(src, fn, [f"{p}={n}" for n, p in bound.items()]))
    return src.apply(edits)


@transform("closures", "module-level classes and functions built by factories that capture the names they use")
def closures(src: Source) -> str:
    own = own_definitions(src.tree)
    docstrings = docstring_nodes(src.tree)
    fresh = FreshNames(src.tree)
    edits = []
    for i, stmt in enumerate(src.tree.body):
        if not isinstance(stmt, (ast.ClassDef, ast.FunctionDef)) or has_multiline_string(stmt, docstrings):
            continue
        used = sorted({n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
                       and n.id in own and own[n.id] < i})
        if not used:
            continue
        first = min([stmt.lineno] + [d.lineno for d in stmt.decorator_list])
        factory = fresh(f"_make_{stmt.name}")
        params = ", ".join(used)
        edits.append(Edit(src.line_start(first), src.line_start(first), f"def {factory}({params}):\n"))
        for lineno in range(first, stmt.end_lineno + 1):
            if src.line(lineno).strip():
                edits.append(Edit(src.line_start(lineno), src.line_start(lineno), "    "))
        end = src.line_start(stmt.end_lineno) + len(src.line(stmt.end_lineno))
        tail = "" if src.line(stmt.end_lineno).endswith("\n") else "\n"
        edits.append(Edit(end, end, f"{tail}    return {stmt.name}\n\n\n{stmt.name} = {factory}({params})\n"))
    if not edits:
        raise NotApplicable(NO_USES + " (defined before it)")
    return src.apply(edits)


def _module_attribute(path: str, attr: str) -> tuple[str, bool] | None:
    """(`path.attr`, is it a module) when `path.attr` exists, else None."""
    try:
        module = importlib.import_module(path)
    except ImportError:
        return None
    if not hasattr(module, attr):
        return None
    return f"{path}.{attr}", isinstance(getattr(module, attr), types.ModuleType)


@transform("from_imports", "`torch.tanh(x)`, `nn.Linear(...)`, `F.relu(...)` written as names imported with `from torch import ...`")
def from_imports(src: Source) -> str:
    roots = {name: path for name, path in module_aliases(src.tree).items() if path.split(".")[0] == "torch"}
    if not roots:
        raise NotApplicable("the module does not `import torch`")
    parent = parents(src.tree)
    fresh = FreshNames(src.tree)
    local: dict[tuple[str, str], str] = {}
    edits = []
    for node in ast.walk(src.tree):
        if not (isinstance(node, ast.Name) and node.id in roots and isinstance(node.ctx, ast.Load)):
            continue
        if in_annotation(node, parent) or any(node.id in local_names(fn) for fn in _enclosing_functions(node, parent)):
            continue
        path, chain = roots[node.id], node
        while isinstance(parent.get(chain), ast.Attribute) and parent[chain].value is chain:
            found = _module_attribute(path, parent[chain].attr)
            if found is None:
                break
            chain = parent[chain]
            if not found[1]:
                key = (path, chain.attr)
                if key not in local:
                    local[key] = fresh(chain.attr) if chain.attr not in fresh.taken else fresh(f"_{chain.attr}")
                edits.append(src.replace(chain, local[key]))
                break
            path = found[0]
    if not edits:
        raise NotApplicable("no `torch.<name>` is used in the module's code")
    imports = "".join(f"from {path} import {attr}" + (f" as {name}" if name != attr else "") + "\n"
                      for (path, attr), name in sorted(local.items()))
    at = src.line_start(last_import_end(src.tree) + 1) if last_import_end(src.tree) < len(src.text.splitlines()) else len(src.text)
    edits.append(Edit(at, at, imports))
    return src.apply(edits)


def _enclosing_functions(node: ast.AST, parent: dict) -> list[ast.FunctionDef]:
    found = []
    while node in parent:
        node = parent[node]
        if isinstance(node, ast.FunctionDef):
            found.append(node)
    return found
