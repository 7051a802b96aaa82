"""The records a judge sends to a worker: what to build and which probe to run."""

from __future__ import annotations

import importlib
import io
import pickle
from dataclasses import dataclass, field
from typing import Any

import torch

from autograder.worker.forbidden import trust

#: Placeholder in a probe's `args`: replaced by the model the probe built.
MODEL = "<model>"

#: Modules a `Build` may name with "module:attr" (trusted code, never the student's).
TRUSTED_PREFIXES = ("torch.", "autograder.")


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
    if isinstance(swap.trusted, Build):
        return swap.trusted.instantiate(module)
    return resolve(module, swap.trusted)(old)


def _parent_of(obj: Any, path: str) -> tuple[Any, str]:
    owner_path, _, attr = path.rpartition(".")
    owner = obj
    for part in owner_path.split(".") if owner_path else ():
        owner = getattr(owner, part, None)
        if owner is None:
            raise MissingName(f"{type(obj).__name__} has no `{owner_path}` (the assignment asks for it)")
    return owner, attr


def put_in(obj: Any, swap: Swap, module: Any) -> None:
    """Replace the parts `swap` names in the built model `obj` by trusted ones."""
    if swap.by == "class":
        cls = resolve(module, swap.target)
        found = [(name, m) for name, m in obj.named_modules() if name and isinstance(m, cls)]
        for name, old in found:
            owner, attr = _parent_of(obj, name)
            setattr(owner, attr, _replacement(swap, old, module))
        return
    if swap.target.endswith(".*"):
        owner, attr = _parent_of(obj, swap.target[:-2])
        layers = getattr(owner, attr, None)
        if not hasattr(layers, "named_children"):
            raise MissingName(f"{type(obj).__name__} has no `{swap.target[:-2]}` list of layers (the assignment asks for it)")
        for name, old in list(layers.named_children()):
            setattr(layers, name, _replacement(swap, old, module))
        return
    owner, attr = _parent_of(obj, swap.target)
    old = getattr(owner, attr, None)
    if old is None:
        raise MissingName(f"{type(obj).__name__} has no `{swap.target}` (the assignment asks for it)")
    setattr(owner, attr, _replacement(swap, old, module))


def resolve(module: Any, name: str) -> Any:
    """`module.name`, or a trusted `"package.module:attr"`; a clear error when missing."""
    if ":" in name:
        mod_name, attr = name.split(":", 1)
        if not (mod_name + ".").startswith(TRUSTED_PREFIXES):
            raise ValueError(f"{name!r} is not a trusted module")
        # trusted for the forbidden-built-in watch in force (if any): a trusted block may use one
        return trust(getattr(importlib.import_module(mod_name), attr))
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
