"""Variants that change what a module's objects carry beyond SPEC's names: attributes
renamed, private attributes, buffers and methods added, a SPEC-named `nn.ModuleList`
kept as an `nn.Sequential` (docs/spec.md §2 allows it).

SPEC fixes parameter names and the submodule names it lists; everything else on an
object is the student's.  Only attributes assigned plain values (no call: sizes, flags,
strings) are renamed — parameters and submodules are always built by a call.
"""

from __future__ import annotations

import ast

import torch

from autograder.selfcheck.source import Edit, NotApplicable, Source, parenthesised
from autograder.selfcheck.variants.analysis import module_aliases
from autograder.selfcheck.variants.registry import transform

#: The `nn.ModuleList` attributes SPEC names (mlp's MLP, attention's TokenClassifier,
#: gnn's GCN all call theirs `layers`); docs/spec.md §2 lets each be an `nn.Sequential` instead.
SPEC_MODULE_LISTS = ("layers",)

#: Attribute names of the objects student code meets (tensors, torch modules): a
#: rename of one of these on another object than `self` could hit a torch attribute.
TORCH_ATTRIBUTES = frozenset(dir(torch.Tensor)) | frozenset(dir(torch.nn.Linear(1, 1))) | frozenset(dir(torch.nn.Module))


def _self_name(fn: ast.FunctionDef) -> str | None:
    args = fn.args.posonlyargs + fn.args.args
    return args[0].arg if args else None


def _plain_attributes(tree: ast.Module) -> set[str]:
    """Attributes set on `self` to plain values (no call anywhere on the right) and
    never to anything built by a call."""
    plain, built = set(), set()
    for cls in (s for s in tree.body if isinstance(s, ast.ClassDef)):
        for fn in (f for f in cls.body if isinstance(f, ast.FunctionDef)):
            me = _self_name(fn)
            for node in ast.walk(fn):
                if not isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) or node.value is None:
                    continue
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                values = node.value.elts if (isinstance(node.value, ast.Tuple) and len(targets) == 1
                                             and isinstance(targets[0], ast.Tuple)) else None
                for t_index, target in enumerate(targets[0].elts if values is not None else targets):
                    if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == me):
                        continue
                    value = values[t_index] if values is not None else node.value
                    has_call = any(isinstance(n, (ast.Call, ast.Lambda)) for n in ast.walk(value))
                    (built if has_call else plain).add(target.attr)
            for node in ast.walk(fn):  # register_parameter("bias", None) and friends
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr.startswith("register_")
                        and node.args and isinstance(node.args[0], ast.Constant)):
                    built.add(str(node.args[0].value))
    return {a for a in plain - built if not a.startswith("_")}


@transform("renamed_attributes", "attributes SPEC does not fix (sizes, flags) renamed: `self.hidden_size` → `self._own_hidden_size`")
def renamed_attributes(src: Source) -> str:
    names = _plain_attributes(src.tree)
    uses = [n for n in ast.walk(src.tree) if isinstance(n, ast.Attribute) and n.attr in names]
    unsafe = {n.attr for n in uses if not (isinstance(n.value, ast.Name) and n.value.id == "self") and n.attr in TORCH_ATTRIBUTES}
    names -= unsafe
    uses = [n for n in uses if n.attr in names]
    if not uses:
        raise NotApplicable("no attribute holds a plain value that SPEC does not fix")
    edits = []
    for node in uses:
        end = src.span(node)[1]
        edits.append(Edit(end - len(node.attr), end, f"_own_{node.attr}"))
    return src.apply(edits)


def _super_init(fn: ast.FunctionDef) -> ast.stmt | None:
    for stmt in fn.body:
        if (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and isinstance(stmt.value.func, ast.Attribute)
                and stmt.value.func.attr == "__init__" and isinstance(stmt.value.func.value, ast.Call)
                and isinstance(stmt.value.func.value.func, ast.Name) and stmt.value.func.value.func.id == "super"):
            return stmt
    return None


@transform("extra_private_members", "every module class gets a private counter, a non-persistent buffer and a private method")
def extra_private_members(src: Source) -> str:
    """After `super().__init__(...)`: `self._own_calls = 0` and a non-persistent buffer
    (not in the state_dict); `forward` counts its calls first; a private `_own_summary()`."""
    torch_name = next((n for n, path in module_aliases(src.tree).items() if path == "torch"), None)
    edits = []
    for cls in (s for s in src.tree.body if isinstance(s, ast.ClassDef)):
        init = next((f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
        call = _super_init(init) if init is not None else None
        if call is None or src.line(call.lineno)[: call.col_offset].strip():
            continue
        me, indent = _self_name(init), src.indent_of(call)
        lines = [f"{me}._own_calls = 0"]
        if torch_name:
            lines.append(f'{me}.register_buffer("_own_scratch", {torch_name}.zeros(1), persistent=False)')
        end = src.line_start(call.end_lineno) + len(src.line(call.end_lineno))
        edits.append(Edit(end, end, "".join(f"{indent}{line}\n" for line in lines)))
        forward = next((f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "forward"), None)
        if forward is not None:
            first = forward.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and len(forward.body) > 1:
                first = forward.body[1]
            if not src.line(first.lineno)[: first.col_offset].strip():
                at = src.line_start(first.lineno)
                edits.append(Edit(at, at, f"{src.indent_of(first)}{_self_name(forward)}._own_calls += 1\n"))
        last = cls.body[-1]
        end = src.line_start(last.end_lineno) + len(src.line(last.end_lineno))
        method = "_own_summary"
        edits.append(Edit(end, end, f"\n{src.indent_of(init)}def {method}(self):\n"
                                    f"{src.indent_of(init)}    return f\"{{type(self).__name__}} called {{self._own_calls}} times\"\n"))
    if not edits:
        raise NotApplicable("no class calls super().__init__() on a line of its own")
    return src.apply(edits)


@transform("module_list_as_sequential", "SPEC-named `nn.ModuleList` attributes (`layers`) built as `nn.Sequential` of the same layers")
def module_list_as_sequential(src: Source) -> str:
    edits = []
    for node in ast.walk(src.tree):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Attribute)
                and node.targets[0].attr in SPEC_MODULE_LISTS and isinstance(node.value, ast.Call)):
            continue
        call = node.value
        if not (isinstance(call.func, ast.Attribute) and call.func.attr == "ModuleList" and len(call.args) <= 1
                and not call.keywords):
            continue
        end = src.span(call.func)[1]
        edits.append(Edit(end - len("ModuleList"), end, "Sequential"))
        if call.args:
            arg = call.args[0]
            if src.span(arg)[0] == end:  # a lone generator argument: its span holds the call's ( )
                edits.append(src.replace(arg, f"(*{src.segment(arg)})"))
            else:
                edits.append(src.replace(arg, f"*{parenthesised(src.segment(arg))}"))
    if not edits:
        raise NotApplicable(f"no `nn.ModuleList` assigned to an attribute SPEC names ({', '.join(SPEC_MODULE_LISTS)})")
    return src.apply(edits)
