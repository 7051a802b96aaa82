"""Static scan of a student's source, run in the judge (never executes it).

- Forbidden built-ins (`@pytest.mark.forbid`): dotted names with import aliases resolved
  (`import torch.nn.functional as F`, `from torch import nn`), and — widening the alias
  table — any `torch…` name that resolves to the same object (`torch._C._nn.linear` *is*
  `F.linear`; `torch.nn.modules.activation.MultiheadAttention` *is* `nn.MultiheadAttention`).
  It gives the student a line-level reason; the run-time watch (`autograder.worker.forbidden`)
  catches what no name shows.
- For human review: calls that reach outside the task (`ctypes`, `gc`, `exec`, ...), the
  names that can switch the run-time watch off (`TAMPERING_NAMES`), and obfuscation —
  attribute names built at run time on torch (`getattr(torch, "lin" + "ear")`), `importlib`
  or `pkgutil` pointed at torch or PyG.
- Notebook code: the body of a cell magic (`%%time`) is a string to Python but code to the
  student; it is scanned too, and a body built at run time is flagged.
- A self-check under `if __name__ == "__main__":` never runs when the module is imported,
  nor do its helpers, a `def test_*` or a test class (pytest's, unittest's) nothing names,
  decorated or not (`@torch.no_grad()`, `@pytest.mark…`): comparing one's own layer with
  the built-in there is not a use of the built-in (unless the module assigns `__name__`,
  a notebook kernel ran the code as `__main__`, or running code reaches functions by a
  name it builds).  Calls from anywhere are the run-time watch's to catch.
"""

from __future__ import annotations

import ast
import builtins
import copy
import threading
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from autograder.worker.forbidden import TAMPERING_NAMES
from autograder.worker.forbidden.targets import resolve_loaded, resolve_path

SUSPICIOUS = ("ctypes", "gc", "sys._getframe", "inspect.currentframe", "exec", "eval", "compile",
              "__import__", "importlib", "os.system", "subprocess", "socket", "builtins", "signal")
#: packages a student may not reach by a built string (`importlib.import_module("torch_" + ...)`)
GUARDED_PACKAGES = ("torch", "torch_geometric", "torch_scatter", "torch_sparse")
#: attributes that are flagged only when assigned (reading them is everyday code)
READ_ONLY_OK = frozenset({"__class__"})
#: nnzoo modules students are given to import (provided code, not the grader)
PROVIDED = ("autograder.data.transfer",)
#: names of `os` calls that start a process or a program, as strings (`getattr(os, "fork")`)
PROCESS_CALLS = frozenset({"fork", "forkpty", "posix_spawn", "posix_spawnp", "system", "popen", "execv", "execve",
                           "execl", "execvp", "spawnv", "spawnl"})
#: Python's builtins by name: flagged when called, never as an attribute of something else
BUILTIN_NAMES = frozenset(dir(builtins))
#: top-level statements past which no self-check is told apart (a student's file has tens;
#: a file of 100,000 one-line definitions would keep the judge busy for seconds a scan)
MOST_STATEMENTS_SORTED = 2000
#: strings that reach the builtins' import or exec through `globals()`, `vars(...)`, ...
HIDDEN_BUILTINS = frozenset({"__builtins__", "__import__"})


@dataclass
class ScanResult:
    """What the source refers to (aliases resolved), plus a parse error if any."""

    names: set[str] = field(default_factory=set)
    attributes: set[str] = field(default_factory=set)
    strings: set[str] = field(default_factory=set)
    obfuscation: list[str] = field(default_factory=list)
    syntax_error: str = ""
    #: names used only in the body of a top-level `if __name__ == "__main__":`
    main_only: set[str] = field(default_factory=set)

    def uses(self, qualified: str) -> bool:
        """True when `qualified` (e.g. "torch.nn.Linear") or a prefix-qualified use occurs."""
        return qualified in self.names or any(n.startswith(qualified + ".") for n in self.names)

    def forbidden(self, qualified_names: list[str]) -> list[str]:
        """The forbidden SPEC names the source uses, under their own or any other torch name
        that is the very same object (an alias under another module path; not counting a
        `__main__` self-check, which importing the module never runs).  What a name does not
        show — a subclass, a kernel reached at run time — is the run-time watch's job."""
        if self.syntax_error:  # nothing was read: a use cannot be ruled out (the worker may still import it)
            return list(qualified_names)
        targets = {q: _spec_object(q) for q in qualified_names}  # their modules imported: names under them resolve
        objects = {id(obj) for n in self.names if n.startswith("torch.") and (obj := _object(n)) is not None}
        return [q for q in qualified_names if self.uses(q) or targets[q] is not None and id(targets[q]) in objects]

    def suspicious(self) -> list[str]:
        """What a person should look at: calls outside the task, ways to switch the watch
        off, obfuscation — anywhere in the source, a `__main__` block included."""
        everywhere = ScanResult(self.names | self.main_only, self.attributes)
        hits = [s for s in SUSPICIOUS if everywhere.uses(s)]
        own = ScanResult({n for n in everywhere.names if not n.startswith(PROVIDED)}, self.attributes)
        for name, why in TAMPERING_NAMES.items():
            dotted = "." in name and not name.startswith("__")
            # a builtin's name as an attribute is everyday code (`model.eval()`, `re.compile`)
            as_attribute = not dotted and name not in BUILTIN_NAMES and name in self.attributes
            if name not in hits and (own.uses(name) or as_attribute):
                hits.append(f"{name} ({why})")
        for name, why in TAMPERING_NAMES.items():  # by a string: `getattr(object, "__subclasses__")`
            if name.startswith("__") and name in self.strings and not any(h.startswith(f"{name} (") for h in hits):
                hits.append(f"{name} ({why}), by a string")
        if self.strings & HIDDEN_BUILTINS:
            hits.append("the builtins' import or exec by a string (reaches code the scan cannot see)")
        if {"getattr"} & self.names and self.strings & {"Linear", "linear", "MultiheadAttention"}:
            hits.append("getattr with a forbidden name")
        if {"getattr"} & self.names and self.strings & PROCESS_CALLS:
            hits.append("getattr with the name of a call that starts a process")
        return hits + self.obfuscation


def _object(name: str) -> Any:
    """What a name in the student's source is, among the modules the judge has imported:
    the scan never imports on the source's behalf (a module may exit or patch at import)."""
    try:
        return resolve_loaded(name)
    except Exception:  # noqa: BLE001 — a name that does not resolve is simply not a built-in
        return None


@lru_cache(maxsize=256)
def _spec_object(spec: str) -> Any:
    """What a forbidden SPEC name is (the grader's own names: importing their modules is safe)."""
    try:
        return resolve_path(spec)
    except Exception:  # noqa: BLE001 — a built-in missing from this torch
        return None


#: the longest dotted name the scan records (torch's are under ten parts): a deeper chain is
#: seen through its shorter inner names, each an attribute node of its own
MOST_PARTS = 32


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        if len(parts) == MOST_PARTS:
            return None
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _parse(source: str, result: ScanResult) -> ast.Module | None:
    tree, result.syntax_error = _tree(source)
    return tree


@lru_cache(maxsize=2)  # one student at a time: a 2 MiB source's tree holds hundreds of MB
def _tree(source: str) -> tuple[ast.Module | None, str]:
    """`source` parsed once, on a thread of its own; or why not.  How deep a tree Python can
    parse depends on how deep the stack already is: a rescan from inside a test failed where
    the first scan had passed, and found no forbidden name (an audit, 2026-12-04); on a fresh
    thread the depth is the same wherever the judge asks, and as the worker's import has it."""
    found: list[tuple[ast.Module | None, str]] = []
    thread = threading.Thread(target=lambda: found.append(_parsed(source)), name="nnzoo-scan-parse")
    thread.start()
    thread.join()
    return found[0] if found else (None, "it could not be parsed")


def _parsed(source: str) -> tuple[ast.Module | None, str]:
    try:
        return ast.parse(source), ""
    except SyntaxError as exc:
        return None, f"line {exc.lineno}: {exc.msg}" if exc.lineno else str(exc.msg)
    except (RecursionError, MemoryError):  # Python's own compiler gives up on it as well
        return None, "it nests too deeply for Python to compile"
    except ValueError as exc:  # e.g. a null byte
        return None, str(exc)[:200]


def _full(aliases: dict[str, str], dotted: str) -> str:
    head, _, rest = dotted.partition(".")
    full = aliases.get(head, head)
    return f"{full}.{rest}" if rest else full


def _is_main_guard(node: ast.stmt) -> bool:
    """`if __name__ == "__main__":` (either way round)."""
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare) or len(node.test.ops) != 1 \
            or not isinstance(node.test.ops[0], ast.Eq):
        return False
    left, right = node.test.left, node.test.comparators[0]
    return any(isinstance(a, ast.Name) and a.id == "__name__" and isinstance(b, ast.Constant) and b.value == "__main__"
               for a, b in ((left, right), (right, left)))


def _assigns_name(tree: ast.AST) -> bool:
    """The module may run its `__main__` block on import: it assigns `__name__` — as a name,
    an attribute (`sys.modules[__name__].__name__ = ...`), a keyword
    (`globals().update(__name__=...)`) — or names it as a string (`globals()["__name__"]`)."""
    return any(isinstance(n, ast.Name) and n.id == "__name__" and not isinstance(n.ctx, ast.Load)
               or isinstance(n, ast.Attribute) and n.attr == "__name__" and not isinstance(n.ctx, ast.Load)
               or isinstance(n, ast.keyword) and n.arg == "__name__"
               or isinstance(n, ast.Constant) and n.value == "__name__" for n in ast.walk(tree))


def _aliases(tree: ast.AST, result: ScanResult) -> dict[str, str]:
    """Import aliases (`F` → `torch.nn.functional`); the imported names go into `result`."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
                result.names.add(a.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
                result.names.add(f"{node.module}.{a.name}")
    return aliases


def _mentions(node: ast.AST) -> set[str]:
    """Every name `node` could reach a function by: names, attribute names, imported names
    and strings."""
    found: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            found.add(n.id)
        elif isinstance(n, ast.Attribute):
            found.add(n.attr)
        elif isinstance(n, ast.alias):  # `from mlp import _check as c` reaches `_check`
            found.update(n.name.split("."))
        elif isinstance(n, ast.Constant) and isinstance(n.value, str):
            found.add(n.value)
    return found


#: what gives running code a function by a name it builds, with no name in the source
#: showing which: a namespace (`globals()`, a module's or a frame's), the heap, a reloader,
#: code run from a string.  (`getattr` with a built name: see `_reaches_by_name`.)
_REACHES_BY_NAME = frozenset({
    "globals", "vars", "locals", "eval", "exec", "__import__", "import_module", "reload", "runpy",
    "run_path", "run_module", "__dict__", "__globals__", "f_globals", "f_locals", "__getattr__",
    "__getattribute__", "modules", "getmodule", "__loader__", "__spec__", "get_objects", "get_referrers",
    "get_referents", "__subclasses__", "attrgetter", "methodcaller", "__builtins__", "locate", "pydoc", "pickle",
    "_pickle", "copyreg", "dill", "cloudpickle", "shelve", "marshal"})
#: of those, everyday methods (`model.eval()`, `model.modules()`) when called on an object
_EVERYDAY_METHODS = frozenset({"eval", "modules"})
#: `getattr(module, built)` on these packages gives no function of the student's module
#: (reaching one from there takes a step `_REACHES_BY_NAME` lists)
_FOREIGN_MODULES = frozenset({"torch", "numpy", "math", "random", "networkx", "sklearn", "torch_geometric"})
#: decorators that wrap or register their function without calling it (names with aliases
#: resolved; a decorator's own arguments run at `def`)
INERT_DECORATORS = frozenset({
    "staticmethod", "classmethod", "property", "torch.no_grad", "torch.enable_grad", "torch.inference_mode",
    "torch.set_grad_enabled", "torch.autograd.no_grad", "torch.autograd.enable_grad",
    "torch.autograd.inference_mode", "torch.jit.script", "torch.jit.ignore", "torch.jit.unused",
    "functools.wraps", "functools.cache", "functools.lru_cache", "functools.cached_property",
    "contextlib.contextmanager", "typing.no_type_check", "typing.overload", "typing.final", "pytest.fixture",
    "unittest.skip", "unittest.skipIf", "unittest.skipUnless", "unittest.expectedFailure"})
#: bases of a test class whose definition runs none of its methods
TEST_BASES = frozenset({"object", "unittest.TestCase", "unittest.IsolatedAsyncioTestCase"})
#: packages whose runners find test functions and classes without naming them
TEST_RUNNERS = ("unittest", "pytest", "doctest")


def _resolved(node: ast.AST, aliases: dict[str, str]) -> str | None:
    dotted = _dotted(node.func if isinstance(node, ast.Call) else node)
    return _full(aliases, dotted) if dotted else None


def _inert(decorator: ast.expr, aliases: dict[str, str]) -> bool:
    name = _resolved(decorator, aliases) or ""
    return name in INERT_DECORATORS or name.startswith("pytest.mark.")


def _defined_without_running(stmt: ast.stmt, aliases: dict[str, str]) -> bool:
    """Defining `stmt` runs none of its function bodies: a function with inert decorators, or a
    class with plain or unittest bases, no metaclass, whose decorators and methods' are inert."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return all(_inert(d, aliases) for d in stmt.decorator_list)
    if not isinstance(stmt, ast.ClassDef) or stmt.keywords:
        return False
    methods = [s for s in stmt.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return all(_resolved(b, aliases) in TEST_BASES for b in stmt.bases) \
        and all(_inert(d, aliases) for s in [stmt, *methods] for d in s.decorator_list)


def _split(stmt: ast.stmt) -> tuple[list[ast.AST], list[ast.stmt]]:
    """What defining a top-level `def` or `class` runs (decorators, defaults, annotations,
    bases, a class body's other statements), and the function bodies, which run when called."""
    if isinstance(stmt, ast.ClassDef):
        now: list[ast.AST] = [*stmt.decorator_list, *stmt.bases, *stmt.keywords]
        later: list[ast.stmt] = []
        for inner in stmt.body:
            if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef)):
                at_def, body = _split(inner)
                now += at_def
                later += body
            else:
                now.append(inner)
        return now, later
    now = [*stmt.decorator_list, stmt.args, *getattr(stmt, "type_params", [])]
    if stmt.returns is not None:
        now.append(stmt.returns)
    return now, list(stmt.body)


def _reaches_by_name(nodes: list[ast.AST], aliases: dict[str, str]) -> bool:
    """`nodes` can reach a function by a name they build: they mention a `_REACHES_BY_NAME`
    name (as a name, an imported name, a string, an attribute — but `model.eval()` and
    `model.modules()` are everyday methods), or call `getattr` with a built name on anything
    but a `_FOREIGN_MODULES` package (`getattr(torch, name)`)."""
    reaching = _REACHES_BY_NAME | {"getattr"}
    for node in nodes:
        calls = [n for n in ast.walk(node) if isinstance(n, ast.Call)]
        methods = {id(n.func) for n in calls if isinstance(n.func, ast.Attribute)}
        getattrs = [n for n in calls if _resolved(n, aliases) == "getattr" and len(n.args) >= 2]
        if any(isinstance(n.args[1], ast.Constant) and n.args[1].value in reaching for n in getattrs):
            return True
        harmless = {id(n.func) for n in getattrs if isinstance(n.args[1], ast.Constant)
                    or (_resolved(n.args[0], aliases) or "").split(".")[0] in _FOREIGN_MODULES}
        for n in ast.walk(node):
            if isinstance(n, ast.Name):
                name = _full(aliases, n.id).split(".")[-1]
                if name in _REACHES_BY_NAME or name == "getattr" and id(n) not in harmless:
                    return True
            elif isinstance(n, ast.Attribute) and n.attr in _REACHES_BY_NAME:
                everyday = n.attr in _EVERYDAY_METHODS and id(n) in methods and _resolved(n, aliases) != f"builtins.{n.attr}"
                if not everyday:
                    return True
            elif isinstance(n, ast.alias) and n.name.split(".")[-1] in reaching:
                return True
            elif isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in _REACHES_BY_NAME - _EVERYDAY_METHODS:
                return True
    return False


def _runs_tests(node: ast.AST, aliases: dict[str, str]) -> bool:
    """`node` names a test runner's function (`unittest.main`, `pytest.main`, `doctest.testmod`),
    which finds tests without naming them (a base class or a decorator is not one)."""
    inner = {id(n.value) for n in ast.walk(node) if isinstance(n, ast.Attribute)}
    chains = [n for n in ast.walk(node) if isinstance(n, (ast.Name, ast.Attribute)) and id(n) not in inner]
    return any((name := _resolved(n, aliases) or "").split(".")[0] in TEST_RUNNERS
               and name not in TEST_BASES and not _inert(n, aliases) for n in chains)


def _statements(tree: ast.Module) -> list[ast.stmt]:
    """The module's top-level statements, a notebook cell's guard taken away: nnzoo runs each
    cell of a notebook inside `try: … except BaseException: pass` (an error ends only that
    cell, as in Jupyter), whose body runs as top-level code."""
    out: list[ast.stmt] = []
    for stmt in tree.body:
        cell_guard = (isinstance(stmt, ast.Try) and not stmt.orelse and not stmt.finalbody and len(stmt.handlers) == 1
                      and isinstance(stmt.handlers[0].type, ast.Name) and stmt.handlers[0].type.id == "BaseException"
                      and stmt.handlers[0].name is None and all(isinstance(s, ast.Pass) for s in stmt.handlers[0].body))
        out += [s for s in stmt.body if not isinstance(s, ast.Pass)] if cell_guard else [stmt]
    return out


def _never_run(tree: ast.Module, guards: bool, api: frozenset[str], aliases: dict[str, str]) -> set[ast.stmt]:
    """The module's self-checks that importing never runs: top-level functions and classes
    whose definition runs none of their bodies (`_defined_without_running`) and that are
    - tests only a runner would find — `def test*`, `class Test*`, a `unittest.TestCase` —
      mentioned nowhere, where no code that runs calls a test runner (`unittest.main()`); or
    - mentioned only inside the `__main__` block (`guards`: it does not run) or inside other
      self-checks of either kind (a self-check and its helpers);
    none where code that may run can reach functions by a name it builds (`globals()`,
    `getattr(module, built)`, …).
    A name mentioned anywhere else (called, passed, stored, in a string, in code that may
    run) may run, and so may the `api`, which the grader calls by name, a dunder
    (`__getattr__` answers the grader's lookups), and every other definition nothing mentions."""
    statements = _statements(tree)
    candidates = [stmt for stmt in statements if _defined_without_running(stmt, aliases)]
    defined = Counter(getattr(stmt, "name", None) for stmt in statements)
    named = {stmt.name: stmt for stmt in candidates if defined[stmt.name] == 1}
    defs = {name for name in named if name not in api and not name.startswith("__")}
    by: dict[str, set[str]] = {name: set() for name in defs}  # name → where it is mentioned: "main", "live" or a definition
    live: list[ast.AST] = []  # the code that runs on import, or may run later

    def note(node: ast.AST, where: str) -> None:
        if where == "live":
            live.append(node)
        for name in _mentions(node) & defs:
            if name != where:
                by[name].add(where)

    for stmt in statements:
        if guards and _is_main_guard(stmt):
            for inner in stmt.body:
                note(inner, "main")
            for inner in stmt.orelse:  # `else:` runs on import
                note(inner, "live")
        elif getattr(stmt, "name", None) in defs:
            at_def, body = _split(stmt)
            for node in at_def:
                note(node, "live")
            for inner in body:
                note(inner, stmt.name)
        else:
            note(stmt, "live")
    runner = any(_runs_tests(node, aliases) for node in live)
    elsewhere = Counter(name for stmt in statements for name in _mentions(stmt))
    found_by_a_runner = set() if runner else {
        stmt for stmt in candidates
        if elsewhere[stmt.name] == (stmt.name in _mentions(stmt))  # mentioned nowhere but in itself
        and (stmt.name.startswith("test") if not isinstance(stmt, ast.ClassDef)
             else stmt.name.startswith("Test") or any(_resolved(b, aliases) != "object" for b in stmt.bases))}
    never = {"main"} | {stmt.name for stmt in found_by_a_runner}  # where a mention never runs
    dead = _unreached({name: by[name] for name in defs}, never)
    # code that may run and builds names reaches them too: then no helper is sure to stay unrun
    if _reaches_by_name(live + [n for name in defs - dead - never for n in _split(named[name])[1]], aliases):
        return set()
    return found_by_a_runner | {named[name] for name in dead}


def _unreached(by: dict[str, set[str]], never: set[str]) -> set[str]:
    """The definitions that code which may run never mentions, directly or through other
    definitions: `by` maps each to where it is mentioned ("live", "main" or another
    definition's name); a mention from `never` ("main", a test only a runner finds) does
    not run.  A name nothing mentions may run (the grader's or a caller's).  Linear in the
    mentions: each definition found reachable passes that on once."""
    mentioned_in: dict[str, list[str]] = {}
    for name, places in by.items():
        for place in places:
            mentioned_in.setdefault(place, []).append(name)
    reached = [name for name, places in by.items() if not places or "live" in places]
    alive = set(reached)
    while reached:
        place = reached.pop()
        if place in never:
            continue
        for name in mentioned_in.get(place, ()):
            if name not in alive:
                alive.add(name)
                reached.append(name)
    return set(by) - alive


def _collect(tree: ast.Module, result: ScanResult, depth: int, imported: bool, api: frozenset[str] = frozenset()) -> None:
    """Everything `tree` refers to into `result`; what only code that never runs holds into
    `result.main_only`: the body of a top-level `if __name__ == "__main__":` when the code is
    `imported` (a kernel runs it as `__main__`) and does not assign `__name__`, and the bodies
    of the self-checks importing never runs (`_never_run`; their defaults run at `def`)."""
    aliases = _aliases(tree, result)
    renamed = _assigns_name(tree)
    if renamed:
        result.obfuscation.append("assigns `__name__` (a `__main__` block then runs on import)")
    guards = imported and not renamed
    if (count := len(_statements(tree))) > MOST_STATEMENTS_SORTED:
        uncalled: set[ast.stmt] = set()
        result.obfuscation.append(f"{count} top-level statements: too many to tell self-checks apart (every name counted)")
    else:
        uncalled = _never_run(tree, guards, api, aliases)
    main = ScanResult()  # what only code that never runs holds
    for stmt in _statements(tree):
        if guards and _is_main_guard(stmt):
            for inner in stmt.body:
                _collect_names(inner, aliases, main, depth)
            for inner in stmt.orelse:  # `else:` runs on import
                _collect_names(inner, aliases, result, depth)
        elif stmt in uncalled:
            at_def, body = _split(stmt)
            for inner in at_def:  # decorators, defaults, annotations, bases run at `def`
                _collect_names(inner, aliases, result, depth)
            for inner in body:
                _collect_names(inner, aliases, main, depth)
        else:
            _collect_names(stmt, aliases, result, depth)
    result.main_only |= main.names - result.names
    result.attributes |= main.attributes
    result.strings |= main.strings
    result.obfuscation += main.obfuscation


def _collect_names(tree: ast.AST, aliases: dict[str, str], result: ScanResult, depth: int) -> None:
    """The dotted names (aliases resolved), attribute names, strings and suspicious calls of `tree`."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Attribute, ast.Name)):
            dotted = _dotted(node)
            if dotted:
                result.names.add(_full(aliases, dotted))
            if isinstance(node, ast.Attribute) and (node.attr not in READ_ONLY_OK or isinstance(node.ctx, ast.Store)):
                result.attributes.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            result.strings.add(node.value)
        elif isinstance(node, ast.Call):
            _look_at_call(node, aliases, result, depth)
            _name_looked_up(node, aliases, result)
        elif isinstance(node, ast.Subscript) and (owner := _namespace_of(node.value)) is not None:
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                result.names.add(f"{_full(aliases, owner)}.{node.slice.value}")  # `vars(F)["linear"]` is `F.linear`
        if (owner := _namespace_of(node)) is not None and _full(aliases, owner).split(".")[0] in GUARDED_PACKAGES:
            result.obfuscation.append(f"{_full(aliases, owner)}'s namespace read as a dict (line {node.lineno}): its names "
                                      "are then strings the scan does not follow")


def _name_looked_up(node: ast.Call, aliases: dict[str, str], result: ScanResult) -> None:
    """`getattr(F, "linear")` and `vars(F).get("linear")` are `F.linear`."""
    owner, key = None, None
    if _is_call_of(node, "getattr") and len(node.args) >= 2:
        owner, key = _dotted(node.args[0]), node.args[1]
    elif isinstance(node.func, ast.Attribute) and node.func.attr == "get" and node.args:
        owner, key = _namespace_of(node.func.value), node.args[0]
    if owner and isinstance(key, ast.Constant) and isinstance(key.value, str):
        result.names.add(f"{_full(aliases, owner)}.{key.value}")


def _is_call_of(node: ast.Call, name: str) -> bool:
    return isinstance(node.func, ast.Name) and node.func.id == name


def _namespace_of(node: ast.AST) -> str | None:
    """The dotted name whose namespace `node` is: `vars(torch._C._nn)`, `F.__dict__`."""
    if isinstance(node, ast.Call) and _is_call_of(node, "vars") and len(node.args) == 1:
        return _dotted(node.args[0])
    if isinstance(node, ast.Attribute) and node.attr == "__dict__":
        return _dotted(node.value)
    return None


def _look_at_call(node: ast.Call, aliases: dict[str, str], result: ScanResult, depth: int) -> None:
    func = _dotted(node.func)
    func = _full(aliases, func) if func else getattr(node.func, "attr", "")
    args = node.args
    if func in ("getattr", "setattr", "delattr") and len(args) >= 2 and not isinstance(args[1], ast.Constant):
        owner = _dotted(args[0])
        if owner and _full(aliases, owner).split(".")[0] in GUARDED_PACKAGES:
            result.obfuscation.append(f"{func} on {_full(aliases, owner)} with a name built at run time (line {node.lineno})")
    if func.split(".")[0] in ("importlib", "pkgutil") or func == "__import__":
        text = " ".join(str(a.value) for a in ast.walk(node) if isinstance(a, ast.Constant))
        if any(p in text for p in GUARDED_PACKAGES) or not all(isinstance(a, ast.Constant) for a in args):
            result.obfuscation.append(f"{func} reaching torch or PyG by a string (line {node.lineno})")
    if func.endswith("run_cell_magic"):
        body = args[2] if len(args) >= 3 else next((k.value for k in node.keywords if k.arg == "cell"), None)
        if not (isinstance(body, ast.Constant) and isinstance(body.value, str)):
            result.obfuscation.append(f"a cell magic whose body is built at run time (line {node.lineno})")
        elif depth < 4 and (inner := _parse(body.value, ScanResult())) is not None:
            _collect(inner, result, depth + 1, imported=False)  # a cell's body runs as it stands


def scan_source(source: str, imported: bool = True, api: frozenset[str] = frozenset()) -> ScanResult:
    """What the static scan finds in `source` (a copy: the caller may change it); `imported`:
    the code is imported as a module (False: run as `__main__`, e.g. by a notebook kernel);
    `api`: the names the grader calls (never a self-check that does not run)."""
    return copy.deepcopy(_scanned(source, imported, api))


@lru_cache(maxsize=16)
def _scanned(source: str, imported: bool, api: frozenset[str]) -> ScanResult:
    # one student's source is scanned by the judge and again by every test marked `forbid`
    result = ScanResult()
    tree = _parse(source, result)
    if tree is not None:
        try:
            _collect(tree, result, 0, imported, api)
        except RecursionError:  # code Python compiles, nested past what the scan's helpers follow
            result = ScanResult()
            _collect_names(tree, _aliases(tree, result), result, depth=4)  # everything, iteratively: nothing exempt
            result.obfuscation.append("code nested too deeply for the scan to tell what runs (every name counted)")
    return result
