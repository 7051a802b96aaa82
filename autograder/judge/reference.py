"""The reference, probed once per batch: its probe results cached in the judge.

Most reference probes do not depend on the student: the same recipe, the same inputs and
the same seed give the same result for every student of a batch (the reference trains on
the same data, builds the same seeded weights).  `CachedReference` wraps the reference's
`LocalSubject` and keeps each result under a key made of the whole request (probe name,
every argument with tensors hashed by dtype, shape and bytes, seed, patch, forbid):

- a request equal to an earlier one returns a *copy* of the earlier result (a check that
  changes what it got cannot change the cache) and leaves torch's global RNG where the
  real run left it, so a hidden test that draws from it after probing sees the same numbers;
- a request that holds something the key cannot describe (an arbitrary object) is not
  cached, only run;
- a request that depends on the student (e.g. evaluating the student's trained weights)
  gets a key of its own that no other student hits: it costs one hash and ages out of the
  bounded cache (least recently used first).

One `CachedReference` per assignment and grader fingerprint (`judge.run.reference_for`):
a long-lived judge (a Dask worker) whose reference or hidden tests changed gets a new one.
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

import torch

from autograder.judge.subject import LocalSubject, Raised
from autograder.worker.spec import Build, ProbeRequest, raw_bytes

#: How many results (and tensor bytes) one assignment's cache keeps at most.
MAX_ENTRIES = 1024
MAX_BYTES = 512 * 2**20


#: Immutable plain values: hashed by their repr, shared by a copy.
_ATOMS = (bool, int, float, str, bytes, torch.dtype)


def copy_result(value: Any) -> Any:
    """A copy of a probe's result that shares nothing a check could change: tensors cloned
    (as leaves, keeping `requires_grad`), lists, tuples and dicts rebuilt, immutable values
    kept; anything else deep-copied.  `copy.deepcopy` took 45 ms of every student's five
    assignments, most of it in `Tensor.__deepcopy__`."""
    if type(value) is torch.Tensor:
        clone = value.detach().clone()
        return clone.requires_grad_() if value.requires_grad else clone
    if value is None or isinstance(value, _ATOMS):
        return value
    if type(value) is dict:
        return {k: copy_result(v) for k, v in value.items()}
    if type(value) is list:
        return [copy_result(v) for v in value]
    if type(value) is tuple:
        return tuple(copy_result(v) for v in value)
    return copy.deepcopy(value)


class Uncacheable(TypeError):
    """A request holding a value the cache key cannot describe."""


def _feed(h: Any, value: Any) -> None:
    """Hash `value` canonically into `h` (type-tagged, so `1`, `1.0` and `"1"` differ)."""
    if isinstance(value, torch.Tensor):
        if type(value) is not torch.Tensor or value.is_sparse or value.device.type != "cpu":
            raise Uncacheable(type(value).__name__)
        h.update(f"T{value.dtype}{tuple(value.shape)}{value.requires_grad}:".encode())
        h.update(raw_bytes(value))
    elif value is None or isinstance(value, _ATOMS):
        h.update(f"{type(value).__name__}:{value!r};".encode())
    elif isinstance(value, (list, tuple)):
        h.update(f"{type(value).__name__}[{len(value)}".encode())
        for v in value:
            _feed(h, v)
        h.update(b"]")
    elif isinstance(value, dict):
        h.update(f"dict{{{len(value)}".encode())
        for k in sorted(value, key=repr):
            _feed(h, k)
            _feed(h, value[k])
        h.update(b"}")
    elif isinstance(value, Build) or (is_dataclass(value) and value.__class__.__module__.startswith("autograder.")):
        h.update(f"{type(value).__qualname__}(".encode())
        for f in fields(value):
            _feed(h, f.name)
            _feed(h, getattr(value, f.name))
        h.update(b")")
    else:
        raise Uncacheable(type(value).__name__)


def request_key(request: ProbeRequest) -> str | None:
    """A digest of everything the request's result depends on, or None when it holds a
    value that has no canonical form here (it is then run, never cached)."""
    h = hashlib.sha256()
    try:
        _feed(h, (request.name, request.kwargs, request.seed, request.patch, tuple(request.forbid)))
    except Uncacheable:
        return None
    return h.hexdigest()


def _nbytes(value: Any) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v) for v in value)
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    return 0


@dataclass
class CacheStats:
    """What the cache did: `hits`, `misses`, `uncacheable` requests, and `saved_seconds`
    (the compute time of the original runs, summed over the hits)."""

    hits: int = 0
    misses: int = 0
    uncacheable: int = 0
    saved_seconds: float = 0.0


@dataclass
class _Entry:
    result: Any
    rng_after: torch.Tensor
    seconds: float
    nbytes: int


class CachedReference:
    """The reference subject, with the results of repeated requests kept (see the module).

    Args:
        subject: the reference's `LocalSubject`.
        fingerprint: the grader fingerprint it belongs to (for whoever holds it).
        max_entries, max_bytes: the bound of the cache (least recently used leaves first).
    """

    def __init__(self, subject: LocalSubject, fingerprint: str = "", max_entries: int = MAX_ENTRIES,
                 max_bytes: int = MAX_BYTES) -> None:
        self.subject = subject
        self.fingerprint = fingerprint
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.stats = CacheStats()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0

    @property
    def label(self) -> str:
        return self.subject.label

    @property
    def forbid(self) -> tuple[str, ...]:
        return self.subject.forbid

    @forbid.setter
    def forbid(self, names: tuple[str, ...]) -> None:
        self.subject.forbid = names

    @property
    def module(self) -> Any:
        return self.subject.module

    def run(self, probe: str, *, seed: int = 0, patch: dict | None = None, allow_error: bool = False, **kwargs: Any) -> Any:
        """As `LocalSubject.run`; a repeated request answers from the cache (a copy)."""
        key = request_key(ProbeRequest(probe, kwargs, seed, patch or {}, self.subject.forbid))
        if key is None:
            self.stats.uncacheable += 1
            return self.subject.run(probe, seed=seed, patch=patch, allow_error=allow_error, **kwargs)
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            self.stats.hits += 1
            self.stats.saved_seconds += entry.seconds
            torch.set_rng_state(entry.rng_after)
            return copy_result(entry.result)
        self.stats.misses += 1
        start = time.perf_counter()
        # an exception (not asked for) propagates uncached, exactly as without the cache
        result = self.subject.run(probe, seed=seed, patch=patch, allow_error=allow_error, **kwargs)
        seconds = time.perf_counter() - start
        if not isinstance(result, Raised):  # an error the check asked for: rare, rerun each time
            self._keep(key, _Entry(copy_result(result), torch.get_rng_state(), seconds, _nbytes(result)))
        return result

    def _keep(self, key: str, entry: _Entry) -> None:
        if entry.nbytes > self.max_bytes:
            return
        self._entries[key] = entry
        self._bytes += entry.nbytes
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, old = self._entries.popitem(last=False)
            self._bytes -= old.nbytes

    def close(self) -> None:
        pass
