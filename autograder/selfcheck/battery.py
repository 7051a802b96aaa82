"""The battery: the hidden tests' own probe calls, recorded once on the reference and
replayed on a mutant with fresh inputs, in this (judge) process.

Recording.  The hidden tests run in-process against a private copy of the reference as
the submission (a `RecordingSubject`): every probe call the tests send to the submission
is kept — its request, the test that sent it, and the reference lines it executed
(`sys.settrace`, limited to that copy's file).

Replay.  A mutant and the reference copy both run each recorded call that reaches the
mutated lines, with the test's own inputs and with two refills of every floating-point
tensor in the request (each value scaled by U(0.5, 1.5); each value plus Gaussian noise
of half the tensor's spread) — weights, data and states alike; integer tensors (indices,
labels, graphs) are kept.  A refill on which the reference itself raises is no evidence
and is skipped.  Results are compared as the grader compares them: tensors by shape,
dtype and the dtype's tolerance (`checks.base.tolerances`), Python floats to 1e-6,
anything else by equality, errors by type.

Starting weights are the grader's (docs/spec.md §2: initialisation is graded only where a test
says so — mlp's `Linear` — and wherever a result depends on the starting weights the
grader sets them): a recorded call that built a model without weights is replayed with
the reference's seeded ones in both, and the `state_dict` probe is compared by names,
shapes and dtypes, not by its freshly drawn values.

Mutants are code generated from the trusted reference, so importing them here is as safe
as importing the reference; a replay that runs past its time is abandoned.
"""

from __future__ import annotations

import copy
import inspect
import math
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from autograder.checks.base import tolerances
from autograder.course import Assignment
from autograder.judge.plugin import GradingSession
from autograder.judge.result import TestResult
from autograder.judge.run import reference_for, run_tests
from autograder.judge.subject import LocalSubject, Raised
from autograder.worker.probes import PROBES, Build

FILLS = ("the tests' inputs", "inputs scaled by U(0.5, 1.5)", "inputs plus noise")


@dataclass(frozen=True)
class Probe:
    """One probe call a hidden test sent to the submission, and the lines it ran."""

    test: str
    name: str
    kwargs: dict
    seed: int
    patch: dict
    lines: frozenset[int]
    seconds: float = 0.0


@dataclass
class Recording:
    """The hidden tests run on the reference copy: their calls and their verdicts."""

    probes: list[Probe]
    results: list[TestResult]
    module: ModuleType
    #: per (probe index, fill): the reference's result and the replayed request — the
    #: same for every mutant replayed
    expected: dict[tuple, Any] = field(default_factory=dict)

    @property
    def properties(self) -> dict[str, str]:
        return {r.function: r.property for r in self.results}

    def reaching(self, lines: tuple[int, ...]) -> list[Probe]:
        wanted = set(lines)
        return [p for p in self.probes if p.lines & wanted]

    def replay_kwargs(self, index: int, fill: int) -> dict:
        """Probe `index`'s request refilled with `fill`, with the grader's weights (computed once)."""
        key = ("kwargs", index, fill)
        if key not in self.expected:
            probe = self.probes[index]
            kwargs = refilled(probe.kwargs, fill, torch.Generator().manual_seed(1000 + fill))
            self.expected[key] = with_grader_weights(self.module, probe, kwargs)
        return self.expected[key]

    def expected_result(self, index: int, fill: int) -> Any:
        """The reference copy's result of probe `index` with `fill` (computed once)."""
        if (index, fill) not in self.expected:
            self.expected[index, fill] = _run(LocalSubject(self.module), self.probes[index], self.replay_kwargs(index, fill))
        return self.expected[index, fill]


def _calling_test(tests_file: str) -> str:
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == tests_file and frame.f_code.co_name.startswith("test"):
            return frame.f_code.co_name
        frame = frame.f_back
    return "?"


class RecordingSubject(LocalSubject):
    """A `LocalSubject` that records each probe call and the lines of its file it runs."""

    def __init__(self, module: ModuleType, tests_file: Path) -> None:
        super().__init__(module, label=Path(module.__file__).name)
        self.file = module.__file__
        self.tests_file = str(tests_file)
        self.probes: list[Probe] = []

    def run(self, probe: str, *, seed: int = 0, patch: dict | None = None, allow_error: bool = False, **kwargs: Any) -> Any:
        saved = _copied(kwargs)
        lines: set[int] = set()
        file = self.file

        def local(frame: Any, event: str, arg: Any) -> Any:
            if event == "line":
                lines.add(frame.f_lineno)
            return local

        def tracer(frame: Any, event: str, arg: Any) -> Any:
            return local if frame.f_code.co_filename == file else None

        previous = sys.gettrace()
        started = time.perf_counter()
        sys.settrace(tracer)
        try:
            return super().run(probe, seed=seed, patch=patch, allow_error=allow_error, **kwargs)
        finally:
            sys.settrace(previous)
            self.probes.append(Probe(_calling_test(self.tests_file), probe, saved, seed, dict(patch or {}), frozenset(lines),
                                     time.perf_counter() - started))


def load_module(text: str, folder: Path, filename: str, name: str) -> ModuleType:
    """Import `text` as a module `name` from `folder/filename`."""
    path = folder / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return LocalSubject.from_file(path, name).module


def record(assignment: Assignment, folder: Path) -> Recording:
    """Run the hidden tests on a copy of the reference, recording every probe call."""
    text = assignment.reference.read_text()
    module = load_module(text, folder / "recorded", f"{assignment.name}.py", f"nnzoo_selfcheck_recorded_{assignment.name}")
    subject = RecordingSubject(module, assignment.hidden_tests)
    session = GradingSession(subject=subject, reference=reference_for(assignment.name), source=text)
    results = run_tests(assignment.hidden_tests, session)
    return Recording(subject.probes, results, module)


def _copied(value: Any) -> Any:
    try:
        return copy.deepcopy(value)
    except Exception:  # noqa: BLE001 — an object that cannot be copied is passed as it is
        return value


def refilled(value: Any, fill: int, generator: torch.Generator) -> Any:
    """`value` with every floating tensor refilled (`fill` 0: unchanged; 1: scaled; 2: noised)."""
    if isinstance(value, torch.Tensor):
        if fill == 0 or not value.is_floating_point() or value.numel() == 0:
            return value.clone()
        if fill == 1:
            return value * (0.5 + torch.rand(value.shape, generator=generator, dtype=value.dtype))
        spread = float(value.std()) if value.numel() > 1 else 1.0
        noise = torch.randn(value.shape, generator=generator, dtype=value.dtype)
        return value + 0.5 * (spread if math.isfinite(spread) and spread > 0 else 1.0) * noise
    if isinstance(value, dict):
        return {k: refilled(v, fill, generator) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [refilled(v, fill, generator) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    return _copied(value)


def same(a: Any, b: Any) -> bool:
    """Whether two probe results agree as the grader compares them."""
    if isinstance(a, Raised) or isinstance(b, Raised):
        return isinstance(a, Raised) and isinstance(b, Raised) and a.types[:1] == b.types[:1]
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) or a.shape != b.shape or a.dtype != b.dtype:
            return False
        if not a.is_floating_point():
            return torch.equal(a, b)
        rtol, atol = tolerances(a.dtype)
        return bool(torch.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))
    if isinstance(a, float) and isinstance(b, (float, int)) and not isinstance(b, bool):
        return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-6 * max(1.0, abs(a))
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


class ReplayTimeout(BaseException):
    """A replay ran past its time (a BaseException: the probe runner catches Exceptions)."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise `ReplayTimeout` after `seconds` (main thread only; elsewhere no limit)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise ReplayTimeout()

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Replay:
    """What replaying a mutant showed.

    Attributes:
        reached: some recorded call runs the mutated lines.
        differs: test → the first fill on which the mutant's result differed.
        compared: results compared (fills where the reference ran).
        timed_out: the replay was abandoned.
    """

    reached: bool = False
    differs: dict[str, str] = field(default_factory=dict)
    compared: int = 0
    timed_out: bool = False


def replay(mutant: ModuleType, recording: Recording, lines: tuple[int, ...], seconds: float = 300.0) -> Replay:
    """Replay the recorded calls reaching `lines` on `mutant` and the reference copy
    (quickest calls first, so a difference shows early)."""
    wanted = set(lines)
    order = sorted((i for i, p in enumerate(recording.probes) if p.lines & wanted), key=lambda i: recording.probes[i].seconds)
    outcome = Replay(reached=bool(order))
    candidate = LocalSubject(mutant)
    try:
        with time_limit(seconds):
            for index in order:
                probe = recording.probes[index]
                if probe.test in outcome.differs:
                    continue
                for fill, what in enumerate(FILLS):
                    expected = recording.expected_result(index, fill)
                    if expected is None or isinstance(expected, Raised) and fill > 0:
                        continue
                    outcome.compared += 1
                    actual = _run(candidate, probe, recording.replay_kwargs(index, fill))
                    if not same(graded_view(probe.name, expected), graded_view(probe.name, actual)):
                        outcome.differs[probe.test] = what
                        break
    except ReplayTimeout:
        outcome.timed_out = True
    return outcome


def with_grader_weights(reference: ModuleType, probe: Probe, kwargs: dict) -> dict:
    """`kwargs` with the reference's seeded weights wherever the call built a model without
    any: docs/spec.md §2 grades initialisation only where a test says so (mlp's `Linear`, whose
    test sees fresh weights through the `state_dict` probe), and wherever a result depends
    on the starting weights the grader sets them itself."""
    fn = PROBES.get(probe.name)
    if fn is None or not isinstance(kwargs.get("model"), Build) or kwargs.get("state_dict") is not None:
        return kwargs
    if "state_dict" not in inspect.signature(fn).parameters:
        return kwargs
    weights = _run(LocalSubject(reference), Probe(probe.test, "state_dict", {}, probe.seed, probe.patch, frozenset()),
                   {"model": kwargs["model"], "dtype": kwargs.get("dtype")})
    if not isinstance(weights, dict) or "state_dict" not in weights:
        return kwargs
    return {**kwargs, "state_dict": weights["state_dict"]}


def graded_view(probe: str, result: Any) -> Any:
    """What of a probe's result the replay compares: everything, except the values of
    freshly initialised weights (the `state_dict` probe: names, shapes and dtypes)."""
    if probe == "state_dict" and isinstance(result, dict) and isinstance(result.get("state_dict"), dict):
        layout = {k: (tuple(v.shape), v.dtype) if isinstance(v, torch.Tensor) else v for k, v in result["state_dict"].items()}
        return {**result, "state_dict": layout}
    return result


def _run(subject: LocalSubject, probe: Probe, kwargs: dict) -> Any:
    """The probe's result (an error as `Raised`); None when the call cannot be made at all."""
    try:
        return subject.run(probe.name, seed=probe.seed, patch=probe.patch, allow_error=True, **_copied(kwargs))
    except ReplayTimeout:
        raise
    except Exception:  # noqa: BLE001 — e.g. a patch target the mutant lacks: no evidence either way
        return None
