"""The records a judge sends to a worker: what to build and which probe to run."""

from __future__ import annotations

import functools
import importlib
import io
import pickle
import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn

from autograder.worker.forbidden import carry_trust, trust, unrecorded, untrusted

#: Placeholder in a probe's `args`: replaced by the model the probe built.
MODEL = "<model>"

#: Modules a `Build` may name with "module:attr" (trusted code, never the student's).
TRUSTED_PREFIXES = ("torch.", "autograder.")

#: Value types of the student's own attributes that a trusted replacement keeps.
PLAIN = (bool, int, float, str, type(None))

#: Where classes that are never the student's come from.
_LIBRARY = ("torch", "autograder", "builtins")

#: Class-dict entries every class has: they describe the class, they are not attributes a
#: trusted part could lose to the student's.
_BOOKKEEPING = frozenset({"__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__annotations__", "__slots__"})

#: How many levels of the student's own lists, tuples and dicts `put_in` looks into for
#: references to a replaced part (`self._stages = [(self.conv1, self.conv2)]` is two).
ALIAS_DEPTH = 4


#: The classes `adopt` and `patched_in` combined in the probe running, by (trusted class,
#: student's class, the names the trusted values serve, whether calling it builds a
#: trusted part) — the classes by `id`, so no metaclass of the student's hashes them — with
#: the classes themselves (holding them keeps their ids unique): every part of one kind
#: gets the same class, so `type(a) is type(b)` holds as it does for the student's parts.
#: Emptied at the probe's end (`names_follow_swaps`).
_COMBINED: dict[tuple[int, int, frozenset[str], bool], tuple[type, type, type]] = {}

#: id(combined class) -> (the combined class, the student's class it stands in for), for
#: the probe running.
_STUDENT_OF: dict[int, tuple[type, type]] = {}

#: The combined classes a `patch=` put under a student's class name in the probe running
#: (`patched_in`), by (id of the trusted class, id of the student's): calling one builds a
#: trusted part, which a swap keeps; `adopt` gives that class to the same pair's parts.
_PATCHED_IN: dict[tuple[int, int], type] = {}

#: The names and table entries of a student's module that point at combined classes while
#: a probe runs (`name_adopted_classes`), with what they held: (dict or class, key, value).
_RENAMED: list[tuple[Any, Any, Any]] = []

#: How many `names_follow_swaps` blocks are running: names are pointed only inside one.
_FOLLOWING = 0


class MissingName(AttributeError):
    """The student's module does not define a name the assignment asks for."""


@dataclass(frozen=True)
class Swap:
    """A trusted part put into a built model, found by where SPEC puts it — never by how the
    student's code names or binds its own classes.

    Args:
        target: an attribute path on the built model (`"cell"`, `"rnn.cell"`,
            `"self_attn"`, `"layers.*"` = every child of `layers`), or, with `by="class"`,
            the name of one of the student's classes (`"GCNLayer"`): every submodule that
            is an instance of it is replaced, wherever the student keeps it.
        trusted: a `Build` of the replacement, or the name of a trusted factory
            (`"autograder.worker.probes.gnn:trusted_gcn_like"`) called with the module it
            replaces (to read its sizes from its parameters).
    """

    target: str
    trusted: "Build | str"
    by: str = "path"


@dataclass(frozen=True)
class Build:
    """How to construct a module: `Build("MLP", 2, [16], 3)` means `module.MLP(2, [16], 3)`.

    A name with a colon (`"torch.nn:Linear"`) is a trusted class, not the student's.
    Arguments that are themselves `Build`s are built first, so trusted models compose:
    `Build("torch.nn:Sequential", Build("torch.nn:Linear", 2, 8), Build("torch.nn:ReLU"))`.
    `swap(...)` returns the same recipe with trusted parts put into the built model (see
    `Swap`): `Build("RNN", 4, 8).swap("cell", Build("autograder.worker.probes.rnn:TrustedRNNCell", 4, 8))`.
    """

    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    swaps: tuple[Swap, ...] = ()

    def __init__(self, name: str, *args: Any, **kwargs: Any) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "kwargs", kwargs)
        object.__setattr__(self, "swaps", ())

    def swap(self, target: str, trusted: "Build | str", by: str = "path") -> "Build":
        """This recipe, with one more trusted part put in after construction."""
        other = Build(self.name, *self.args, **self.kwargs)
        object.__setattr__(other, "swaps", (*self.swaps, Swap(target, trusted, by)))
        return other

    def __str__(self) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.name.split(':')[-1]}({', '.join(parts)})"

    def instantiate(self, module: Any) -> Any:
        args = [a.instantiate(module) if isinstance(a, Build) else a for a in self.args]
        obj = resolve(module, self.name)(*args, **self.kwargs)
        for swap in self.swaps:
            put_in(obj, swap, module)
        return obj


def _replacement(swap: Swap, old: Any, module: Any) -> Any:
    """The trusted part for the student's `old`: a factory puts it in the place and class of
    `old` itself (`adopt`); a plain `Build` is adopted here."""
    if any(type(old) is c for c in _PATCHED_IN.values()):  # built trusted by a `patch=` of this probe (`patched_in`)
        return old  # (by identity: a stand-in equals the student's class)
    if isinstance(swap.trusted, Build):
        return adopt(swap.trusted.instantiate(module), old)
    return resolve(module, swap.trusted, trusted=False)(old)


def _parent_of(obj: Any, path: str) -> tuple[Any, str]:
    owner_path, _, attr = path.rpartition(".")
    owner = obj
    for part in owner_path.split(".") if owner_path else ():
        owner = getattr(owner, part, None)
        if owner is None:
            raise MissingName(f"{type(obj).__name__} has no `{owner_path}` (the assignment asks for it)")
    return owner, attr


def _targets(obj: Any, swap: Swap, module: Any) -> Iterator[tuple[Any, str, Any]]:
    """(owner, attribute, part) for every part of the built model `obj` that `swap` names,
    each found when the previous one has been replaced."""
    if swap.by == "class":
        cls = resolve(module, swap.target)
        found = [(name, m) for name, m in obj.named_modules() if name and isinstance(m, cls)]
        for name, old in found:
            yield (*_parent_of(obj, name), old)
        return
    if swap.target.endswith(".*"):
        owner, attr = _parent_of(obj, swap.target[:-2])
        layers = getattr(owner, attr, None)
        if isinstance(layers, (list, tuple)):  # the layers' parameters are not the model's: parameters() misses them
            raise MissingName(f"{type(obj).__name__}'s `{swap.target[:-2]}` is a Python {type(layers).__name__}, not an "
                              "nn.ModuleList: the model does not register its layers, so model.parameters() misses their weights")
        if not hasattr(layers, "named_children"):
            raise MissingName(f"{type(obj).__name__} has no `{swap.target[:-2]}` list of layers (the assignment asks for it)")
        for name, old in list(layers.named_children()):
            yield layers, name, old
        return
    owner, attr = _parent_of(obj, swap.target)
    old = getattr(owner, attr, None)
    if old is None:
        raise MissingName(f"{type(obj).__name__} has no `{swap.target}` (the assignment asks for it)")
    yield owner, attr, old


def put_in(obj: Any, swap: Swap, module: Any) -> None:
    """Replace the parts `swap` names in the built model `obj` by trusted ones, and every
    other reference to a replaced part that the model's modules hold (`_rebind`)."""
    replaced: dict[int, tuple[Any, Any]] = {}  # id(old) -> (old, new); holding `old` keeps its id unique
    for owner, attr, old in _targets(obj, swap, module):
        new = _replacement(swap, old, module)
        setattr(owner, attr, new)
        if new is not old:
            replaced[id(old)] = (old, new)
    if replaced and isinstance(obj, nn.Module):
        _rebind(obj, replaced)


def _rebind(obj: nn.Module, replaced: dict[int, tuple[Any, Any]]) -> None:
    """Point every reference to a replaced part, in the attributes of every module of `obj`,
    at its replacement.  A student may keep aliases of its layers (`self._stack =
    tuple(self.layers)`, `self._convs = [self.conv1, self.conv2]`, a second registered name):
    left alone, they would run the old part, which the grader never casts, loads or trains.
    The trusted parts themselves are left as they are: one may hold a student's part on
    purpose (a trusted harness around it)."""
    trusted = {id(m) for _, part in replaced.values() if isinstance(part, nn.Module) for m in part.modules()}
    for m in list(obj.modules()):
        if id(m) in trusted:
            continue
        attributes = vars(m)  # `_modules` (registered names) included
        for name, value in list(attributes.items()):
            new = _rebound(value, replaced, ALIAS_DEPTH)
            if new is not value:
                attributes[name] = new


def _rebind_function(fn: types.FunctionType, replaced: dict[int, tuple[Any, Any]], depth: int) -> None:
    """The parts `fn` holds in its closure cells and default arguments, changed in place for
    their replacements (SPEC: grading never depends on how a part is held — a `step`
    defined in `__init__` over `self.cell`, stage lambdas binding each layer by default)."""
    for cell in fn.__closure__ or ():
        try:
            item = cell.cell_contents
        except ValueError:  # a cell not yet filled
            continue
        new = _rebound(item, replaced, depth)
        if new is not item:
            cell.cell_contents = new
    if fn.__defaults__:
        defaults = tuple(_rebound(item, replaced, depth) for item in fn.__defaults__)
        if any(a is not b for a, b in zip(defaults, fn.__defaults__)):
            fn.__defaults__ = defaults
    if fn.__kwdefaults__:
        for name, item in list(fn.__kwdefaults__.items()):
            new = _rebound(item, replaced, depth)
            if new is not item:
                fn.__kwdefaults__[name] = new


def _rebound(value: Any, replaced: dict[int, tuple[Any, Any]], depth: int) -> Any:
    """`value` with the replaced parts in it by identity changed for their replacements: a
    list or dict, a function's closure and defaults, or an object of the student's own class
    (a dataclass), changes in place
    (so that every other holder of it sees the change); a tuple or named tuple, a bound
    method of a replaced part or a `functools.partial` comes back rebuilt; any other object
    is left as it is."""
    if id(value) in replaced:
        return replaced[id(value)][1]
    if depth == 0:
        return value
    if isinstance(value, list):
        for i, item in enumerate(value):
            new = _rebound(item, replaced, depth - 1)
            if new is not item:
                value[i] = new
    elif isinstance(value, dict):
        for key, item in value.items():  # assigning to existing keys: the dict keeps its size
            new = _rebound(item, replaced, depth - 1)
            if new is not item:
                value[key] = new
    elif isinstance(value, tuple) and (type(value) is tuple or hasattr(value, "_make")):
        items = [_rebound(item, replaced, depth - 1) for item in value]
        if any(a is not b for a, b in zip(items, value)):
            return tuple(items) if type(value) is tuple else value._make(items)
    elif isinstance(value, types.MethodType):  # `self._step = self.cell.__call__`
        owner = _rebound(value.__self__, replaced, depth - 1)
        if owner is not value.__self__:
            return types.MethodType(value.__func__, owner)
    elif isinstance(value, functools.partial):  # `functools.partial(self.cell, ...)`
        parts = [_rebound(x, replaced, depth - 1) for x in (value.func, *value.args)]
        keywords = {k: _rebound(x, replaced, depth - 1) for k, x in value.keywords.items()}
        if any(a is not b for a, b in zip(parts, (value.func, *value.args))) or \
                any(keywords[k] is not x for k, x in value.keywords.items()):
            return functools.partial(parts[0], *parts[1:], **keywords)
    elif isinstance(value, types.FunctionType):  # a closure or a default argument holding a part
        _rebind_function(value, replaced, depth - 1)  # (`lambda x, layer=self.l1: layer(x)`)
    elif _students_plain_object(value):  # a dataclass or object of the student's holding a part
        attributes = vars(value)
        for name, item in list(attributes.items()):
            new = _rebound(item, replaced, depth - 1)
            if new is not item:
                attributes[name] = new  # past a frozen dataclass's __setattr__, as its own __init__ does
    return value


def _students_plain_object(value: Any) -> bool:
    """An instance of a class of the student's (not a module, a tensor, a function or a
    class), with its attributes in a `__dict__`: a dataclass holding `self.cell`."""
    kind = type(value)
    return (not kind.__module__.startswith(_LIBRARY) and hasattr(value, "__dict__")
            and not isinstance(value, (nn.Module, torch.Tensor, type, types.FunctionType, types.ModuleType)))


# -- a trusted part in the student's place ----------------------------------------------------

def _is_data_descriptor(value: Any) -> bool:
    """A property or the like: found on the class, it wins over the instance's own attribute."""
    return hasattr(type(value), "__set__") or hasattr(type(value), "__delete__")


def _hidden_names(student: type, new: nn.Module) -> set[str]:
    """The names under which an attribute of the student's classes would win over what the
    trusted `new` holds: a property (any data descriptor) over its instance attributes, and
    any class attribute over its parameters, buffers and submodules, which `nn.Module`
    serves only when the ordinary lookup finds nothing.  A name the trusted class defines
    itself is left out: `_keep_trusted` already gives it the trusted meaning."""
    served = set(new._parameters) | set(new._buffers) | set(new._modules)
    trusted = type(new).__mro__
    theirs = [c for c in student.__mro__ if c not in trusted]  # by identity: a `__module__` can be forged
    return {name for c in theirs for name, value in vars(c).items()
            if (name in served or (name in vars(new) and _is_data_descriptor(value))) and not any(name in vars(k) for k in trusted)}


class _TrustedValue:
    """A name of the trusted part that a student's class attribute would hide (a property
    `hidden_size` over the trusted cell's own `hidden_size`, a class attribute `weight`
    over its parameter): put in the combined class, it serves the trusted instance's
    value — its own attribute, else its parameter, buffer or submodule."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        own = obj.__dict__
        return own[self.name] if self.name in own else nn.Module.__getattr__(obj, self.name)

    def __set__(self, obj: Any, value: Any) -> None:  # reached for plain values: nn.Module registers the rest
        obj.__dict__[self.name] = value

    def __delete__(self, obj: Any) -> None:
        if self.name in obj.__dict__:
            del obj.__dict__[self.name]
        else:
            nn.Module.__delattr__(obj, self.name)


def _keep_trusted(combined: type, trusted: type) -> None:
    """Make every name the trusted class defines resolve in `combined` to the trusted one.
    In `combined`'s MRO the student's classes come before the bases both share (`nn.Module`,
    `object`): a student's `__call__`, `to`, `_apply`, `state_dict` or `__hash__` would
    otherwise decide how the trusted part runs, is cast or is loaded."""
    trusted_side = set(trusted.__mro__)
    for c in combined.__mro__[1:]:
        if c in trusted_side:
            continue
        for name in vars(c):
            if name in _BOOKKEEPING or next(k for k in combined.__mro__ if name in vars(k)) is not c:
                continue
            owners = [k for k in trusted.__mro__ if name in vars(k)]
            if owners:
                type.__setattr__(combined, name, vars(owners[0])[name])


def adopt(new: nn.Module, old: nn.Module) -> nn.Module:
    """`new` (trusted) put in the place of the student's `old`, keeping what correct code
    may ask of the student's part:

    - `old`'s plain attributes that `new` lacks (e.g. a `d_model` the student's code reads);
    - `old`'s class: `new` becomes an instance of a subclass of both, named as the student's
      class, so `isinstance(layer, GCNLayer)` holds and the student's own extra methods (a
      private `_affine` the student's container calls) are there, running on the trusted
      part's weights.

    What the trusted part computes stays trusted: every name its class defines (its
    `forward`, torch's module machinery) resolves to the trusted one, never to the
    student's (`_keep_trusted`), and so does every value it holds that a student's class
    attribute would hide (a property `hidden_size`: `_hidden_names`).  Where the classes
    cannot be combined, `new` keeps its own class."""
    with untrusted():  # the student's class hooks and descriptors run here: never as the grader's
        return _adopted(new, old)


def _adopted(new: nn.Module, old: nn.Module) -> nn.Module:
    student = type(old)
    combined = None
    if not (student.__module__.startswith(_LIBRARY) or isinstance(new, student)):
        hidden = frozenset(_hidden_names(student, new))
        patched = _PATCHED_IN.get((id(type(new)), id(student)))
        try:  # a `patch=` of this probe made the class already: one class for the student's, as they have one
            combined = _serving(patched, hidden) if patched is not None else _combined(type(new), student, hidden)
        except Exception:  # noqa: BLE001 — e.g. an MRO that cannot be linearised, a metaclass that objects
            combined = None
    _keep_plain_attributes(new, old)
    if combined is not None:
        try:
            new.__class__ = combined
        except TypeError:  # `__slots__` in the student's class: another instance layout
            new = _in_class(new, old, combined)
    return new


def _keep_plain_attributes(new: nn.Module, old: nn.Module) -> None:
    """`old`'s plain attributes that `new` lacks, put on `new` (a `d_model` the student's code reads)."""
    for name, value in vars(old).items():
        if isinstance(value, PLAIN) and not name.startswith("__") and not hasattr(new, name):
            object.__setattr__(new, name, value)


def _serving(combined: type, hidden: Iterable[str]) -> type:
    """`combined`, with each name in `hidden` serving the trusted instance's own value."""
    for name in hidden:
        if not isinstance(vars(combined).get(name), _TrustedValue):
            type.__setattr__(combined, name, _TrustedValue(name))
    return combined


def _combined(trusted: type, student: type, hidden: frozenset[str], *, builds_trusted: bool = False) -> type:
    """A subclass of `trusted` and `student`, named as the student's class, in which every
    name `trusted` defines, and every name in `hidden`, means the trusted one.  It stands in
    for the student's class wherever their code meets it (`_standing_in_for`); making it
    runs no hook of theirs (`__init_subclass__`, a metaclass's `__new__`/`__init__`), which
    would register it in their own tables.  Called, it builds the student's own part — or,
    `builds_trusted` (a `patch=`: `patched_in`), a `trusted` part made an instance of it."""
    key = (id(trusted), id(student), hidden, builds_trusted)
    if key not in _COMBINED:
        meta, made = _standing_in_for(student, type(trusted), type(student),
                                      (lambda *a, **k: _made_as(made[0], trusted(*a, **k), student, a, k)) if builds_trusted else student)
        combined = meta(student.__name__, (_NoClassHooks, trusted, student),
                        {"__module__": __name__, "__qualname__": student.__qualname__})
        made.append(combined)
        for name in hidden:
            type.__setattr__(combined, name, _TrustedValue(name))
        _COMBINED[key], _STUDENT_OF[id(combined)] = (combined, trusted, student), (combined, student)
        if builds_trusted:
            _PATCHED_IN[id(trusted), id(student)] = combined
    combined = _COMBINED[key][0]
    _keep_trusted(combined, trusted)  # every time: the student's class may have gained a method since
    return combined


def patched_in(current: Any, trusted: Any) -> Any:
    """What a `patch=` puts under a name of the student's module that holds `current`:
    `trusted` itself — or, where the name holds a class of the student's own and `trusted`
    is a module class, a combined class standing in for theirs (`_combined`) whose calls
    build trusted parts as its instances.  Then a part their code builds under that name
    is the grader's and still passes for one of theirs: `type(layer) is
    TransformerEncoderLayer`, `table[type(layer)]` and `isinstance` hold, and a swap keeps
    it (`_replacement`).  Outside a probe, or where the classes cannot be combined,
    `trusted`."""
    if not (_FOLLOWING and isinstance(current, type) and isinstance(trusted, type) and issubclass(trusted, nn.Module)):
        return trusted
    try:
        if current.__module__.startswith(_LIBRARY) or issubclass(trusted, current):
            return trusted
        return _combined(trusted, current, frozenset(), builds_trusted=True)
    except Exception:  # noqa: BLE001 — e.g. an MRO that cannot be linearised, a metaclass that objects
        return trusted


def _made_as(combined: type, new: nn.Module, student: type, args: tuple, kwargs: dict) -> nn.Module:
    """The trusted part `new` made an instance of `combined`, whose names the student's
    classes would hide from it serve its own values (as `_hidden_names` finds them for
    `new`), with the plain attributes the student's own constructor sets given the same
    arguments (`self._d = d_model`), where it builds (the random state left as it was, the
    built-ins it reaches not counted: no verdict rests on it); `new` as it is where the
    layouts differ (`__slots__`)."""
    with untrusted():
        try:
            with torch.random.fork_rng(devices=[]), unrecorded():
                _keep_plain_attributes(new, student(*args, **kwargs))
        except Exception:  # noqa: BLE001 — an unfinished part: what the patch is for
            pass
        _serving(combined, _hidden_names(student, new))
        try:
            new.__class__ = combined
        except TypeError:
            pass
    return new


class _NoClassHooks:
    """First base of a combined class: the `__init_subclass__` that class creation calls is
    this one, not the student's."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        pass


def _standing_in_for(student: type, trusted_meta: type, student_meta: type,
                     build: Callable[..., Any]) -> tuple[type, list[type]]:
    """The metaclass of a combined class standing in for `student`, and the list to put that
    class in once made: the more derived of the two classes' metaclasses (TypeError where
    neither derives from the other, as for any class with both bases), under which the
    combined class answers as the student's class does where the student's code meets it:

    - called (`LSTMCell(3, 5)`, `type(self.cell)(3, 5)`), it makes what `build` makes: the
      student's own part (`build` is their class) or, under a `patch=`, a trusted one;
      `copy.deepcopy` and pickle make instances through `__new__`: copies stay trusted;
    - `isinstance(their_cell, LSTMCell)` and `issubclass` hold for the student's own parts;
    - equal, and of equal hash, to the student's class: `table[type(self.cell)]` finds
      the entry of their class.

    A class derived from the combined one is as ever."""
    winner = student_meta if issubclass(student_meta, trusted_meta) else \
        trusted_meta if issubclass(trusted_meta, student_meta) else None
    if winner is None:
        raise TypeError(f"metaclass conflict: {trusted_meta.__name__} and {student_meta.__name__}")
    made: list[type] = []  # the combined class, once made

    def standing_in(cls: type) -> bool:
        return bool(made) and cls is made[0]

    namespace = {
        "__new__": lambda meta, *args: type.__new__(meta, *args),
        "__init__": lambda cls, *args: type.__init__(cls, *args),
        "__call__": lambda cls, *args, **kwargs: build(*args, **kwargs) if standing_in(cls) else winner.__call__(cls, *args, **kwargs),
        "__instancecheck__": lambda cls, obj: type.__instancecheck__(cls, obj) or (standing_in(cls) and isinstance(obj, student)),
        "__subclasscheck__": lambda cls, sub: type.__subclasscheck__(cls, sub) or (standing_in(cls) and issubclass(sub, student)),
        "__eq__": lambda cls, other: cls is other or (standing_in(cls) and other is student),
        "__hash__": lambda cls: hash(student) if standing_in(cls) else type.__hash__(cls),
    }
    return type(winner.__name__, (winner,), namespace), made


def name_adopted_classes(module: Any, obj: Any) -> None:
    """Point every name and table entry of the student's `module` that holds a class whose
    parts in the built model `obj` are trusted ones at the class of those parts, until the
    end of the probe (`names_follow_swaps`; outside one, nothing): a student's
    `type(self.cell) is LSTMCell` — or `is CELLS["lstm"]`, `is Cell.registry["lstm"]` —
    holds for the grader's cell as it does for their own, as `isinstance` already did.
    Looked at: the module's names, the plain dicts among them, the attributes (and their
    plain dicts) of the classes the module defines, and the attributes of the built model's
    modules.  Called once the whole model is built, so the student's constructors never
    build a trusted part (but under a `patch=`: `patched_in`)."""
    if not _FOLLOWING or module is None or not isinstance(obj, nn.Module):
        return
    stand_ins: dict[int, tuple[type, type]] = {}  # id(student's class) -> (its combined class, the student's class)
    for part in obj.modules():
        combined, student = _STUDENT_OF.get(id(type(part)), (None, None))
        if combined is type(part):
            stand_ins.setdefault(id(student), (combined, student))
    if not stand_ins:
        return
    namespace = vars(module)
    own_module = namespace.get("__name__")
    for name, value in list(namespace.items()):  # by identity and plain keys: no code of the student's runs here
        if type(name) is not str:
            continue
        _point(namespace, name, value, stand_ins)
        if isinstance(value, type):
            attributes = type.__dict__["__dict__"].__get__(value, type)
            if attributes.get("__module__") == own_module:
                for attr, held in list(attributes.items()):
                    _point(value, attr, held, stand_ins)
    for part in obj.modules():  # a class the model's own modules keep (`self._layer_cls = layer_cls`)
        attributes = vars(part)
        for attr, held in list(attributes.items()):
            if type(attr) is str and isinstance(held, type):
                _point(attributes, attr, held, stand_ins)


def _point(container: dict | type, key: str, value: Any, stand_ins: dict[int, tuple[type, type]]) -> None:
    """`container[key]` (a dict's entry, a class's attribute) pointed at the stand-in of the
    class it holds, if any — and so every entry of a plain dict it holds under plain keys."""
    if id(value) in stand_ins and stand_ins[id(value)][1] is value:
        _RENAMED.append((container, key, value))
        _set(container, key, stand_ins[id(value)][0])
    elif type(value) is dict:
        for inner, held in list(value.items()):
            if type(inner) in (str, int) and id(held) in stand_ins and stand_ins[id(held)][1] is held:
                _RENAMED.append((value, inner, held))
                value[inner] = stand_ins[id(held)][0]


def _set(container: dict | type, key: Any, value: Any) -> None:
    if type(container) is dict:
        container[key] = value
    else:
        type.__setattr__(container, key, value)


@contextmanager
def names_follow_swaps() -> Iterator[None]:
    """A block (a probe) in which the models built point the student's names of their
    swapped parts' classes at the trusted parts' classes (`name_adopted_classes`); at its
    end every name holds the student's own class again."""
    global _FOLLOWING
    mark = len(_RENAMED)
    _FOLLOWING += 1
    try:
        yield
    finally:
        _FOLLOWING -= 1
        while len(_RENAMED) > mark:
            _set(*_RENAMED.pop())
        if not _FOLLOWING:  # a trusted class is the watch's of this probe: the next probe combines its own
            _COMBINED.clear()
            _STUDENT_OF.clear()
            _PATCHED_IN.clear()


def _in_class(new: nn.Module, old: nn.Module, combined: type) -> nn.Module:
    """A `combined` instance holding `new`'s state (a module's state is its `__dict__`) and
    the values of `old`'s slots: what `new.__class__ = combined` gives where the student's
    `__slots__` make the two layouts differ.  `new` itself where even that fails."""
    try:
        clone = object.__new__(combined)
        clone.__dict__.update(vars(new))
        for name in {n for k in type(old).__mro__ for n in _slot_names(k)}:
            if hasattr(old, name) and name not in vars(new):
                object.__setattr__(clone, name, getattr(old, name))
        carry_trust(new, clone)
        return clone
    except (TypeError, AttributeError):
        return new


def _slot_names(kind: type) -> tuple[str, ...]:
    slots = vars(kind).get("__slots__", ())
    return (slots,) if isinstance(slots, str) else tuple(n for n in slots if n not in ("__dict__", "__weakref__"))


def resolve(module: Any, name: str, trusted: bool = True) -> Any:
    """`module.name`, or a trusted `"package.module:attr"`; a clear error when missing.

    The grader's own object is trusted by the forbidden-built-in watch in force (a trusted
    block may use a built-in) — except with `trusted=False`, for a swap factory: it reads
    the student's part (its sizes, its `num_heads`), and whatever that runs is the
    student's; the factory trusts only the construction of its own class
    (`trust(TrustedSelfAttention)(d, h)`)."""
    if ":" in name:
        mod_name, attr = name.split(":", 1)
        if not (mod_name + ".").startswith(TRUSTED_PREFIXES):
            raise ValueError(f"{name!r} is not a trusted module")
        found = getattr(importlib.import_module(mod_name), attr)
        return trust(found) if trusted else found
    try:
        return getattr(module, name)
    except AttributeError:
        file = getattr(module, "__file__", None) or getattr(module, "__name__", "the module")
        raise MissingName(f"{file.rsplit('/', 1)[-1]} defines no `{name}`") from None


@dataclass(frozen=True)
class ProbeRequest:
    """One probe call: the registered probe's name, its keyword arguments, a seed,
    `patch`: names of the module replaced by trusted objects for this call only (e.g.
    `{"relu": "torch:relu"}`; prefer `Build.swap` for the parts of a model), and `forbid`:
    the built-ins the student's code may not reach while the probe runs (SPEC names, as in
    `@pytest.mark.forbid`), watched at run time (`autograder.worker.forbidden`).
    """

    name: str
    kwargs: dict
    seed: int = 0
    patch: dict = field(default_factory=dict)
    forbid: tuple[str, ...] = ()


def raw_bytes(tensor: torch.Tensor) -> bytes:
    """The elements of `tensor`, in row-major order, as little-endian bytes."""
    try:
        return tensor.detach().numpy().tobytes()  # numpy writes any layout in row-major order
    except (TypeError, RuntimeError):  # bfloat16 has no numpy dtype; a conjugate or negative view
        flat = tensor.detach().resolve_conj().resolve_neg().contiguous().reshape(-1)
        return flat.view(torch.uint8).numpy().tobytes()


def _tensor(data: bytes, dtype: torch.dtype, shape: tuple[int, ...], requires_grad: bool) -> torch.Tensor:
    """A tensor rebuilt from its raw bytes (see `_RequestPickler`)."""
    tensor = torch.frombuffer(bytearray(data), dtype=dtype).reshape(shape) if data else torch.empty(shape, dtype=dtype)
    return tensor.requires_grad_() if requires_grad else tensor


class _RequestPickler(pickle.Pickler):
    """Pickles a plain dense tensor as its raw bytes: torch's own reduction saves each
    one with `torch.save` (≈ 0.1 ms a tensor both ways, over 100 tensors in some requests)."""

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is torch.Tensor and obj.layout == torch.strided and not obj.is_quantized:
            return _tensor, (raw_bytes(obj), obj.dtype, tuple(obj.shape), obj.requires_grad and obj.is_leaf)
        return NotImplemented


def request_bytes(request: ProbeRequest) -> bytes:
    """`request` as the judge sends it to a worker (read back with `pickle.loads`)."""
    out = io.BytesIO()
    _RequestPickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(request)
    return out.getvalue()
