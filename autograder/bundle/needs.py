"""What the bundle's public tests need, found statically: which of the grader's definitions
they reach (a stubbed one cannot run in the bundle) and which packages they import.

Reachability is by name, from each public test file: the names it uses (including
strings that name something, since probes are called by name — `run("train", …)` —
and trusted parts are named as `"autograder.worker.probes.rnn:TrustedRNNCell"`), then
the names used by every definition with a reached name (top-level functions and classes
— a class with all its methods — and module-level assignments) in a module the test
imports, to a fixed point.  It errs on the side of reaching too much: a name reaches
every top-level definition of it in every imported module — but not in a module nothing
imports (the instructor's half of the package: batch, nbgrader, selfcheck, ...).

Imports count where they run for a reached test: the test file's own, the module-level
imports of every bundled module those import (transitively), and the imports inside
reached definitions — plus `importlib.util.find_spec("x")` / `import_module("x")` with
a literal name, and a string naming a bundled module (`"autograder.worker.probes.rnn:X"`).
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: a string that names something: `"train"`, `"rnn.cell"`, `"autograder.worker.probes.rnn:TrustedRNNCell"`
_NAME_LIKE = re.compile(r"[A-Za-z_][A-Za-z0-9_.:]*")
_IMPORTERS = frozenset({"find_spec", "import_module"})
#: a string naming one of the package's modules, optionally with a name in it
_MODULE_NAME = re.compile(r"(autograder(?:\.[A-Za-z_][A-Za-z0-9_]*)+)(?::[A-Za-z_][A-Za-z0-9_]*)?")


@dataclass
class Definition:
    """One definition of a name in the bundle: the names its code uses, the modules it imports."""

    file: str
    module: str
    names: set[str] = field(default_factory=set)
    imports: set[str] = field(default_factory=set)


def names_used(node: ast.AST) -> set[str]:
    """Every identifier `node` uses: names, attributes, imported names, and the parts of
    string constants that name something (no prose: a docstring reaches nothing)."""
    found: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            found.add(sub.attr)
        elif isinstance(sub, ast.alias):
            found.update(sub.name.split("."))
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str) and _NAME_LIKE.fullmatch(sub.value):
            found.update(_IDENTIFIER.findall(sub.value))
    return found


def modules_imported(node: ast.AST, package: str = "") -> set[str]:
    """The absolute module names `node` imports (relative imports resolved against `package`)."""
    found: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Import):
            found.update(alias.name for alias in sub.names)
        elif isinstance(sub, ast.ImportFrom):
            base = sub.module or ""
            if sub.level:
                parent = package.rsplit(".", sub.level - 1)[0] if sub.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in sub.names)  # `from pkg import module`
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str) and _MODULE_NAME.fullmatch(sub.value):
            found.add(_MODULE_NAME.fullmatch(sub.value).group(1))
        elif isinstance(sub, ast.Call) and sub.args and isinstance(sub.args[0], ast.Constant) \
                and isinstance(sub.args[0].value, str):
            func = sub.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in _IMPORTERS:
                found.add(sub.args[0].value)
    return found


def _module_level(tree: ast.Module) -> list[ast.stmt]:
    """Module-level statements that run on import (not the bodies of definitions)."""
    return [node for node in tree.body if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


class BundleCode:
    """The Python code of a bundle's `autograder/` package, indexed by name and by module."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.definitions: dict[str, list[Definition]] = {}
        self.module_imports: dict[str, set[str]] = {}  # module -> modules its module-level code imports
        self.module_files: dict[str, str] = {}
        for path in sorted((root / "autograder").rglob("*.py")):
            self._add(path)

    def _add(self, path: Path) -> None:
        rel = path.relative_to(self.root)
        module = ".".join(rel.with_suffix("").parts)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        module = module.removesuffix(".__init__")
        tree = ast.parse(path.read_text())
        self.module_files[module] = str(rel)
        self.module_imports[module] = set().union(*(modules_imported(n, package) for n in _module_level(tree)))
        for node in tree.body:  # a class counts with all its methods; a function with its nested code
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self._define(node.name, node, str(rel), module, package)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            self._define(name.id, node, str(rel), module, package)

    def _define(self, name: str, node: ast.AST, file: str, module: str, package: str) -> None:
        self.definitions.setdefault(name, []).append(
            Definition(file, module, names_used(node), modules_imported(node, package)))

    def reached_names(self, start: set[str], modules: set[str]) -> dict[str, str]:
        """Every name reached from `start` through definitions in `modules`, with the name
        it was first reached through."""
        via = {name: "" for name in start}
        frontier = list(start)
        while frontier:
            name = frontier.pop()
            for definition in self.in_modules(name, modules):
                for used in definition.names - via.keys():
                    via[used] = name
                    frontier.append(used)
        return via

    def in_modules(self, name: str, modules: set[str]) -> list[Definition]:
        """The definitions of `name` in `modules`."""
        return [d for d in self.definitions.get(name, ()) if d.module in modules]

    def reached_modules(self, start: set[str]) -> set[str]:
        """Every module imported, transitively through bundled modules' module-level imports."""
        seen: set[str] = set()
        frontier = list(start)
        while frontier:
            module = frontier.pop()
            if module in seen:
                continue
            seen.add(module)
            parts = module.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b too
                frontier.extend(self.module_imports.get(".".join(parts[:i]), ()))
        return seen


@dataclass
class Needs:
    """What one public test file needs: stubbed definitions it reaches (with the chain of
    names that reaches each), and the top-level third-party modules it imports."""

    test: str
    stubbed: dict[str, str] = field(default_factory=dict)  # name -> "test uses A, A uses name"
    packages: set[str] = field(default_factory=set)


def _chain(via: dict[str, str], name: str) -> str:
    steps = [name]
    while via.get(steps[-1]):
        steps.append(via[steps[-1]])
    return " → ".join(reversed(steps))


def needs_of(test_file: Path, code: BundleCode, stubbed: set[str]) -> Needs:
    """What `test_file` needs from the bundle (`stubbed`: the names the bundle stubbed out)."""
    tree = ast.parse(test_file.read_text())
    imported = modules_imported(tree)
    while True:  # names reach definitions in imported modules, whose imports import more
        modules = code.reached_modules(imported)
        via = code.reached_names(names_used(tree), modules)
        more = imported.union(*(d.imports for name in via for d in code.in_modules(name, modules)))
        if more == imported:
            break
        imported = more
    needs = Needs(str(test_file.relative_to(code.root)))
    needs.stubbed = {name: _chain(via, name) for name in sorted(stubbed & via.keys())}
    for module in modules:
        top = module.split(".")[0]
        if top and top != "autograder" and top not in sys.stdlib_module_names and not top.startswith("_"):
            needs.packages.add(top)
    return needs
