"""Generated mutants: single-point mutations of the reference inside its solution regions.

Each operator walks the reference's AST and yields one mutant per place it applies: one
edit (or one pair of edits for a swap) of the original text, so the mutant's diff is the
bug and nothing else.  Mutants are never made in docstrings, comments, annotations or the
text of an exception (SPEC grades an exception by its type), nor outside
`### BEGIN/END SOLUTION` — that code is given to students, not written by them.

Two operators make bugs SPEC §3 says grading always checks, so their survivors are never
counted as equivalent (`Mutant.spec_observable`): `ignore_argument` on a public function
("every argument named in this SPEC changes the behaviour it describes") and `squeeze`
("every `(B, ...)` output also for B = 1").
"""

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
    parenthesised,
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


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _swap(ctx: Context, node: ast.AST, new: str) -> Site:
    return Site((ctx.src.replace(node, new),), node, f"`{_short(ctx.text(node))}` → `{_short(new)}`")


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
            yield Site((Edit(edit.start, edit.end, new),), node, f"`{old}` → `{new}` in `{_short(ctx.text(node))}`")


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
            yield _swap(ctx, node, parenthesised(ctx.text(kept)))


@operator("unary", "remove a unary operator (`-x`, `~mask`, `not c`)")
def unary(ctx: Context) -> Iterator[Site]:
    for node in ctx.nodes(ast.UnaryOp):
        if isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            continue  # a negative literal: the constant operator perturbs it
        if isinstance(node.op, (ast.USub, ast.Invert, ast.Not)):
            yield _swap(ctx, node, parenthesised(ctx.text(node.operand)))


@operator("comparison", "flip a comparison (< ↔ <=, == ↔ !=, is ↔ is not, in ↔ not in)")
def comparison(ctx: Context) -> Iterator[Site]:
    for node in ctx.nodes(ast.Compare):
        left = node.left
        for op, right in zip(node.ops, node.comparators):
            old, new = COMPARE[type(op)]
            edit = ctx.src.token_between(left, right, old)
            if edit is not None:
                yield Site((Edit(edit.start, edit.end, new),), node, f"`{old}` → `{new}` in `{_short(ctx.text(node))}`")
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
                yield _swap(ctx, node, repr(other))
        else:
            for new in _numbers(value):
                yield _swap(ctx, node, repr(new))


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
            yield Site((Edit(end - len(name), end, new),), node, f"`{name}(…)` → `{new}(…)` in `{_short(ctx.text(node))}`")
        for kw in node.keywords:
            if kw.arg in ("min", "max"):
                start = ctx.src.offset(kw.lineno, kw.col_offset)
                other = "max" if kw.arg == "min" else "min"
                yield Site((Edit(start, start + len(kw.arg), other),), node, f"`{kw.arg}=` → `{other}=` in `{_short(ctx.text(node))}`")


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
            yield Site((Edit(start, end, ""),), node, f"`dim=` dropped from `{_short(ctx.text(node))}`")


@operator("transpose", "drop a transpose (`.T`, `.t()`, `.transpose(a, b)`, `.mT`)")
def transpose(ctx: Context) -> Iterator[Site]:
    for node in ctx.nodes(ast.Attribute, ast.Call):
        if isinstance(node, ast.Attribute) and node.attr in ("T", "mT") and isinstance(node.ctx, ast.Load):
            yield _swap(ctx, node, parenthesised(ctx.text(node.value)))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("t", "transpose", "swapaxes")):
            yield _swap(ctx, node, parenthesised(ctx.text(node.func.value)))


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
        yield _swap(ctx, value, f"({ctx.text(value)}).detach()")


@operator("squeeze", "squeeze the returned tensor (a batch of one loses its batch dimension)")
def squeeze(ctx: Context) -> Iterator[Site]:
    for node in ctx.nodes(ast.Return):
        value = node.value
        if isinstance(value, ast.Tuple) and value.elts:
            value = value.elts[0]
        if value is None or _in_init(ctx, node) or not (_tensor_like(value) or isinstance(value, ast.Name)):
            continue
        site = _swap(ctx, value, f"({ctx.text(value)}).squeeze()")
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
            yield Site((Edit(at, at, text),), first, f"`{arg.arg}` ignored (always `{_short(ctx.text(default))}`) in {fn.name}",
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
            yield _swap(ctx, bound, f"{parenthesised(ctx.text(bound))} {shift}")


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
            yield Site((ctx.src.replace(node, "pass"),), node, f"`{_short(ctx.text(node))}` deleted")


@operator("negate_condition", "negate the condition of an `if`, `while` or conditional expression")
def negate_condition(ctx: Context) -> Iterator[Site]:
    for node in ctx.nodes(ast.If, ast.While, ast.IfExp):
        if ctx.mutable(node.test):
            yield _swap(ctx, node.test, f"not {parenthesised(ctx.text(node.test))}")


@operator("swap_unpacking", "swap the first two names of an unpacking, or two returned values")
def swap_unpacking(ctx: Context) -> Iterator[Site]:
    for node in ctx.nodes(ast.Assign, ast.Return):
        tup = node.targets[0] if isinstance(node, ast.Assign) else node.value
        if isinstance(tup, ast.Tuple) and len(tup.elts) >= 2 and not any(isinstance(e, ast.Starred) for e in tup.elts[:2]):
            a, b = tup.elts[0], tup.elts[1]
            if ctx.text(a) != ctx.text(b):
                edits = (ctx.src.replace(a, ctx.text(b)), ctx.src.replace(b, ctx.text(a)))
                yield Site(edits, tup, f"`{_short(ctx.text(a))}` ↔ `{_short(ctx.text(b))}` in `{_short(ctx.text(node))}`")


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
