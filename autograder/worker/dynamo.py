"""A stand-in for `torch._dynamo` until something needs the real one.

Eager PyTorch imports `torch._dynamo` (≈ 800 modules: sympy, the compiler's tracing
rules; 1–2 s of CPU on this machine kind, as long as `import torch` itself) the first time
an optimizer steps, only to call two functions that do nothing outside `torch.compile`:
`Optimizer.step` calls `torch._dynamo.graph_break()`, and `zero_grad`, `add_param_group`,
`state_dict` and `load_state_dict` wrap themselves once in `torch._dynamo.disable(fn)`.
Every process that trains pays it: each fork server, each judge, each `nnzoo test`.

`defer_dynamo_import()` (run when `autograder.worker.probes` is imported: by the fork
server before its warm-up, by every judge and by `nnzoo test`) puts a stand-in module in
its place that answers those two calls as eager PyTorch would (`graph_break`: nothing;
`disable(fn)`: `fn`, which runs as it is outside a compiled region) and imports the real
`torch._dynamo` on any other use (an attribute, a submodule, `torch.compile`), then hands
every call to it.  A scan of `sys.modules` asking each module for `__file__` and the like
is not a use.  A function wrapped before that keeps its plain self: a later
`torch.compile` tracing through it (an optimizer step inside a compiled function, which no
probe and no course code does) would trace it instead of skipping it.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from typing import Any, Callable

import torch

NAME = "torch._dynamo"
_LOADING = threading.RLock()


class DynamoStandIn(types.ModuleType):
    """`torch._dynamo` until first real use (see the module's docstring)."""

    def graph_break(self, msg: str = "") -> None:
        real = _real_if_loaded()
        if real is not None:
            real.graph_break(msg)

    def disable(self, fn: Callable | None = None, recursive: bool = True, **kwargs: Any) -> Any:
        real = _real_if_loaded()
        if real is not None:
            return real.disable(fn, recursive, **kwargs)
        return fn if fn is not None else (lambda f: f)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__") and name != "__path__":
            # what scans of `sys.modules` ask every module (`__file__`, ...): not a use;
            # `__path__` is (a submodule's import)
            raise AttributeError(name)
        return getattr(_load_real(), name)


def _real_if_loaded() -> types.ModuleType | None:
    module = sys.modules.get(NAME)
    return None if module is None or isinstance(module, DynamoStandIn) else module


def _load_real() -> types.ModuleType:
    """Import the real `torch._dynamo` in the stand-in's place (once) and return it."""
    with _LOADING:
        real = _real_if_loaded()
        if real is None:
            stand_in = sys.modules.pop(NAME, None)
            torch.__dict__.pop("_dynamo", None)
            try:
                real = importlib.import_module(NAME)
            except BaseException:  # e.g. a worker that cannot read it: eager training still works
                if isinstance(stand_in, DynamoStandIn):
                    sys.modules[NAME] = torch._dynamo = stand_in
                raise
        return real


def defer_dynamo_import() -> None:
    """Install the stand-in, unless `torch._dynamo` is imported already (then nothing)."""
    with _LOADING:
        if NAME not in sys.modules:
            stand_in = DynamoStandIn(NAME, __doc__)
            sys.modules[NAME] = stand_in
            torch._dynamo = stand_in
