"""Mutation operators on statements and data flow: `.detach()`, `.squeeze()`, ignored
arguments, off-by-one bounds, deleted statements, negated conditions, swapped unpacking."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from autograder.selfcheck.mutants.registry import (
    Context,
    Site,
    operator,
    replacing,
    shorten,
)
from autograder.selfcheck.source import Edit, parenthesised, qualified_name

NOT_TENSORS = {"item", "tolist", "parameters", "named_parameters", "modules", "manual_seed", "Generator", "len", "range",
               "zip", "enumerate", "isinstance", "list", "tuple", "dict", "set", "int", "float", "str", "bool", "Adam",
               "SGD", "ModuleList", "Sequential", "Parameter", "Linear", "LayerNorm", "Embedding", "Dropout"}


def _tensor_like(node: ast.AST) -> bool:
    if isinstance(node, ast.BinOp):
        return True
    if isinstance(node, ast.Subscript):
        return True
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        return name not in NOT_TENSORS and not name[:1].isupper()
    return False


def _in_init(ctx: Context, node: ast.AST) -> bool:
    return qualified_name(node, ctx.parent).endswith("__init__")


@operator("detach", "insert `.detach()` on an assigned or returned tensor")
def detach(ctx: Context) -> Iterator[Site]:
    for node in ctx.nodes(ast.Assign, ast.Return):
        value = node.value
        if isinstance(value, ast.Tuple) and value.elts:
            value = value.elts[0]
        if value is None or _in_init(ctx, node) or not _tensor_like(value):
            continue
        yield replacing(ctx, value, f"({ctx.text(value)}).detach()")


@operator("squeeze", "squeeze the returned tensor (a batch of one loses its batch dimension)")
def squeeze(ctx: Context) -> Iterator[Site]:
    for node in ctx.nodes(ast.Return):
        value = node.value
        if isinstance(value, ast.Tuple) and value.elts:
            value = value.elts[0]
        if value is None or _in_init(ctx, node) or not (_tensor_like(value) or isinstance(value, ast.Name)):
            continue
        site = replacing(ctx, value, f"({ctx.text(value)}).squeeze()")
        yield Site(site.edits, site.node, site.change, spec_observable=True)


def _region_functions(ctx: Context) -> Iterator[tuple[ast.FunctionDef, list[ast.stmt]]]:
    """Functions with solution code, and their statements inside regions (in order)."""
    for fn in ast.walk(ctx.src.tree):
        if isinstance(fn, ast.FunctionDef):
            inside = [s for s in ast.walk(fn) if isinstance(s, ast.stmt) and s is not fn and ctx.mutable(s)
                      and ctx.src.line(s.lineno)[: s.col_offset].strip() == ""]
            if inside:
                yield fn, sorted(inside, key=lambda s: (s.lineno, s.col_offset))


@operator("ignore_argument", "ignore a parameter: bind it to its default at the start of the solution")
def ignore_argument(ctx: Context) -> Iterator[Site]:
    for fn, inside in _region_functions(ctx):
        a = fn.args
        params = list(zip(a.args[len(a.args) - len(a.defaults):], a.defaults))
        params += [(arg, d) for arg, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None]
        first = inside[0]
        used = {n.id for s in inside for n in ast.walk(s) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        public = not any(part.startswith("_") and not part.startswith("__") for part in qualified_name(first, ctx.parent).split("."))
        for arg, default in params:
            if arg.arg not in used:
                continue
            at = ctx.src.line_start(first.lineno) + len(ctx.src.indent_of(first))
            text = f"{arg.arg} = {ctx.text(default)}  # mutant: argument ignored\n{ctx.src.indent_of(first)}"
            yield Site((Edit(at, at, text),), first, f"`{arg.arg}` ignored (always `{shorten(ctx.text(default))}`) in {fn.name}",
                       spec_observable=public)


@operator("off_by_one", "shift a loop bound or a slice bound by one")
def off_by_one(ctx: Context) -> Iterator[Site]:
    for node in ctx.nodes(ast.Call, ast.Slice):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range" and node.args:
            bounds = [(node.args[0], "- 1")] if len(node.args) == 1 else [(node.args[0], "+ 1"), (node.args[1], "- 1")]
        elif isinstance(node, ast.Slice):
            bounds = [(b, s) for b, s in ((node.lower, "+ 1"), (node.upper, "- 1"), (node.upper, "+ 1")) if b is not None]
        else:
            continue
        for bound, shift in bounds:
            yield replacing(ctx, bound, f"{parenthesised(ctx.text(bound))} {shift}")


@operator("delete_statement", "delete a call statement, a `raise`, or an update `x = f(x)`")
def delete_statement(ctx: Context) -> Iterator[Site]:
    for node in ast.walk(ctx.src.tree):
        if not isinstance(node, ast.stmt) or not ctx.src.in_solution(node) or node in ctx.docstrings:
            continue
        if ctx.src.line(node.lineno)[: node.col_offset].strip():
            continue
        update = (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                  and any(isinstance(n, ast.Name) and n.id == node.targets[0].id for n in ast.walk(node.value)))
        call = isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
        if call or update or isinstance(node, (ast.Raise, ast.AugAssign)):
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue
            yield Site((ctx.src.replace(node, "pass"),), node, f"`{shorten(ctx.text(node))}` deleted")


@operator("negate_condition", "negate the condition of an `if`, `while` or conditional expression")
def negate_condition(ctx: Context) -> Iterator[Site]:
    for node in ctx.nodes(ast.If, ast.While, ast.IfExp):
        if ctx.mutable(node.test):
            yield replacing(ctx, node.test, f"not {parenthesised(ctx.text(node.test))}")


@operator("swap_unpacking", "swap the first two names of an unpacking, or two returned values")
def swap_unpacking(ctx: Context) -> Iterator[Site]:
    for node in ctx.nodes(ast.Assign, ast.Return):
        tup = node.targets[0] if isinstance(node, ast.Assign) else node.value
        if isinstance(tup, ast.Tuple) and len(tup.elts) >= 2 and not any(isinstance(e, ast.Starred) for e in tup.elts[:2]):
            a, b = tup.elts[0], tup.elts[1]
            if ctx.text(a) != ctx.text(b):
                edits = (ctx.src.replace(a, ctx.text(b)), ctx.src.replace(b, ctx.text(a)))
                yield Site(edits, tup, f"`{shorten(ctx.text(a))}` ↔ `{shorten(ctx.text(b))}` in `{shorten(ctx.text(node))}`")
