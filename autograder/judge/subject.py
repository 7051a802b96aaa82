"""The thing a check probes: a student's (or the reference's) implementation.

Checks are written once against `Subject.run(probe, **kwargs)`:
- `LocalSubject` runs the probe in this process (the public tests, so a student sees
  real tracebacks; and the reference, inside the judge);
- `SandboxSubject` sends it to a sandboxed worker (hidden grading).
With `allow_error=True`, an exception raised by the implementation comes back as a
`Raised` record instead, for checks that expect one (e.g. a `ValueError` on bad input).
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence

from autograder.errors import StudentCodeError
from autograder.worker.limits import SandboxLimits
from autograder.worker.probes import run_probe
from autograder.worker.spec import ProbeRequest


@dataclass(frozen=True)
class Raised:
    """An exception the implementation raised: its type names (the MRO) and message."""

    types: tuple[str, ...]
    message: str

    def is_a(self, name: str) -> bool:
        return name in self.types


class LocalSubject:
    """An implementation imported into this process (a module or any namespace)."""

    def __init__(self, module: Any, label: str = "reference") -> None:
        self.module = module
        self.label = label
        self.forbid: tuple[str, ...] = ()  # set by the plugin for the test in progress

    @classmethod
    def from_file(cls, path: Path, name: str | None = None) -> "LocalSubject":
        """Import `path` as a module named `name` (default: the file's stem)."""
        name = name or path.stem
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return cls(module, label=str(path))

    def restart(self) -> None:
        """Import the module anew from its file (one without a file is kept), so that the next
        probe sees none of the state the module kept — as a fresh worker would, except that
        in this process the global random state, and anything kept outside the module, stay."""
        path = getattr(self.module, "__file__", None)
        if isinstance(path, str) and Path(path).is_file():
            self.module = LocalSubject.from_file(Path(path), self.module.__name__).module

    def run(self, probe: str, *, seed: int = 0, patch: dict | None = None, allow_error: bool = False, **kwargs: Any) -> Any:
        try:
            return run_probe(self.module, ProbeRequest(probe, kwargs, seed, patch or {}, self.forbid))
        except Exception as exc:
            if not allow_error:
                raise
            return Raised(tuple(c.__name__ for c in type(exc).__mro__), str(exc))


class SandboxSubject:
    """A student's code, run only inside a sandboxed worker."""

    def __init__(self, source: str, module_name: str, limits: SandboxLimits, label: str = "") -> None:
        from autograder.sandbox.client import (
            SandboxedWorker,  # POSIX-only: imported where a sandbox runs
        )

        self.worker = SandboxedWorker(source, module_name, limits)
        self.label = label or f"{module_name}.py"
        self.forbid: tuple[str, ...] = ()  # set by the plugin for the test in progress

    def run(self, probe: str, *, seed: int = 0, patch: dict | None = None, allow_error: bool = False, **kwargs: Any) -> Any:
        return self.submit(probe, seed=seed, patch=patch, allow_error=allow_error, **kwargs)()

    def submit(self, probe: str, *, seed: int = 0, patch: dict | None = None, allow_error: bool = False,
               **kwargs: Any) -> Callable[[], Any]:
        """`run(probe, ...)` sent now; the function returned waits for its result (and
        returns that same result when called again), so the judge can work while the
        worker computes (see `SandboxedWorker.submit`)."""
        # a failure to start (the module's import) raises here, whatever `allow_error` says
        answer = self.worker.submit(ProbeRequest(probe, kwargs, seed, patch or {}, self.forbid))
        got: list[Any] = []

        def result() -> Any:  # waited for once, then the same value each call
            if not got:
                try:
                    got.append(answer())
                except StudentCodeError as exc:
                    if not allow_error or exc.during:
                        raise
                    got.append(Raised(tuple(exc.types), exc.message))
            return got[0]

        return result

    def run_each(self, probe: str, requests: Sequence[dict], *, patch: dict | None = None) -> Iterator[Any]:
        """`run(probe, patch=patch, **request)` for each of `requests`, in order, as a
        pipeline: the worker gets each request before the judge has checked the answer to
        the one before (see `SandboxedWorker.request_each`)."""
        return self.worker.request_each([ProbeRequest(probe, {k: v for k, v in r.items() if k != "seed"},
                                                      r.get("seed", 0), patch or {}, self.forbid) for r in requests])

    @property
    def unrunnable(self) -> Exception | None:
        """Why no probe can run any more, or None (see `SandboxedWorker.unrunnable`)."""
        return self.worker.unrunnable

    def close(self) -> None:
        self.worker.close()

    def restart(self) -> None:
        """The next probe runs in a fresh worker, started from the student's file."""
        self.worker.close()


def run_each(subject: Any, probe: str, requests: Sequence[dict], *, patch: dict | None = None) -> Iterator[Any]:
    """Each of `requests` run on `subject` in order (`subject.run(probe, patch=patch,
    **request)`); pipelined where the subject can (a sandboxed worker), one by one elsewhere.
    Requests that raise end the iteration there, as one by one."""
    # a `SandboxSubject`'s, found by name: naming the class would put the sandbox's code
    # into what the student bundle's public tests need
    pipelined = getattr(subject, "run_each", None)
    if pipelined is not None:
        return pipelined(probe, requests, patch=patch)
    return (subject.run(probe, patch=patch, **request) for request in requests)


def restart(subject: Any) -> None:
    """Make `subject`'s next probe start afresh, so that nothing its code kept between calls
    (a cache, a table filled from the global random state) reaches it: a sandboxed worker
    is replaced by a fresh one; a module in this process (the public tests) is imported anew.
    Read every submitted answer first."""
    fresh = getattr(subject, "restart", None)  # found by name (see `run_each`)
    if fresh is not None:
        fresh()


def submit(subject: Any, probe: str, **request: Any) -> Callable[[], Any]:
    """`subject.run(probe, **request)` started now; call what this returns for its result.
    A sandboxed worker computes while the judge goes on (e.g. with the expected values);
    elsewhere the probe runs at once.  Read the result before sending `subject` anything
    else (see `SandboxedWorker.submit`)."""
    started = getattr(subject, "submit", None)  # a `SandboxSubject`'s, found by name (see `run_each`)
    if started is not None:
        return started(probe, **request)
    result = subject.run(probe, **request)
    return lambda: result


class Subject(Protocol):
    """What a check probes: `run(probe, **request)` returns the probe's plain result (or a
    `Raised` with `allow_error=True`); `label` names it in messages."""

    label: str
    forbid: tuple[str, ...]  # the built-ins watched at run time during the test in progress

    def run(self, probe: str, *, seed: int = 0, patch: dict | None = None, allow_error: bool = False, **kwargs: Any) -> Any:
        ...
