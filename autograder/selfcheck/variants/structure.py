"""Variants that organise the code differently: helpers extracted or inlined,
comprehensions written as loops, independent statements in the other order.

Each rewrite is applied only where a simple syntactic rule proves it safe (documented
per transform); elsewhere the code is left as it is.
"""

from __future__ import annotations

import ast
import builtins
import re

from autograder.selfcheck.source import (
    Edit,
    NotApplicable,
    Source,
    parenthesised,
    parents,
)
from autograder.selfcheck.variants.analysis import (
    FreshNames,
    body_nodes,
    forwarded_arguments,
    functions,
    is_pure,
    local_names,
)
from autograder.selfcheck.variants.registry import transform

MODULE_ALIASES = {"torch", "nn", "F", "math", "np"}


def _in_solution(src: Source, fn: ast.FunctionDef) -> bool:
    return any(n in src.solution_lines for n in range(fn.lineno, fn.end_lineno + 1))


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


@transform("helpers_extracted", "each function and method the student writes delegates to a private helper holding its body")
def helpers_extracted(src: Source) -> str:
    """`def f(a, b=1): BODY` → `def f(a, b=1): return _f_impl(a, b)` + `def _f_impl(a, b=1): BODY`
    (methods: `self._f_impl(...)`).  Skipped: dunders, decorated functions, generators."""
    fresh = FreshNames(src.tree)
    edits = []
    for fn, owner, _ in functions(src.tree):
        if (_is_dunder(fn.name) or fn.decorator_list or not _in_solution(src, fn)
                or any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in body_nodes(fn))):
            continue
        if owner is not None and not (fn.args.posonlyargs or fn.args.args):
            continue
        helper = fresh(f"_{fn.name.lstrip('_')}_impl")
        line = src.line(fn.lineno)
        match = re.match(rf"(\s*def\s+){fn.name}\b", line)
        if not match:
            continue
        name_at = src.line_start(fn.lineno) + len(match.group(1))
        params = src.text[name_at + len(fn.name): src.signature_close(fn) + 1]
        receiver = f"{(fn.args.posonlyargs + fn.args.args)[0].arg}." if owner is not None else ""
        call = f"{receiver}{helper}({forwarded_arguments(fn, skip_first=owner is not None)})"
        indent = src.indent_of(fn)
        gap = "\n" if owner is not None else "\n\n"
        wrapper = f"def {fn.name}{params}:\n{indent}    return {call}\n{gap}{indent}"
        edits.append(Edit(name_at - len("def "), name_at - len("def "), wrapper))
        edits.append(Edit(name_at, name_at + len(fn.name), helper))
    if not edits:
        raise NotApplicable("no function or method to delegate")
    return src.apply(edits)


def _single_return(fn: ast.FunctionDef) -> ast.expr | None:
    body = fn.body[1:] if (fn.body and isinstance(fn.body[0], ast.Expr)
                           and isinstance(fn.body[0].value, ast.Constant)) else fn.body
    if len(body) == 1 and isinstance(body[0], ast.Return) and body[0].value is not None:
        return body[0].value
    return None


def _inlinable(tree: ast.Module) -> dict[tuple[str | None, str], ast.FunctionDef]:
    """Single-`return` functions (any module-level one; methods only when private and
    defined once in the module, so no override is bypassed): (class or None, name) → def."""
    method_names = [item.name for stmt in tree.body if isinstance(stmt, ast.ClassDef)
                    for item in stmt.body if isinstance(item, ast.FunctionDef)]
    found = {}
    for fn, owner, _ in functions(tree):
        a = fn.args
        if (fn.decorator_list or a.vararg or a.kwarg or a.posonlyargs or a.kwonlyargs or _single_return(fn) is None
                or any(isinstance(n, (ast.Yield, ast.YieldFrom, ast.Lambda, ast.NamedExpr)) for n in ast.walk(fn))
                or any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "super" for n in ast.walk(fn))):
            continue
        if owner is None:
            found[(None, fn.name)] = fn
        elif fn.name.startswith("_") and not _is_dunder(fn.name) and method_names.count(fn.name) == 1:
            found[(owner.name, fn.name)] = fn
    return found


def _inline_call(src: Source, call: ast.Call, helper: ast.FunctionDef, receiver: ast.expr | None,
                 caller: ast.FunctionDef) -> str | None:
    """The helper's return expression with its parameters replaced by the call's
    arguments, or None when that is not provably the same evaluation."""
    params = [p.arg for p in helper.args.args]
    given: list[ast.expr | None] = ([receiver] if receiver is not None else []) + list(call.args)
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return None
    if len(given) > len(params):
        return None
    values: dict[str, ast.expr] = dict(zip(params, given))
    values.update({k.arg: k.value for k in call.keywords})
    defaults = dict(zip(params[len(params) - len(helper.args.defaults):], helper.args.defaults))
    texts = {}
    for p in params:
        if p in values:
            texts[p] = src.segment(values[p])
        elif p in defaults and isinstance(defaults[p], ast.Constant):
            texts[p], values[p] = repr(defaults[p].value), defaults[p]
        else:
            return None
    expr = _single_return(helper)
    occurrences = [n for n in ast.walk(expr) if isinstance(n, ast.Name) and n.id in params]
    if any(isinstance(n.ctx, ast.Store) for n in occurrences):
        return None
    impure = [p for p in params if not is_pure(values[p])]
    for p in impure:  # an argument with effects: evaluated exactly once, in argument order, first
        if sum(n.id == p for n in occurrences) != 1:
            return None
    firsts = sorted((n.lineno, n.col_offset, n.id) for n in occurrences if n.id in impure)
    if [f[2] for f in firsts] != impure:
        return None
    if impure:
        last = max((n.end_lineno, n.end_col_offset) for n in occurrences if n.id in impure)
        for n in ast.walk(expr):
            if isinstance(n, (ast.IfExp, ast.BoolOp, ast.comprehension)):
                return None
            if isinstance(n, ast.Call) and (n.lineno, n.col_offset) < last and not _contains_param(n, impure):
                return None
    free = {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)} - set(params)
    if free & local_names(caller):
        return None
    start = src.span(expr)[0]
    edits = [Edit(src.span(n)[0] - start, src.span(n)[1] - start, parenthesised(texts[n.id])) for n in occurrences]
    return parenthesised(_apply_text(src.segment(expr), edits))


def _contains_param(node: ast.AST, names: list[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def _apply_text(text: str, edits: list[Edit]) -> str:
    out, at = [], 0
    for e in sorted(edits, key=lambda e: e.start):
        out += [text[at:e.start], e.text]
        at = e.end
    return "".join(out) + text[at:]


@transform("helpers_inlined", "calls of single-`return` helpers replaced by the helper's expression")
def helpers_inlined(src: Source) -> str:
    """Where a function or private method is one `return EXPR`, its calls elsewhere in the
    module become EXPR with the arguments put in — only when each argument with effects is
    used once, in order, before any other call, and no name is captured."""
    helpers = _inlinable(src.tree)
    edits = []
    for caller, owner, _ in functions(src.tree):
        for node in body_nodes(caller):
            if not isinstance(node, ast.Call):
                continue
            key, receiver = None, None
            if isinstance(node.func, ast.Name) and node.func.id not in local_names(caller):
                key = (None, node.func.id)
            elif (owner is not None and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
                  and caller.args.args and node.func.value.id == caller.args.args[0].arg):
                key, receiver = (owner.name, node.func.attr), node.func.value
            helper = helpers.get(key)
            if helper is None or helper is caller:
                continue
            text = _inline_call(src, node, helper, receiver, caller)
            if text is not None and not any(e.start < src.span(node)[1] and src.span(node)[0] < e.end for e in edits):
                edits.append(src.replace(node, text))
    if not edits:
        raise NotApplicable("no call of a single-`return` helper can be inlined safely")
    return src.apply(edits)


def _statement_of(node: ast.AST, parent: dict) -> ast.stmt | None:
    while node in parent and not isinstance(node, ast.stmt):
        node = parent[node]
    return node if isinstance(node, ast.stmt) else None


def _hoistable(src: Source, comp: ast.expr, stmt: ast.stmt, parent: dict) -> bool:
    """Evaluating `comp` just before `stmt` changes nothing: no call in `stmt` that runs
    before it, no conditional or lazy context around it, `stmt` alone on its lines."""
    if not isinstance(stmt, (ast.Assign, ast.Return, ast.Expr, ast.AugAssign)):
        return False
    if src.line(stmt.lineno)[: stmt.col_offset].strip():
        return False
    node = comp
    while node is not stmt:
        node = parent[node]
        if isinstance(node, (ast.IfExp, ast.BoolOp, ast.Lambda, ast.comprehension, ast.ListComp, ast.SetComp,
                             ast.DictComp, ast.GeneratorExp)):
            return False
    ancestors = set()
    node = comp
    while node is not stmt:
        node = parent[node]
        ancestors.add(node)
    inside = set(ast.walk(comp))
    end = (comp.end_lineno, comp.end_col_offset)
    for n in ast.walk(stmt):
        if isinstance(n, ast.Call) and n not in ancestors and n not in inside and (n.lineno, n.col_offset) < end:
            return False
    return True


def _loop_text(src: Source, comp: ast.expr, target: str, indent: str, fresh: FreshNames) -> str | None:
    """Statements building `target` the way `comp` does (loop variables renamed fresh)."""
    if any(isinstance(n, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Lambda, ast.NamedExpr))
           for part in _comp_parts(comp) for n in ast.walk(part)):
        return None
    bound = {n.id for g in comp.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
    rename = {name: fresh(f"_{name}") for name in sorted(bound)}

    def text(node: ast.AST) -> str:
        start = src.span(node)[0]
        edits = [Edit(src.span(n)[0] - start, src.span(n)[1] - start, rename[n.id])
                 for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in rename]
        return _apply_text(src.segment(node), edits)

    if isinstance(comp, ast.DictComp):
        if not is_pure(comp.key):
            return None
        empty, add = "{}", f"{target}[{text(comp.key)}] = {text(comp.value)}"
    elif isinstance(comp, ast.SetComp):
        empty, add = "set()", f"{target}.add({text(comp.elt)})"
    else:
        empty, add = "[]", f"{target}.append({text(comp.elt)})"
    lines, depth = [f"{indent}{target} = {empty}"], indent
    for i, g in enumerate(comp.generators):
        if g.is_async:
            return None
        iterable = src.segment(g.iter) if i == 0 else text(g.iter)
        lines.append(f"{depth}for {text(g.target)} in {iterable}:")
        depth += "    "
        for cond in g.ifs:
            lines.append(f"{depth}if {text(cond)}:")
            depth += "    "
    lines.append(f"{depth}{add}")
    return "\n".join(lines) + "\n"


def _comp_parts(comp: ast.expr) -> list[ast.AST]:
    parts = [comp.key, comp.value] if isinstance(comp, ast.DictComp) else [comp.elt]
    return parts + [c for g in comp.generators for c in g.ifs]


@transform("comprehensions_as_loops", "list/dict/set comprehensions and generator arguments written as explicit loops")
def comprehensions_as_loops(src: Source) -> str:
    """`y = [f(t) for t in xs]` → `y = []` + `for _t in xs: y.append(f(_t))`; a comprehension
    or generator inside a statement is built just before it into a fresh list (only where
    `_hoistable` proves the order of evaluation unchanged)."""
    parent = parents(src.tree)
    fresh = FreshNames(src.tree)
    edits, done = [], set()
    for fn, _, _ in functions(src.tree):
        for node in body_nodes(fn):
            if not isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                continue
            stmt = _statement_of(node, parent)
            if stmt is None or id(stmt) in done:
                continue
            indent = src.indent_of(stmt)
            whole = (isinstance(stmt, ast.Assign) and stmt.value is node and len(stmt.targets) == 1
                     and isinstance(stmt.targets[0], ast.Name) and not isinstance(node, ast.GeneratorExp))
            if whole:
                target = stmt.targets[0].id
                if any(isinstance(n, ast.Name) and n.id == target for n in ast.walk(node)):
                    continue
                loop = _loop_text(src, node, target, indent, fresh)
                if loop is None:
                    continue
                start = src.line_start(stmt.lineno)
                edits.append(Edit(start, src.span(stmt)[1], loop.rstrip("\n")))
            else:
                if isinstance(node, ast.GeneratorExp) and not (
                        isinstance(parent[node], ast.Call) and parent[node].args and parent[node].args[0] is node
                        or isinstance(stmt, ast.Assign) and stmt.value is node and isinstance(stmt.targets[0], ast.Tuple)):
                    continue
                if not _hoistable(src, node, stmt, parent):
                    continue
                name = fresh("_items")
                as_list = isinstance(node, ast.GeneratorExp)
                loop = _loop_text(src, node if not as_list else _as_listcomp(node), name, indent, fresh)
                if loop is None:
                    continue
                start = src.line_start(stmt.lineno)
                edits.append(Edit(start + len(indent), start + len(indent), loop[len(indent):] + indent))
                edits.append(src.replace(node, f"({name})" if as_list else name))  # a generator's span may hold the call's ( )
            done.add(id(stmt))
    if not edits:
        raise NotApplicable("no comprehension can be written as a loop safely")
    return src.apply(edits)


def _as_listcomp(gen: ast.GeneratorExp) -> ast.ListComp:
    comp = ast.ListComp(elt=gen.elt, generators=gen.generators)
    return ast.copy_location(comp, gen)


def _effects(stmt: ast.stmt, plain_functions: set[str]) -> tuple[set[str], set[str]] | None:
    """(reads, writes) of a simple assignment, by name (`self.x` apart from `self.y`;
    `self.*` is the whole object).  A call may change its receiver (`a.f()`, `a(x)`),
    unless it is a module's function (`torch.f`) or a plain function of `plain_functions`.
    None: not a simple assignment."""
    if not isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)) or stmt.value is None:
        return None
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    reads: set[str] = set()
    writes: set[str] = set()

    def key(node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return "self.*" if node.id == "self" else node.id
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
            return f"self.{node.attr}"
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            return key(node.value)
        return None

    for target in targets:
        for n in ast.walk(target):
            if isinstance(n, (ast.Name, ast.Attribute, ast.Subscript)) and isinstance(getattr(n, "ctx", None), ast.Store):
                k = key(n)
                if k:
                    writes.add(k)
    if isinstance(stmt, ast.AugAssign):
        reads |= writes
    inner = parents(stmt.value)
    for n in ast.walk(stmt.value):
        if isinstance(n, (ast.Yield, ast.YieldFrom, ast.Await, ast.NamedExpr, ast.Lambda)):
            return None
        if isinstance(n, ast.Name) and not (isinstance(inner.get(n), ast.Attribute) and n.id == "self") or isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "self":
            reads.add(key(n))
        if isinstance(n, ast.Call):
            root = key(n.func.value) if isinstance(n.func, ast.Attribute) else key(n.func)
            if root is None or root.split(".")[0] in MODULE_ALIASES:
                continue
            if isinstance(n.func, ast.Name) and (n.func.id in plain_functions or n.func.id[:1].isupper()):
                continue
            writes.add(root)
    return reads, writes


def _clash(writes: set[str], touched: set[str]) -> bool:
    for w in writes:
        for t in touched:
            if w == t or ("self.*" in (w, t) and w.startswith("self") and t.startswith("self")):
                return True
    return False


def _independent(a: ast.stmt, b: ast.stmt, plain_functions: set[str]) -> bool:
    ea, eb = _effects(a, plain_functions), _effects(b, plain_functions)
    if ea is None or eb is None:
        return False
    return not (_clash(ea[1], eb[0] | eb[1]) or _clash(eb[1], ea[0]))


@transform("statement_order", "adjacent independent assignments in the other order")
def statement_order(src: Source) -> str:
    """Two adjacent assignments swap when neither reads or writes what the other writes
    (names; `self.x` per attribute; a call may change its receiver).  Parameters and
    submodules may then be created in another order — order SPEC does not fix."""
    plain = set(dir(builtins)) | {stmt.name for stmt in src.tree.body if isinstance(stmt, ast.FunctionDef)}
    edits = []
    for node in ast.walk(src.tree):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if not isinstance(block, list) or isinstance(node, ast.Module):
                continue
            i = 0
            while i + 1 < len(block):
                a, b = block[i], block[i + 1]
                if _independent(a, b, plain) and b.lineno == a.end_lineno + 1 \
                        and not src.line(a.lineno)[: a.col_offset].strip() and not src.line(b.lineno)[: b.col_offset].strip():
                    edits += [src.replace(a, src.segment(b)), src.replace(b, src.segment(a))]
                    i += 2
                else:
                    i += 1
    if not edits:
        raise NotApplicable("no two adjacent assignments are independent")
    return src.apply(edits)
