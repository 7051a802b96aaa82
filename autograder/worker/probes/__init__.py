"""Probes: the trusted recipes a worker runs on a student's module.

The judge never touches student code; it asks a worker to run a probe — a function
registered here with `@probe` — and receives plain tensors back.  The same probes run
in-process on the reference (and, for the public tests, on the student's module), so
every comparison is "the same recipe, two implementations".

A probe is `fn(module, **kwargs) -> dict` where `module` is the student's (or the
reference's) module object and the result holds only tensors, numbers, strings, None,
and lists/tuples/dicts of those.  Every submodule of this package is imported here, so
an assignment adds probes by adding a file.
"""

from __future__ import annotations

import importlib
import pkgutil
from contextlib import contextmanager, nullcontext
from typing import Any, Callable, Iterator

from autograder.worker.dynamo import defer_dynamo_import
from autograder.worker.forbidden import guard_calls_by_handle, watching
from autograder.worker.spec import MODEL, Build, ProbeRequest, names_follow_swaps, patched_in, resolve

defer_dynamo_import()  # every process that runs probes trains: no optimizer step imports torch._dynamo
guard_calls_by_handle()  # before any student module is imported here: a name it binds at import is the guard

ProbeFn = Callable[..., dict]
PROBES: dict[str, ProbeFn] = {}


def probe(fn: ProbeFn) -> ProbeFn:
    """Register `fn` as a probe under its own name."""
    PROBES[fn.__name__] = fn
    return fn


@contextmanager
def one_thread() -> Iterator[None]:
    """Run on one torch thread, as a worker does, also in-process (the public tests, the
    reference in the judge): the models are tiny, and extra threads only contend."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def seed(value: int) -> None:
    """Seed torch's CPU generator (and CUDA's, once it is in use): `torch.manual_seed`
    without its cost — with no GPU in use it records the caller's whole stack (source
    lines and a stat of every file in it) for a deferred CUDA seed, ≈ 60 µs in a worker and
    more under pytest's deep stacks, on every probe."""
    import torch

    torch.default_generator.manual_seed(value)
    if torch.cuda.is_initialized():
        torch.cuda.manual_seed_all(value)


def run_probe(module: Any, request: ProbeRequest) -> dict:
    """Run `request` on `module` (seeded, on one thread, with autograd on whatever an earlier
    probe's student code left switched off) and return the probe's plain result."""
    import torch

    try:
        fn = PROBES[request.name]
    except KeyError:
        raise LookupError(f"unknown probe {request.name!r}") from None
    with one_thread(), torch.enable_grad(), names_follow_swaps(), \
            watching(request.forbid, getattr(module, "__file__", None) or "", module) if request.forbid else nullcontext():
        saved = {name: getattr(module, name, None) for name in request.patch}
        for name, trusted in request.patch.items():
            setattr(module, name, patched_in(saved[name], resolve(module, trusted)))
        try:
            seed(request.seed)
            return fn(module, **request.kwargs)
        finally:
            for name, value in saved.items():
                setattr(module, name, value)


for _info in pkgutil.iter_modules(__path__):
    if _info.name != "spec":
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["MODEL", "Build", "ProbeRequest", "PROBES", "probe", "run_probe"]
