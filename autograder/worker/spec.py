"""The records a judge sends to a worker: what to build and which probe to run."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

#: Placeholder in a probe's `args`: replaced by the model the probe built.
MODEL = "<model>"

#: Modules a `Build` may name with "module:attr" (trusted code, never the student's).
TRUSTED_PREFIXES = ("torch.", "autograder.")


class MissingName(AttributeError):
    """The student's module does not define a name the assignment asks for."""


@dataclass(frozen=True)
class Build:
    """How to construct a module: `Build("MLP", 2, [16], 3)` means `module.MLP(2, [16], 3)`.

    A name with a colon (`"torch.nn:Linear"`) is a trusted class, not the student's.
    Arguments that are themselves `Build`s are built first, so trusted models compose:
    `Build("torch.nn:Sequential", Build("torch.nn:Linear", 2, 8), Build("torch.nn:ReLU"))`.
    """

    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def __init__(self, name: str, *args: Any, **kwargs: Any) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "kwargs", kwargs)

    def __str__(self) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.name.split(':')[-1]}({', '.join(parts)})"

    def instantiate(self, module: Any) -> Any:
        args = [a.instantiate(module) if isinstance(a, Build) else a for a in self.args]
        return resolve(module, self.name)(*args, **self.kwargs)


def resolve(module: Any, name: str) -> Any:
    """`module.name`, or a trusted `"package.module:attr"`; a clear error when missing."""
    if ":" in name:
        mod_name, attr = name.split(":", 1)
        if not (mod_name + ".").startswith(TRUSTED_PREFIXES):
            raise ValueError(f"{name!r} is not a trusted module")
        return getattr(importlib.import_module(mod_name), attr)
    try:
        return getattr(module, name)
    except AttributeError:
        file = getattr(module, "__file__", None) or getattr(module, "__name__", "the module")
        raise MissingName(f"{file.rsplit('/', 1)[-1]} defines no `{name}`") from None


@dataclass(frozen=True)
class ProbeRequest:
    """One probe call: the registered probe's name, its keyword arguments, a seed, and
    `patch`: names of the module replaced by trusted objects for this call only (e.g.
    `{"Linear": "torch.nn:Linear"}` grades an `MLP` independently of the student's `Linear`).
    """

    name: str
    kwargs: dict
    seed: int = 0
    patch: dict = field(default_factory=dict)
