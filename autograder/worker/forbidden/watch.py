"""Run-time watch for forbidden built-ins, below the Python name level.

The static scan (`autograder.judge.scan`) matches dotted names in the student's source;
a student can reach the same built-in under another name (`torch._C._nn.linear`,
`torch.nn.modules.activation.MultiheadAttention`, `importlib.import_module(...)`,
`getattr(F, "lin" + "ear")`, ...).  This module catches the built-in itself while a
probe runs the student's code:

- **functions** — a `TorchFunctionMode` sees every torch API function by its object,
  whatever name it was reached under (`F.linear` *is* `torch._C._nn.linear`;
  `torch.lstm_cell`, `torch._VF.lstm_cell` and `torch._C._VariableFunctions.lstm_cell`
  arrive as `torch._C._VariableFunctionsClass.lstm_cell`), and calls through `torch.ops`
  arrive as `OpOverload`/`OpOverloadPacket` objects, matched by operator name;
- **distinctive aten ops** — a `TorchDispatchMode` (only when a watched target lists
  `dispatch_ops`) sees ops after autograd, also those run *inside* a Python-level torch
  function (the function mode is paused while its handler runs, so it does not see
  what `F.multi_head_attention_forward` calls inside);
- **module classes** — while watching, the `__init__` and `forward` of each forbidden
  class (and the `forward` of its torch subclasses) are wrapped: building or calling an
  instance that is not trusted is a violation, also through `layer.forward(x)` or a
  student subclass;
- **packages** (`torch_geometric`, ...) — imports are refused by a `sys.meta_path`
  finder, the student's module namespace is checked when the watch starts, and any
  torch call made by the package's own code is attributed to whoever called it.

Attribution.  When a watched built-in is reached, the Python stack is walked outward
from the call: the first *decisive* frame decides —

- a frame of the student's file: a violation, reported at that file and line;
- a *trusted boundary*: not a violation.  Boundaries are frames, not file names: the
  frame running a `trust()`-wrapped function or a trusted class's `__init__`/`forward`,
  or a frame inside `with trusted():`.  They belong to the current watch only, so a
  trusted object the student stashes during one probe is plain code in the next.

Every other frame (torch, the standard library, the grader's probe recipes, code
compiled under a made-up file name) is transparent; reaching the bottom of the stack
without a decisive frame is a violation too ("through an object your module provides":
e.g. `MultiHeadSelfAttention = functools.partial(nn.MultiheadAttention, ...)` called by
the grader).  So a probe that itself uses a forbidden built-in must do it in
`with trusted():`, and objects the grader substitutes into the student's module must be
passed through `trust()`.

Module instances are trusted when their class is a `trust()`ed class of this watch, or
when they were built inside a boundary (e.g. the `nn.Linear` inside a trusted
`nn.TransformerEncoderLayer`).  The watch keeps them by identity: a module's mark copied
onto another proves nothing, but `copy.deepcopy` of a trusted module gives a trusted copy
(`_Mark`).  An instance of a forbidden class that is not trusted is a violation whenever
it is called, wherever from.  A trusted object takes only plain values (`_plain`); the
grader's classes that run the student's parts are no boundary (`runs_the_students_parts`).

A violation is raised at the call (`ForbiddenCall`, naming the SPEC name and the
student's file and line) and recorded: one the student's code caught is raised again
when the watch ends.  Mode stacks are per-thread: threads started during a watch get its
modes; in a worker every thread gets relay modes for its whole life
(`carry_watches_into_threads`, before the student's import), so that a pool started at
import, whose work runs during a probe, is watched too, and a Python thread running
without them beside a probe is a violation.  At the end the watch also checks that it was
not switched off and left off (its modes popped, its hooks replaced).

Not unforgeable: code in the same process can switch the watch off and back on (see
`TAMPERING_NAMES`, for the static scan to flag).  Its job is to catch the escapes.
"""

from __future__ import annotations

import _thread
import functools
import importlib
import importlib.abc
import importlib.util
import inspect
import os
import sys
import sysconfig
import threading
import types
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from autograder.worker.forbidden.targets import (
    ForbiddenCall,
    Target,
    resolve_path,
    target_for,
)

# -- helpers ---------------------------------------------------------------------------------

_MISS = object()
_MARK = "_nnzoo_trusted_in_watch"  # instance attribute: a `_Mark`, so that a deep copy is trusted too
_OP_TYPES = (torch._ops.OpOverload, torch._ops.OpOverloadPacket, torch._ops.HigherOrderOperator)
_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_STDLIB_DIRS = tuple({os.path.realpath(sysconfig.get_paths()["stdlib"]) + os.sep,
                      sysconfig.get_paths()["stdlib"] + os.sep})
_THIS_FILE = __file__
_LIB, _OTHER = "lib", "other"


def _op_name(func: Any) -> str:
    """"aten::linear" for `torch.ops.aten.linear` and its overloads, "higher_order::x" for a HOP."""
    if isinstance(func, torch._ops.OpOverload):
        return func._schema.name
    if isinstance(func, torch._ops.OpOverloadPacket):
        return func._qualified_op_name
    return f"higher_order::{func.name()}"


def _describe(func: Any) -> str:
    if isinstance(func, _OP_TYPES):
        return f"torch.ops {_op_name(func)}"
    module = getattr(func, "__module__", None) or ""
    qual = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)
    qual = qual.replace("_VariableFunctionsClass.", "")
    return f"{module}.{qual}" if module else qual


def _callables(path: str) -> list[Any]:
    """The objects the function mode may receive for a callable's dotted path."""
    obj = resolve_path(path)
    if obj is None or not callable(obj):
        return []
    found = [obj]
    name = getattr(obj, "__name__", "")
    vf = getattr(torch._C._VariableFunctionsClass, name, None)
    if vf is not None and getattr(obj, "__module__", None) in ("torch", "torch._C._VariableFunctions"):
        found.append(vf)
    return found


def _modules_in(values: Iterable[Any], depth: int = 2) -> set[int]:
    """ids of every nn.Module in `values` (and in lists/tuples/dicts of them) and below."""
    ids: set[int] = set()
    for v in values:
        if isinstance(v, nn.Module):
            ids.update(id(m) for m in v.modules())
        elif depth and isinstance(v, (list, tuple, set)):
            ids |= _modules_in(v, depth - 1)
        elif depth and isinstance(v, dict):
            ids |= _modules_in(v.values(), depth - 1)
    return ids


def _package_dir(package: str) -> tuple[str, ...]:
    """Where a top-level package lives, without importing it (empty when not installed)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return ()
    if spec is None:
        return ()
    paths = list(spec.submodule_search_locations or []) or ([os.path.dirname(spec.origin)] if spec.origin else [])
    return tuple({d for p in paths for d in (p.rstrip(os.sep) + os.sep, os.path.realpath(p) + os.sep)})


@functools.cache
def _resolved(target: Target) -> tuple[tuple[Any, ...], tuple[type, ...], tuple[str, ...]]:
    """The callables, module classes and package folders a target names (resolved once)."""
    functions = tuple(obj for path in target.functions for obj in _callables(path))
    classes = tuple(c for c in map(resolve_path, target.classes) if isinstance(c, type) and issubclass(c, nn.Module))
    dirs = tuple(d for package in target.packages for d in _package_dir(package))
    return functions, classes, dirs


class _Mark:
    """What a trusted module holds under `_MARK`.  It proves nothing: the watch's registry
    decides (`Watch.is_trusted_instance`), so a mark read off one module and written onto
    another (a forbidden layer the student built at import: an audit, 2026-12-05), or made
    by hand, trusts nothing.  It is there for `copy.deepcopy`: the copy of a trusted module
    (a student's `_get_clones` of a trusted layer) is trusted too."""

    __slots__ = ("generation", "owner")

    def __init__(self, generation: int, owner: int) -> None:
        self.generation, self.owner = generation, owner  # the watch, and the id of the module holding it

    def __deepcopy__(self, memo: dict[int, Any]) -> _Mark | None:
        """The mark of the copy `copy.deepcopy` is making of the owner (in `memo` before its
        state is copied), trusted when the owner is and the copy is of its class."""
        w = _ACTIVE
        if w is None or w.generation != self.generation:
            return None
        ref = w.marked.get(self.owner)
        owner = ref() if ref is not None else None
        copy = memo.get(self.owner)
        if owner is None or copy is None or copy is owner or type(copy) is not type(owner):
            return None
        return w.mark(copy)

    def __reduce__(self) -> tuple[Any, tuple]:
        return type(None), ()  # unpickled: no mark


# -- the watch -------------------------------------------------------------------------------

_ACTIVE: Watch | None = None
_GENERATION = 0
_LOCK = threading.Lock()


@dataclass(eq=False)
class Watch:
    """The state of one `watching()` block (one probe): what is watched, what is trusted,
    and the violations seen (also those the student's code caught and swallowed)."""

    names: tuple[str, ...]
    student_files: frozenset[str]
    generation: int
    violations: list[ForbiddenCall] = field(default_factory=list)
    active: bool = True
    functions: dict[Any, str] = field(default_factory=dict)
    ops: dict[str, str] = field(default_factory=dict)
    op_prefixes: tuple[tuple[str, str], ...] = ()
    dispatch_ops: dict[str, str] = field(default_factory=dict)
    dispatch_prefixes: tuple[tuple[str, str], ...] = ()
    classes: dict[type, str] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)
    package_dirs: tuple[tuple[str, str], ...] = ()
    trusted_classes: dict[int, type] = field(default_factory=dict)  # by id: no metaclass `__hash__`/`__eq__` of the student's
    marked: dict[int, weakref.ref] = field(default_factory=dict)  # the trusted instances, by id
    boundaries: set[types.FrameType] = field(default_factory=set)
    blocks: set[types.FrameType] = field(default_factory=set)  # the boundaries that are `with trusted():` blocks
    _func_cache: dict[Any, str | None] = field(default_factory=dict)
    _dispatch_cache: dict[Any, str | None] = field(default_factory=dict)
    _class_cache: dict[type, str | None] = field(default_factory=dict)
    _file_kinds: dict[str, str] = field(default_factory=dict)
    _trust_cache: dict[int, tuple[Any, Any]] = field(default_factory=dict)
    _thread_modes: list[Any] = field(default_factory=list)

    # .. building the watch sets ..

    def add(self, target: Target) -> None:
        spec = target.spec
        functions, classes, package_dirs = _resolved(target)
        for obj in functions:
            self.functions.setdefault(obj, spec)
        for table, prefixes_attr, patterns in (("ops", "op_prefixes", target.ops),
                                                ("dispatch_ops", "dispatch_prefixes", target.dispatch_ops)):
            exact: dict[str, str] = getattr(self, table)
            prefixes = list(getattr(self, prefixes_attr))
            for p in patterns:
                if p.endswith("*"):
                    prefixes.append((p[:-1], spec))
                else:
                    exact.setdefault(p, spec)
            setattr(self, prefixes_attr, tuple(prefixes))
        for cls in classes:
            self.classes.setdefault(cls, spec)
        for package in target.packages:
            self.packages.setdefault(package, spec)
        self.package_dirs += tuple((d, spec) for d in package_dirs)

    # .. lookups ..

    def spec_of_function(self, func: Any) -> str | None:
        """The SPEC name `func` (as the function mode receives it) falls under, or None."""
        try:
            hit = self._func_cache.get(func, _MISS)
        except TypeError:  # unhashable
            return None
        if hit is not _MISS:
            return hit  # type: ignore[return-value]
        spec = self.functions.get(func)
        if spec is None and isinstance(func, _OP_TYPES):
            spec = self._match(_op_name(func), self.ops, self.op_prefixes)
        if len(self._func_cache) > 50_000:
            self._func_cache.clear()
        self._func_cache[func] = spec
        return spec

    def spec_of_op(self, func: Any) -> str | None:
        hit = self._dispatch_cache.get(func, _MISS)
        if hit is _MISS:
            name = _op_name(func)
            hit = None if "backward" in name else self._match(name, self.dispatch_ops, self.dispatch_prefixes)
            self._dispatch_cache[func] = hit
        return hit  # type: ignore[return-value]

    @staticmethod
    def _match(name: str, exact: dict[str, str], prefixes: tuple[tuple[str, str], ...]) -> str | None:
        spec = exact.get(name)
        if spec is None:
            spec = next((s for p, s in prefixes if name.startswith(p)), None)
        return spec

    def spec_of_class(self, cls: type) -> str | None:
        hit = self._class_cache.get(cls, _MISS)
        if hit is _MISS:
            hit = next((self.classes[c] for c in cls.__mro__ if c in self.classes), None)
            self._class_cache[cls] = hit
        return hit  # type: ignore[return-value]

    # .. attribution ..

    def locate(self, frame: types.FrameType | None) -> tuple[bool, types.FrameType | None]:
        """Walk outward from `frame`: (True, boundary) at a trusted boundary; (False, frame)
        at the student's innermost frame; (False, None) at the bottom (no decisive frame)."""
        files, boundaries = self.student_files, self.boundaries
        while frame is not None:
            if frame.f_code.co_filename in files:
                return False, frame
            if frame in boundaries:
                return True, frame
            frame = frame.f_back
        return False, None

    def student_frame(self, frame: types.FrameType | None) -> types.FrameType | None:
        """The innermost frame of the student's file, boundaries or not."""
        while frame is not None and frame.f_code.co_filename not in self.student_files:
            frame = frame.f_back
        return frame

    def fail(self, spec: str, via: str, frame: types.FrameType | None,
             site: tuple[str, int] | None = None) -> None:
        """Record and raise a violation at `frame` (else at `site`, else with no line)."""
        if frame is not None:
            site = (frame.f_code.co_filename, frame.f_lineno)
        exc = ForbiddenCall(spec, via, *(site or (None, None)))
        self.violations.append(exc)
        raise exc

    def class_site(self, cls: type) -> tuple[str, int] | None:
        """Where the student's file defines `cls` or the nearest class it derives from."""
        for c in cls.__mro__:
            for value in vars(c).values():
                code = getattr(value, "__code__", None)
                if code is not None and code.co_filename in self.student_files:
                    return _class_line(code.co_filename, c.__name__) or (code.co_filename, code.co_firstlineno)
        return None

    def event(self, spec: str, via: str, frame: types.FrameType | None) -> None:
        """A watched built-in was reached from `frame`: a violation unless a boundary is nearer than the student."""
        trusted_, where = self.locate(frame)
        if not trusted_:
            self.fail(spec, via, where)

    # .. module instances ..

    def is_trusted_instance(self, module: nn.Module) -> bool:
        if id(type(module)) in self.trusted_classes:
            return True
        ref = self.marked.get(id(module))
        return ref is not None and ref() is module

    def mark(self, module: nn.Module) -> _Mark:
        """Trust `module` for this watch; the `_Mark` it holds carries that to its deep copies."""
        self.marked[id(module)] = weakref.ref(module)
        mark = _Mark(self.generation, id(module))
        object.__setattr__(module, _MARK, mark)
        return mark

    def on_build(self, module: nn.Module, frame: types.FrameType | None) -> None:
        spec = self.spec_of_class(type(module))
        if spec is None:
            return
        if id(type(module)) in self.trusted_classes:
            self.mark(module)
            return
        trusted_, where = self.locate(frame)
        if not trusted_:
            self.fail(spec, f"builds {type(module).__qualname__}", where, self.class_site(type(module)))
        elif where in self.blocks:
            self.mark(module)
        # else: built while a trust()ed object runs — trusted once that object's `__init__`
        # holds it among its own modules (`_trusted_class`); a module built there by the
        # student's C-level callable (an argument's dunder, a hook) and kept elsewhere stays theirs

    def on_call(self, module: nn.Module, frame: types.FrameType | None) -> None:
        spec = self.spec_of_class(type(module))
        if spec is not None and not self.is_trusted_instance(module):
            self.fail(spec, f"calls {type(module).__qualname__}", self.student_frame(frame),
                      self.class_site(type(module)))

    # .. packages ..

    def file_kind(self, filename: str) -> str:
        """_LIB (torch, the standard library, this file), a package's SPEC name, or _OTHER."""
        kind = self._file_kinds.get(filename)
        if kind is None:
            kind = next((spec for d, spec in self.package_dirs if filename.startswith(d)), None) or (
                _LIB if filename.startswith((_TORCH_DIR, *_STDLIB_DIRS, "<frozen")) or filename == _THIS_FILE
                else _OTHER)
            self._file_kinds[filename] = kind
        return kind

    def package_check(self, frame: types.FrameType | None, func: Any) -> None:
        """If the innermost frame outside torch and the standard library belongs to a
        forbidden package, whoever called that package is attributed."""
        while frame is not None:
            kind = self.file_kind(frame.f_code.co_filename)
            if kind is _LIB:
                frame = frame.f_back
                continue
            if kind is not _OTHER:
                via = f"{os.path.basename(frame.f_code.co_filename)} calls {_describe(func)}"
                self.event(kind, via, frame)
            return

    def check_namespace(self, module: types.ModuleType | None) -> None:
        """The student's module may not have loaded a forbidden package when it was imported
        (`student_import`), nor hold anything from one (its globals, and the attributes of
        the classes it defines)."""
        if module is None or not self.packages:
            return
        for top in sorted(_IMPORTED_BY_STUDENT):
            if top in self.packages:
                self.fail(self.packages[top], f"imports {top} when it is loaded", None,
                          _import_line(self.student_files, top))
        items: list[tuple[str, Any]] = list(vars(module).items())
        for name, value in list(items):
            if isinstance(value, type) and value.__module__ == module.__name__:
                items += [(f"{name}.{k}", v) for k, v in vars(value).items()]
        for name, value in items:
            for origin in _origins(value):
                top = origin.partition(".")[0]
                if top in self.packages:
                    self.fail(self.packages[top], f"`{name}` comes from {origin}", None,
                              _import_line(self.student_files, top))


def _origins(value: Any) -> list[str]:
    """The modules a value comes from: a module's own name, the modules of a class's MRO,
    a function's module, the modules of an instance's class MRO."""
    if isinstance(value, types.ModuleType):
        return [value.__name__]
    if isinstance(value, functools.partial):
        value = value.func
    if isinstance(value, type):
        classes: tuple[type, ...] = value.__mro__
    elif isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        origin = getattr(value, "__module__", None)
        return [origin] if isinstance(origin, str) else []
    else:
        classes = type(value).__mro__
    return [m for m in (getattr(c, "__module__", None) for c in classes) if isinstance(m, str)]


def _class_line(path: str, name: str) -> tuple[str, int] | None:
    """The line of `class name` in the file at `path`."""
    try:
        with open(path, encoding="utf-8") as fh:
            for i, line in enumerate(fh, 1):
                if line.lstrip().startswith(f"class {name}") and line.lstrip()[6 + len(name)] in "(:":
                    return path, i
    except (OSError, IndexError):
        pass
    return None


def _import_line(files: frozenset[str], package: str) -> tuple[str, int] | None:
    """The first line of the student's source that imports `package` by name, else the first
    that mentions it (the handout's docstring names the forbidden packages)."""
    mentions: list[tuple[str, int]] = []
    for path in sorted(files):
        try:
            with open(path, encoding="utf-8") as fh:
                for i, line in enumerate(fh, 1):
                    if package in line:
                        if "import" in line:
                            return path, i
                        mentions.append((path, i))
        except OSError:
            continue
    return mentions[0] if mentions else None


# -- the modes -------------------------------------------------------------------------------

class _FunctionWatch(TorchFunctionMode):
    """Sees every torch API call; checks the forbidden functions and package code — of
    `watch`, or (None: a thread's relay) of whichever watch is active at the call."""

    def __init__(self, watch: Watch | None) -> None:
        super().__init__()
        self.watch = watch

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        w = self.watch or _ACTIVE
        if w is not None and w.active:
            spec = w.spec_of_function(func)
            if spec is not None:
                w.event(spec, _describe(func), sys._getframe(1))
            if w.package_dirs:
                w.package_check(sys._getframe(1), func)
        return func(*args, **(kwargs or {}))


class _DispatchWatch(TorchDispatchMode):
    """Sees aten ops after autograd; checks the distinctive ops of forbidden built-ins (of
    `watch`, or of the active watch: see `_FunctionWatch`)."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # Otherwise torch wraps __torch_dispatch__ in torch._disable_dynamo, whose first
        # call imports torch._dynamo (+ sympy, ...: ≈ 0.7 s and ~800 modules per process).
        return False

    def __init__(self, watch: Watch | None) -> None:
        super().__init__()
        self.watch = watch

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        w = self.watch or _ACTIVE
        if w is not None and w.active:
            spec = w.spec_of_op(func)
            if spec is not None:
                w.event(spec, f"aten op {_op_name(func)}", sys._getframe(1))
        return func(*args, **(kwargs or {}))


# -- trusted boundaries ----------------------------------------------------------------------

class trusted:
    """`with trusted():` — the grader's own code in this block may use forbidden built-ins
    (student code it calls is still watched).  Marks the calling frame as a boundary of
    the active watch; does nothing when no watch is active."""

    __slots__ = ("_frame", "_watch")

    def __init__(self) -> None:
        self._frame: types.FrameType | None = None
        self._watch: Watch | None = None

    def __enter__(self) -> trusted:
        w = _ACTIVE
        if w is not None:
            self._watch, self._frame = w, sys._getframe(1)
            w.boundaries.add(self._frame)
            w.blocks.add(self._frame)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._watch is not None:
            self._watch.boundaries.discard(self._frame)  # type: ignore[arg-type]
            self._watch.blocks.discard(self._frame)  # type: ignore[arg-type]
            self._frame = self._watch = None


@contextmanager
def untrusted() -> Iterator[None]:
    """`with untrusted():` — inside a trusted block (a `trust()`ed factory), code that touches
    the student's objects (their class's `__init_subclass__`, a metaclass's descriptors,
    their module's forward) runs as if no boundary were on the stack: a built-in it reaches
    is charged, even from C-level callables that leave no frame of the student's file (a
    `functools.partial(nn.GRU, …)` run by a class hook in a trusted factory had its module
    marked trusted, an audit, 2026-12-04)."""
    w = _ACTIVE
    kept = set(w.boundaries) if w is not None else set()
    if w is not None:
        w.boundaries.clear()
    try:
        yield
    finally:
        if w is not None:
            w.boundaries |= kept


@contextmanager
def unrecorded() -> Iterator[None]:
    """`with unrecorded():` — forbidden calls in this block still raise, but are not kept
    among the active watch's violations: for the grader's glance at a student's part whose
    answer decides no verdict (which kind of pair an LSTM cell returns), so that the glance
    never fails a test the part's own calls would not have failed."""
    w = _ACTIVE
    kept = len(w.violations) if w is not None else 0
    try:
        yield
    finally:
        if w is not None:
            del w.violations[kept:]


class _Boundary:
    """The boundary of a `trust()`ed object: only for the watch it was made in."""

    __slots__ = ("_frame", "_generation", "_watch")

    def __init__(self, generation: int) -> None:
        self._generation = generation
        self._frame: types.FrameType | None = None
        self._watch: Watch | None = None

    def __enter__(self) -> None:
        w = _ACTIVE
        if w is not None and w.generation == self._generation:
            self._watch, self._frame = w, sys._getframe(1)
            w.boundaries.add(self._frame)

    def __exit__(self, *exc: object) -> None:
        if self._watch is not None:
            self._watch.boundaries.discard(self._frame)  # type: ignore[arg-type]
            self._frame = self._watch = None


def trust(obj: Any) -> Any:
    """A trusted stand-in for `obj`, for the active watch only (returns `obj` unchanged
    when no watch is active).

    - a class: a subclass with the same name whose `__init__` and `forward` run as
      boundaries; its instances are trusted, and so are the modules its `__init__`
      builds (not those passed to it: a trusted wrapper of a student's module does not
      make that module trusted);
    - a function (or any other callable): a wrapper that runs it as a boundary.

    Use it for every object the grader substitutes into the student's module (`patch=`)
    and for trusted classes a probe builds (`Build("torch.nn:Linear")`).
    """
    w = _ACTIVE
    if w is None or id(obj) in _RUNS_THEIRS:
        return obj
    hit = w._trust_cache.get(id(obj))
    if hit is not None:
        return hit[1]
    if isinstance(obj, type):
        wrapped: Any = _trusted_class(obj, w)
    elif callable(obj):
        wrapped = _trusted_function(obj, w.generation)
    else:
        return obj
    w._trust_cache[id(obj)] = (obj, wrapped)
    return wrapped


#: Top-level packages the student's module loaded into this process when it was imported.
_IMPORTED_BY_STUDENT: set[str] = set()


@contextmanager
def student_import() -> Iterator[None]:
    """`with student_import():` around the import of the student's module (no watch is
    active then): every watch that forbids a package it loads charges the student.  PyG's
    `scatter`, imported under a name built at run time and compiled by `torch.jit.script`,
    kept in a list, ran where no frame of the package shows: 27/27 against 20/27 (an audit,
    2026-12-05)."""
    before = {name.partition(".")[0] for name in list(sys.modules)}
    recorder = _ImportRecorder(before)
    sys.meta_path.insert(0, recorder)
    try:
        yield
    finally:
        sys.meta_path[:] = [finder for finder in sys.meta_path if finder is not recorder]
        # an installed package looked for was loaded (and may have been taken out of sys.modules again)
        _IMPORTED_BY_STUDENT.update(top for top in recorder.found if _package_dir(top))
        _IMPORTED_BY_STUDENT.update({name.partition(".")[0] for name in list(sys.modules)} - before)


class _ImportRecorder(importlib.abc.MetaPathFinder):
    """Notes the top-level name of every import looked for that was not loaded before; finds nothing."""

    def __init__(self, before: set[str]) -> None:
        self.before, self.found = before, set[str]()

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        top = fullname.partition(".")[0]
        if top not in self.before:
            self.found.add(top)


_RUNS_THEIRS: dict[int, Any] = {}


def runs_the_students_parts(obj: Any) -> Any:
    """Decorator for a grader's class or function that works on a part it is given (the
    student's cell run through time, their layer run on another graph first, their RNN
    whose cell a factory reads): `trust()` leaves it as it is, so that what its code
    reaches through their part — a C-level hook, a dunder or property of their class, a
    `forward` that is a `functools.partial` of a built-in, none of which leaves a frame of
    their file — is charged to the student, as it would be anywhere else (a trusted wrapper
    ran them inside its boundary: an audit, 2026-12-05).  It uses no built-in a test
    forbids, except through a trusted class of its own."""
    _RUNS_THEIRS[id(obj)] = obj
    return obj


def carry_trust(source: nn.Module, copy: nn.Module) -> None:
    """`copy` (the grader's own copy of `source`, in another class) trusted as `source` is."""
    w = _ACTIVE
    if w is not None and w.is_trusted_instance(source):
        w.mark(copy)


def _plain(value: Any, depth: int = 2) -> Any:
    """`value` as a trusted object may take it from the student's code: a number or string
    of a subclass as one of the built-in type, a tensor of a subclass as a plain tensor (its
    data and autograd history), a tuple or list (or a subclass: a namedtuple) of them as a
    plain tuple or list.  A subclass's dunders (an `int` whose `__rfloordiv__` is a
    `functools.partial` building nn.Transformer: an audit, 2026-12-05) or
    `__torch_function__` would otherwise run inside the boundary, as the grader's code.
    Anything else — a module too: its class's C-level dunders run where no frame of the
    student's shows — is refused with a TypeError charged to the student: a plain object,
    then a module, whose `__rfloordiv__` built a layer inside the boundary (audits,
    2026-12-05).  A grader's class that takes the student's modules is not trusted at all
    (`runs_the_students_parts`)."""
    kind = type(value)
    if any(kind is t for t in _PLAIN_TYPES):  # by identity: no metaclass `__eq__` of the student's
        return value
    if isinstance(value, int):  # the base type's own slots: no method of the subclass runs
        return int.__index__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, torch.Tensor):
        with torch._C.DisableTorchFunctionSubclass():
            return torch.Tensor.as_subclass(value, torch.Tensor)
    if depth and isinstance(value, (tuple, list)):  # a namedtuple state too: its items, by the base type's slot
        base = tuple if isinstance(value, tuple) else list
        return base(_plain(v, depth - 1) for v in base.__getitem__(value, slice(None)))
    raise TypeError(
        f"the grader's part takes numbers, strings and tensors, not {object.__repr__(value)}"
    )


#: Argument types a trusted object takes as they are.
_PLAIN_TYPES = (
    int, float, bool, str, type(None), slice, type(Ellipsis),
    torch.Tensor, nn.Parameter, torch.dtype, torch.device, torch.Size, torch.Generator,
)


def _plain_call(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """`args` and `kwargs` through `_plain`, outside any boundary (whatever runs here is the student's)."""
    with untrusted():
        return tuple(_plain(a) for a in args), {str.__str__(k): _plain(v) for k, v in kwargs.items()}


def _trusted_function(fn: Callable, generation: int) -> Callable:
    def trusted_call(*args: Any, **kwargs: Any) -> Any:
        args, kwargs = _plain_call(args, kwargs)
        with _Boundary(generation):
            return fn(*args, **kwargs)

    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        try:
            setattr(trusted_call, attr, getattr(fn, attr))
        except (AttributeError, TypeError):
            pass
    return trusted_call


def _trusted_class(cls: type, watch: Watch) -> type:
    generation = watch.generation
    namespace: dict[str, Any] = {"__module__": cls.__module__, "__qualname__": cls.__qualname__, "__doc__": cls.__doc__}

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if type(self) is not sub:  # a class derived from it (a student's, of `type(self.cell)`) builds as the student's code
            with untrusted():
                super(sub, self).__init__(*args, **kwargs)
            return
        args, kwargs = _plain_call(args, kwargs)
        with _Boundary(generation):
            passed = _modules_in((*args, *kwargs.values()))
            super(sub, self).__init__(*args, **kwargs)
            if isinstance(self, nn.Module) and _ACTIVE is not None and _ACTIVE.generation == generation:
                for m in self.modules():
                    if id(m) not in passed:
                        _ACTIVE.mark(m)

    namespace["__init__"] = __init__
    if issubclass(cls, nn.Module):
        def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
            args, kwargs = _plain_call(args, kwargs)
            with _Boundary(generation):
                return super(sub, self).forward(*args, **kwargs)

        namespace["forward"] = forward
    sub = type(cls.__name__, (cls,), namespace)
    watch.trusted_classes[id(sub)] = sub
    return sub


# -- class patches ---------------------------------------------------------------------------

_WRAPPERS: dict[tuple[type, str, int], Callable] = {}


def _wrapper(cls: type, attr: str) -> Callable:
    """The (cached) checking wrapper of `cls.__init__` or `cls.forward` as `cls` defines it now."""
    original = cls.__dict__.get(attr)
    key = (cls, attr, id(original))
    if key not in _WRAPPERS:
        _WRAPPERS[key] = _patched_init(cls) if attr == "__init__" else _patched_forward(original)
    return _WRAPPERS[key]


def _patched_init(cls: type) -> Callable:
    original = cls.__dict__.get("__init__")

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        w = _ACTIVE
        if w is not None and w.active:
            w.on_build(self, sys._getframe(1))
        if original is not None:
            original(self, *args, **kwargs)
        else:
            super(cls, self).__init__(*args, **kwargs)

    _dress(__init__, original or cls.__init__)
    return __init__


def _patched_forward(original: Callable) -> Callable:
    def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
        w = _ACTIVE
        if w is not None and w.active:
            w.on_call(self, sys._getframe(1))
            if w.is_trusted_instance(self):  # a trusted block may use the built-ins it is made of
                args, kwargs = _plain_call(args, kwargs)
                with _Boundary(w.generation):
                    return original(self, *args, **kwargs)
        return original(self, *args, **kwargs)

    _dress(forward, original)
    return forward


def _dress(wrapper: Callable, original: Callable) -> None:
    """Name, doc and signature of `original` (no `__wrapped__`: it would hand the original out)."""
    for attr in ("__name__", "__qualname__", "__doc__"):
        try:
            setattr(wrapper, attr, getattr(original, attr))
        except (AttributeError, TypeError):
            pass
    try:
        wrapper.__signature__ = inspect.signature(original)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        pass


def _torch_subclasses(cls: type) -> Iterator[type]:
    stack = [cls]
    seen: set[type] = set()
    while stack:
        c = stack.pop()
        if c in seen:
            continue
        seen.add(c)
        if c.__module__.startswith("torch."):
            yield c
        stack.extend(c.__subclasses__())


def _patch_classes(classes: Iterable[type]) -> list[tuple[type, str, Any]]:
    """Wrap `__init__` of each class and `forward` of it and its torch subclasses; returns
    what to restore: (class, attribute, previous value or _MISS)."""
    undo: list[tuple[type, str, Any]] = []
    done: set[tuple[type, str]] = set()
    for cls in classes:
        if (cls, "__init__") not in done:
            done.add((cls, "__init__"))
            undo.append((cls, "__init__", cls.__dict__.get("__init__", _MISS)))
            type.__setattr__(cls, "__init__", _wrapper(cls, "__init__"))
        for c in _torch_subclasses(cls):
            if "forward" in c.__dict__ and (c, "forward") not in done:
                done.add((c, "forward"))
                undo.append((c, "forward", c.__dict__["forward"]))
                type.__setattr__(c, "forward", _wrapper(c, "forward"))
    return undo


def _unpatch(undo: list[tuple[type, str, Any]]) -> None:
    for cls, attr, previous in reversed(undo):
        if previous is _MISS:
            type.__delattr__(cls, attr)
        else:
            type.__setattr__(cls, attr, previous)


# -- imports and threads ---------------------------------------------------------------------

class _ImportGuard(importlib.abc.MetaPathFinder):
    """Refuses imports of forbidden packages (and reloads of torch modules) to the student."""

    def __init__(self, watch: Watch) -> None:
        self.watch = watch

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        w = self.watch
        if w.active:
            top = fullname.partition(".")[0]
            if top in w.packages:
                w.event(w.packages[top], f"imports {fullname}", sys._getframe(1))
            elif top == "torch" and fullname in sys.modules and w.classes:
                w.event("importlib.reload", f"reloads {fullname}: fresh, unwatched classes", sys._getframe(1))


def _thread_starter(watch: Watch, dispatch: bool, previous: Any) -> Callable:
    """A `threading.setprofile` hook that enters the watch's modes in each new thread
    (where threads carry relays instead, `carry_watches_into_threads`, it does nothing)."""

    def start(frame: Any, event: str, arg: Any) -> None:
        sys.setprofile(previous)
        if watch.active and not _STARTERS:
            modes: list[Any] = [_FunctionWatch(watch)] + ([_DispatchWatch(watch)] if dispatch else [])
            for m in modes:
                m.__enter__()
            watch._thread_modes.extend(modes)

    return start


#: The thread-starting functions `carry_watches_into_threads` replaced: (owner, name) → the
#: replacement (empty where it did not run).
_STARTERS: dict[tuple[types.ModuleType, str], Callable] = {}
_STARTER_NAMES = ((_thread, "start_new_thread"), (_thread, "start_new"), (_thread, "start_joinable_thread"),
                  (threading, "_start_new_thread"), (threading, "_start_joinable_thread"))


def _relayed(function: Callable) -> Callable:
    def _relay_thread(*args: Any, **kwargs: Any) -> Any:
        for mode in (_FunctionWatch(None), _DispatchWatch(None)):
            mode.__enter__()
        return function(*args, **kwargs)

    return _relay_thread


_RELAY_CODE = _relayed(print).__code__


def carry_watches_into_threads() -> None:
    """Every thread this process starts from now on runs, for its whole life, under relay
    modes that check whichever watch is active at each call — also a thread started while
    no watch was (a pool started at import) whose work runs during a probe.  Wraps the
    functions of `_thread` that start threads (`threading` starts each through them).

    The worker calls it before it imports the student's module; from then on every watch
    also checks that no Python thread without the relay runs beside it (one started through
    a `_thread` original kept from before, say: `_unwatched_threads`)."""
    for owner, name in _STARTER_NAMES:
        start = getattr(owner, name, None)
        if start is not None and _STARTERS.get((owner, name)) is not start:
            _STARTERS[(owner, name)] = _starting_relayed(start)
            setattr(owner, name, _STARTERS[(owner, name)])


def _starting_relayed(start: Callable) -> Callable:
    def starter(function: Callable, *args: Any, **kwargs: Any) -> Any:
        return start(_relayed(function), *args, **kwargs)

    return starter


def _unwatched_threads() -> int:
    """How many Python threads other than this one run outside a relay (0 where threads do
    not carry relays).  A thread is told by its outermost frame: a relayed thread's is
    `_relay_thread`; threads running no Python (torch's own pools) have no frames."""
    if not _STARTERS:
        return 0
    me = threading.get_ident()
    count = 0
    for ident, frame in sys._current_frames().items():
        while frame.f_back is not None:
            frame = frame.f_back
        count += ident != me and frame.f_code is not _RELAY_CODE
    return count


# -- operators called by their handle --------------------------------------------------------
# `torch._C._dispatch_call_boxed(handle, ...)` and `handle.redispatch_boxed(keys, ...)` run an
# operator found by name (`torch._C._dispatch_find_schema_or_throw("aten::linear", "")`)
# below the function mode, and a composite one (linear, the cells, the math kernel of
# attention) breaks into allowed ops before the dispatch mode sees its name.  Both entry
# points are wrapped for the process's life: the operator's name is matched as the function
# mode matches `torch.ops` calls.

_HANDLE_CLASS = torch._C._DispatchOperatorHandle
#: (owner, attribute) → the guard installed there, once per process
_HANDLE_GUARDS: dict[tuple[Any, str], Callable] = {}


def _handle_guard(call: Callable) -> Callable:
    def guarded(handle: Any, *args: Any, **kwargs: Any) -> Any:
        w = _ACTIVE
        if w is not None and w.active:
            name = handle.schema().name if isinstance(handle, _HANDLE_CLASS) else ""
            spec = w._match(name, w.ops, w.op_prefixes)
            if spec is not None:
                w.event(spec, f"the operator {name} called by its handle", sys._getframe(1))
        return call(handle, *args, **kwargs)

    return guarded


def guard_calls_by_handle() -> None:
    """Watch operators called by their handle (see above) from now on, in every watch of
    this process.  Importing `autograder.worker.probes` calls it — in a worker, a judge
    and `nnzoo test` alike, before any student module is imported — so a name a module
    binds at import is the guard too; every watch calls it again (idempotent)."""
    for owner, name in ((torch._C, "_dispatch_call_boxed"), (_HANDLE_CLASS, "redispatch_boxed")):
        if (owner, name) not in _HANDLE_GUARDS:
            _HANDLE_GUARDS[(owner, name)] = _handle_guard(getattr(owner, name))
            setattr(owner, name, _HANDLE_GUARDS[(owner, name)])


# -- the context manager ---------------------------------------------------------------------

def _stack(kind: str) -> list[Any]:
    """The function-mode or dispatch-mode stack of this thread, bottom first."""
    if kind == "function":
        return [torch._C._get_function_stack_at(i) for i in range(torch._C._len_torch_function_stack())]
    return [torch._C._get_dispatch_stack_at(i) for i in range(torch._C._len_torch_dispatch_stack())]


def _leave(mode: Any, kind: str) -> bool:
    """Exit `mode`; True when it was not on top of its stack (someone moved it)."""
    stack = _stack(kind)
    if stack and stack[-1] is mode:
        mode.__exit__(None, None, None)
        return False
    if mode in stack:  # something was pushed above it and left there: take ours out only
        pop = torch._C._pop_torch_function_stack if kind == "function" else torch._C._pop_torch_dispatch_stack
        push = torch._C._push_on_torch_function_stack if kind == "function" else torch._C._push_on_torch_dispatch_stack
        above = []
        while True:
            top = pop()
            if top is mode:
                break
            above.append(top)
        for m in reversed(above):
            push(m)
    return True


#: The globals of this module that change as it runs (the active watch, the generation count).
_RUNNING_STATE = frozenset({"_ACTIVE", "_GENERATION", "_AS_DEFINED"})


def _as_defined() -> dict[str, tuple[Any, Any]]:
    """This module's globals as it defined them — its own functions with their code, its
    own classes with their attributes, every other name (`target_for`, the tables) by
    identity: `name -> (value, what it holds)`."""
    found: dict[str, tuple[Any, Any]] = {}
    for name, value in list(globals().items()):
        if name in _RUNNING_STATE:
            continue
        if isinstance(value, types.FunctionType) and value.__module__ == __name__:
            found[name] = (value, value.__code__)
        elif isinstance(value, type) and value.__module__ == __name__:
            found[name] = (value, dict(vars(value)))
        else:
            found[name] = (value, None)
    return found


def _own_code_changed() -> list[str]:
    """The names of this module whose function, code or class attributes are no longer what
    it defined: code in the worker can reach them (`object.__subclasses__()`, a function's
    `__globals__`) and make the watch's checks no-ops (`Watch.event`), for good."""
    changed = []
    for name, (value, held) in _AS_DEFINED.items():
        now = globals().get(name)
        if now is not value:
            changed.append(name)
        elif held is None:
            continue
        elif isinstance(value, types.FunctionType):
            if value.__code__ is not held:
                changed.append(name)
        else:
            attributes = vars(value)
            changed += [f"{name}.{a}" for a in set(attributes) | set(held) if attributes.get(a, _MISS) is not held.get(a, _MISS)]
    return changed


def _hooks_intact(watch: Watch, guard: Any, starter: Any, undo: list[tuple[type, str, Any]],
                  patched: dict[tuple[type, str], Any]) -> list[str]:
    """What was switched off during the watch (beyond the mode stacks)."""
    problems = []
    changed = _own_code_changed()
    if changed:
        problems.append(f"the watch's own code was changed ({', '.join(sorted(changed)[:3])})")
    if guard not in sys.meta_path:
        problems.append("the import guard was removed from sys.meta_path")
    if threading.getprofile() is not starter:
        problems.append("the thread hook (threading.setprofile) was replaced")
    if any(getattr(owner, name, None) is not relay for (owner, name), relay in _STARTERS.items()):
        problems.append("a thread-starting function of _thread or threading was replaced")
    if _unwatched_threads():
        problems.append("a Python thread the watch cannot see (started without its relay) runs beside the probe")
    if any(getattr(owner, name, None) is not guard for (owner, name), guard in _HANDLE_GUARDS.items()):
        problems.append("the guard on operators called by their handle was replaced")
    if any(cls.__dict__.get(attr) is not wrapper for (cls, attr), wrapper in patched.items()):
        problems.append("a watched class's __init__/forward was replaced")
    import torch.nn.functional as F
    if F.has_torch_function is not torch.overrides.has_torch_function \
            or F.handle_torch_function is not torch.overrides.handle_torch_function:
        problems.append("torch.nn.functional's torch-function hooks were replaced")
    return problems


@contextmanager
def watching(names: Iterable[str], student_file: str | Iterable[str],
             module: types.ModuleType | None = None, dispatch: bool | None = None) -> Iterator[Watch]:
    """Watch for the forbidden SPEC `names` while the block runs (one probe).

    `student_file`: the path(s) the student's code was compiled from (`module.__file__`).
    `module`: the student's module, whose namespace is checked for forbidden packages at
    the start (found in `sys.modules` by its file when omitted).
    `dispatch`: run the dispatch mode too; by default only when a watched target lists
    distinctive aten ops (scaled dot-product attention) — it costs more than the rest.

    Raises `ForbiddenCall` at the forbidden call; a violation the student's code caught
    is raised again when the block ends, and so is a watch found switched off (its mode
    popped, its hooks replaced) at the end.  Not re-entrant (one watch per process).
    """
    global _ACTIVE, _GENERATION
    guard_calls_by_handle()
    changed = _own_code_changed()
    if changed:  # before this probe (at import, in an earlier one): the watch would see nothing
        raise ForbiddenCall("the forbidden-built-in watch", f"its own code was changed ({', '.join(sorted(changed)[:3])})")
    files = {student_file} if isinstance(student_file, str) else set(student_file)
    files |= {os.path.realpath(f) for f in files}
    with _LOCK:
        if _ACTIVE is not None:
            raise RuntimeError("a forbidden-call watch is already active")
        _GENERATION += 1
        watch = Watch(tuple(names), frozenset(files), _GENERATION)
        for name in watch.names:
            watch.add(target_for(name))
        _ACTIVE = watch
    if module is None:
        module = next((m for m in list(sys.modules.values())
                       if isinstance(getattr(m, "__file__", None), str) and m.__file__ in files), None)
    if dispatch is None:
        dispatch = bool(watch.dispatch_ops or watch.dispatch_prefixes)
    modes: list[tuple[Any, str]] = []
    undo: list[tuple[type, str, Any]] = []
    guard = _ImportGuard(watch)
    previous_profile = threading.getprofile()
    starter = _thread_starter(watch, dispatch, previous_profile)
    tampered: list[str] = []
    try:
        undo = _patch_classes(watch.classes)
        patched = {(cls, attr): cls.__dict__.get(attr) for cls, attr, _ in undo}
        sys.meta_path.insert(0, guard)
        threading.setprofile(starter)
        watch.check_namespace(module)
        modes = [(_FunctionWatch(watch), "function")] + ([(_DispatchWatch(watch), "dispatch")] if dispatch else [])
        for m, _ in modes:
            m.__enter__()
        unwatched_at_start = _unwatched_threads()
        try:
            yield watch
        except ForbiddenCall:
            raise
        except BaseException as exc:
            if watch.violations:
                raise watch.violations[0] from exc
            raise
        finally:
            switched_off = not watch.active  # only this block sets it: the student's code did
            watch.active = False
            tampered = [f"the {kind} mode was popped" for m, kind in reversed(modes) if _leave(m, kind)]
            if switched_off:
                tampered.append("the watch was switched off (its `active` flag)")
            modes = []
            tampered += _hooks_intact(watch, guard, starter, undo, patched)
            if unwatched_at_start and not _unwatched_threads():
                tampered.append("a Python thread the watch cannot see (started without its relay) ran beside the probe")
        if watch.violations:
            raise watch.violations[0]
        if tampered:
            exc = ForbiddenCall("the forbidden-built-in watch", "; ".join(tampered))
            watch.violations.append(exc)
            raise exc
    finally:
        watch.active = False
        for m, kind in reversed(modes):
            _leave(m, kind)
        threading.setprofile(previous_profile)
        if guard in sys.meta_path:
            sys.meta_path.remove(guard)
        _unpatch(undo)
        watch.boundaries.clear()
        with _LOCK:
            _ACTIVE = None


# -- for the static scan ---------------------------------------------------------------------

#: Names whose use lets code in the worker switch this watch off or forge trust; the
#: static scan should flag them for a human (the run-time layer is not unforgeable).
TAMPERING_NAMES: dict[str, str] = {
    # the mode stacks
    "torch.overrides._pop_mode": "pops the function mode",
    "torch.overrides._pop_mode_temporarily": "pops the function mode",
    "torch.overrides._get_current_function_mode_stack": "reads the function mode stack",
    "torch._C._pop_torch_function_stack": "pops the function mode",
    "torch._C._len_torch_function_stack": "reads the function mode stack",
    "torch._C._get_function_stack_at": "reads the function mode stack",
    "torch._C._disabled_torch_function_impl": "calls a function without torch-function handling",
    "torch._C.DisableTorchFunction": "disables function modes",
    "torch._C._disable_torch_function": "disables function modes",
    "torch._C.DisableTorchFunctionSubclass": "disables torch-function handling",
    "torch._C._is_torch_function_mode_enabled": "probes for the function mode",
    "torch.utils._python_dispatch._pop_mode_temporarily": "pops the dispatch mode",
    "torch.utils._python_dispatch._get_current_dispatch_mode_stack": "reads the dispatch mode stack",
    "torch.utils._python_dispatch._disable_current_modes": "pops every dispatch mode",
    "torch._C._pop_torch_dispatch_stack": "pops the dispatch mode",
    "torch._C._unset_dispatch_mode": "pops the dispatch mode",
    "torch._C._DisableTorchDispatch": "disables dispatch modes",
    "torch._C._ExcludeDispatchKeyGuard": "skips dispatch keys (Python included)",
    "torch._C._DisablePythonDispatcher": "skips the Python dispatcher",
    "torch._C._dispatch_tls_set_dispatch_key_excluded": "skips dispatch keys (Python included)",
    "torch.overrides.TorchFunctionMode": "a mode of its own (may pop the watch's)",
    "torch.utils._python_dispatch.TorchDispatchMode": "a mode of its own (may pop the watch's)",
    "torch.overrides.has_torch_function": "monkeypatching it hides Python-level torch functions",
    "torch.overrides.handle_torch_function": "monkeypatching it hides Python-level torch functions",
    # compilers that run torch ops where the function mode does not see them
    "torch.jit": "TorchScript runs F.linear as aten::mm (not distinctive)",
    "torch.compile": "compiled graphs run below the function mode",
    "torch._dynamo": "compiled graphs run below the function mode",
    "torch.export": "exported graphs",
    "torch.library": "custom operators",
    # operators called by their handle, below the function mode
    "torch._C._dispatch_find_schema_or_throw": "finds an operator's handle, to call it below the function mode",
    "torch._C._dispatch_call_boxed": "calls an operator below the function mode",
    "redispatch_boxed": "calls an operator below the function mode",
    "torch._C._dispatch_library": "registers kernels of its own",
    # the class patches and trust marks
    "__closure__": "reaches the original forward/__init__ inside a wrapper",
    "cell_contents": "reaches the original forward/__init__ inside a wrapper",
    "__wrapped__": "unwraps wrappers",
    "__globals__": "reaches a function's module: the grader's own (the watch's functions and classes)",
    "inspect.getmodule": "finds the module of a function: the grader's own (the watch)",
    "inspect.getclosurevars": "reads a function's closure: the watch inside its hooks",
    "threading.getprofile": "takes the hook that carries the watch into threads (and the watch in its closure)",
    "sys.getprofile": "profile hooks",
    "torch._C._get_dispatch_stack_at": "reads the dispatch mode stack",
    "torch.utils._python_dispatch._get_current_dispatch_mode": "reads the dispatch mode",
    **{f"{where}register_module_{kind}": "a hook on every module, the grader's trusted parts included (run inside them)"
       for where in ("", "torch.nn.modules.module.")
       for kind in ("forward_hook", "forward_pre_hook", "full_backward_hook", "full_backward_pre_hook", "backward_hook",
                    "module_registration_hook", "parameter_registration_hook", "buffer_registration_hook")},
    "__subclasses__": "reaches any class, the watch's own included, through the class tree",
    "__class__": "assigning it changes an instance's class after construction",
    "__dict__": "writes the trust mark or class attributes directly",
    "object.__setattr__": "writes the trust mark",
    "type.__setattr__": "restores a patched class attribute",
    "_nnzoo_trusted_in_watch": "the trust mark's attribute name",
    "importlib.reload": "reloads torch modules: fresh, unpatched classes",
    "inspect.getsource": "copies torch's source to exec it under another name",
    # imports
    "sys.meta_path": "removes the import guard",
    "sys.modules": "takes cached packages or the watch itself",
    "sys.path_hooks": "import machinery",
    "importlib": "imports by a built string",
    "__import__": "imports by a built string",
    "__builtins__": "reaches import and exec by a built string",
    "pkgutil": "imports by a built string",
    "runpy": "runs modules",
    "zipimport": "imports",
    "autograder": "the grader's own modules (`trust`, `trusted`, the active watch)",
    # frames, code and threads
    "sys._getframe": "walks or edits frames",
    "inspect.currentframe": "walks or edits frames",
    "f_back": "walks frames",
    "f_locals": "edits frames",
    "types.CodeType": "forges code objects",
    "types.FunctionType": "builds functions from forged code",
    "co_filename": "forges a code object's file",
    "__code__": "swaps a function's code",
    "exec": "runs code under another file name",
    "eval": "runs code under another file name",
    "compile": "compiles code under another file name",
    "_thread": "threads started below `threading` do not carry the modes",
    "threading.setprofile": "replaces the hook that carries the modes into new threads",
    "sys.setprofile": "profile hooks",
    "os.fork": "forks",
    "multiprocessing": "other processes",
    "concurrent.futures.ProcessPoolExecutor": "other processes",
    "pty": "forks",
    **{f"os.{call}": "starts another process or program" for call in (
        "forkpty", "posix_spawn", "posix_spawnp", "popen", "system", "execl", "execle", "execlp", "execlpe", "execv",
        "execve", "execvp", "execvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp",
        "spawnvpe")},
    "pickle": "runs code hidden in bytes",
    "_pickle": "runs code hidden in bytes",
    "copyreg": "runs code hidden in bytes",
    "shelve": "runs code hidden in bytes",
    "dill": "runs code hidden in bytes",
    "cloudpickle": "runs code hidden in bytes",
    "torch.load": "unpickles: with weights_only=False, any object by a name in bytes",
    "torch.package": "imports code hidden in bytes",
    "marshal": "loads code objects from bytes",
    "pydoc": "imports and finds any object by a built string (`pydoc.locate`)",
    "operator.attrgetter": "finds attributes by a built string",
    "operator.methodcaller": "calls methods by a built string",
    "torch.hub": "loads code from elsewhere",
    "torch.utils.cpp_extension": "compiles native code",
    "torch.ops.load_library": "loads native code",
    "gc": "finds objects (originals, the watch) by traversal",
    "ctypes": "anything",
}

#: This module as it defined itself (`_own_code_changed`), taken once it is complete.
_AS_DEFINED = _as_defined()
