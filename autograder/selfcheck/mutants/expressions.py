"""Mutation operators on expressions: arithmetic and comparison operators, dropped
terms and unary operators, constants, sibling functions, reduction dims, transposes."""

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
from autograder.selfcheck.source import Edit, parenthesised

BINARY = {ast.Add: ("+", "-"), ast.Sub: ("-", "+"), ast.Mult: ("*", "/"), ast.Div: ("/", "*"),
          ast.FloorDiv: ("//", "/"), ast.Pow: ("**", "*"), ast.Mod: ("%", "//")}
AUGMENTED = {ast.Add: ("+=", "-="), ast.Sub: ("-=", "+="), ast.Mult: ("*=", "/="), ast.Div: ("/=", "*=")}
COMPARE = {ast.Lt: ("<", "<="), ast.LtE: ("<=", "<"), ast.Gt: (">", ">="), ast.GtE: (">=", ">"),
           ast.Eq: ("==", "!="), ast.NotEq: ("!=", "=="), ast.Is: ("is", "is not"), ast.IsNot: ("is not", "is"),
           ast.In: ("in", "not in"), ast.NotIn: ("not in", "in")}


@operator("arithmetic", "swap an arithmetic operator (+ ↔ -, * ↔ /, ** → *, …)")
def arithmetic(ctx: Context) -> Iterator[Site]:
    for node in ctx.nodes(ast.BinOp, ast.AugAssign):
        table = AUGMENTED if isinstance(node, ast.AugAssign) else BINARY
        if type(node.op) not in table:
            continue
        old, new = table[type(node.op)]
        left, right = (node.target, node.value) if isinstance(node, ast.AugAssign) else (node.left, node.right)
        edit = ctx.src.token_between(left, right, old)
        if edit is not None:
            yield Site((Edit(edit.start, edit.end, new),), node, f"`{old}` → `{new}` in `{shorten(ctx.text(node))}`")


@operator("drop_term", "drop one operand of a sum, difference, product or quotient")
def drop_term(ctx: Context) -> Iterator[Site]:
    for node in ctx.nodes(ast.BinOp):
        if isinstance(node.op, (ast.Add, ast.Mult)):
            sides = (node.left, node.right)
        elif isinstance(node.op, (ast.Sub, ast.Div)):
            sides = (node.left,)
        else:
            continue
        for kept in sides:
            yield replacing(ctx, node, parenthesised(ctx.text(kept)))


@operator("unary", "remove a unary operator (`-x`, `~mask`, `not c`)")
def unary(ctx: Context) -> Iterator[Site]:
    for node in ctx.nodes(ast.UnaryOp):
        if isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            continue  # a negative literal: the constant operator perturbs it
        if isinstance(node.op, (ast.USub, ast.Invert, ast.Not)):
            yield replacing(ctx, node, parenthesised(ctx.text(node.operand)))


@operator("comparison", "flip a comparison (< ↔ <=, == ↔ !=, is ↔ is not, in ↔ not in)")
def comparison(ctx: Context) -> Iterator[Site]:
    for node in ctx.nodes(ast.Compare):
        left = node.left
        for op, right in zip(node.ops, node.comparators):
            old, new = COMPARE[type(op)]
            edit = ctx.src.token_between(left, right, old)
            if edit is not None:
                yield Site((Edit(edit.start, edit.end, new),), node, f"`{old}` → `{new}` in `{shorten(ctx.text(node))}`")
            left = right


#: Strings that stand for one another (beyond those compared with the same expression).
STRING_FAMILIES = (("amax", "amin"), ("-inf", "inf"), ("sum", "mean"))


def _string_families(tree: ast.AST) -> list[set[str]]:
    """Sets of strings that are alternatives in the code: compared with the same
    expression (`reduce == "mean"`, `reduce in ("sum", "mean")`), or the keys of one dict."""
    groups: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            key = ast.dump(node.left)
            for comp in node.comparators:
                items = comp.elts if isinstance(comp, (ast.Tuple, ast.List, ast.Set)) else [comp]
                groups.setdefault(key, set()).update(i.value for i in items
                                                     if isinstance(i, ast.Constant) and isinstance(i.value, str))
        elif isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
            if len(keys) > 1:
                groups[f"dict{id(node)}"] = keys
    return [g for g in groups.values() if len(g) > 1] + [set(f) for f in STRING_FAMILIES]


def _numbers(value: object) -> list[object]:
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value - 1]
    if isinstance(value, float):
        return [1.0] if value == 0.0 else [value * 2, value / 2]
    return []


@operator("constant", "perturb a constant (int ± 1, float × 2 or ÷ 2, a flipped bool, another string of its family)")
def constant(ctx: Context) -> Iterator[Site]:
    families = _string_families(ctx.src.tree)
    for node in ctx.nodes(ast.Constant, ast.UnaryOp):
        if isinstance(node, ast.UnaryOp):
            if not (isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant)
                    and isinstance(node.operand.value, (int, float)) and not isinstance(node.operand.value, bool)):
                continue
            value = -node.operand.value
        else:
            parent = ctx.parent.get(node)
            if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.USub):
                continue  # mutated as the negative literal
            value = node.value
        if isinstance(value, str):
            others = sorted(set().union(*[f for f in families if value in f]) - {value})
            for other in others:
                yield replacing(ctx, node, repr(other))
        else:
            for new in _numbers(value):
                yield replacing(ctx, node, repr(new))


#: A function or method and a sibling with the same signature and another meaning.
FUNCTION_SWAPS = {
    "sigmoid": "tanh", "tanh": "sigmoid", "relu": "sigmoid", "softmax": "log_softmax", "log_softmax": "softmax",
    "sum": "mean", "mean": "sum", "max": "min", "min": "max", "amax": "amin", "amin": "amax",
    "argmax": "argmin", "argmin": "argmax", "tril": "triu", "triu": "tril", "zeros": "ones", "ones": "zeros",
    "zeros_like": "ones_like", "ones_like": "zeros_like", "new_zeros": "new_ones", "new_ones": "new_zeros",
    "norm": "sum", "eval": "train", "train": "eval", "no_grad": "enable_grad", "enable_grad": "no_grad",
    "cross_entropy": "nll_loss", "uniform_": "normal_", "xavier_uniform_": "xavier_normal_", "zeros_": "ones_",
    "stack": "cat", "cat": "stack", "Adam": "SGD", "index_add": "index_copy", "index_add_": "index_copy_",
}


@operator("function", "call a sibling function (sigmoid ↔ tanh, sum ↔ mean, tril ↔ triu, …) or swap clamp's min/max")
def function(ctx: Context) -> Iterator[Site]:
    for node in ctx.nodes(ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if name in FUNCTION_SWAPS:
            end = ctx.src.span(func)[1]
            new = FUNCTION_SWAPS[name]
            yield Site((Edit(end - len(name), end, new),), node, f"`{name}(…)` → `{new}(…)` in `{shorten(ctx.text(node))}`")
        for kw in node.keywords:
            if kw.arg in ("min", "max"):
                start = ctx.src.offset(kw.lineno, kw.col_offset)
                other = "max" if kw.arg == "min" else "min"
                yield Site((Edit(start, start + len(kw.arg), other),), node, f"`{kw.arg}=` → `{other}=` in `{shorten(ctx.text(node))}`")


@operator("reduction_dim", "drop a `dim=` argument (reduce or split over every dimension / the first)")
def reduction_dim(ctx: Context) -> Iterator[Site]:
    for node in ctx.nodes(ast.Call):
        for i, kw in enumerate(node.keywords):
            if kw.arg != "dim":
                continue
            start, end = ctx.src.offset(kw.lineno, kw.col_offset), ctx.src.span(kw.value)[1]
            before = ctx.src.text[:start].rstrip()
            if before.endswith(","):
                start = len(before) - 1
            elif ctx.src.text[end:].lstrip().startswith(","):
                end = len(ctx.src.text) - len(ctx.src.text[end:].lstrip()) + 1
            yield Site((Edit(start, end, ""),), node, f"`dim=` dropped from `{shorten(ctx.text(node))}`")


@operator("transpose", "drop a transpose (`.T`, `.t()`, `.transpose(a, b)`, `.mT`)")
def transpose(ctx: Context) -> Iterator[Site]:
    for node in ctx.nodes(ast.Attribute, ast.Call):
        if isinstance(node, ast.Attribute) and node.attr in ("T", "mT") and isinstance(node.ctx, ast.Load):
            yield replacing(ctx, node, parenthesised(ctx.text(node.value)))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("t", "transpose", "swapaxes")):
            yield replacing(ctx, node, parenthesised(ctx.text(node.func.value)))
