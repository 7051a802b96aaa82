"""Run an assignment's hidden tests against one student's code, in this (trusted) process."""

from __future__ import annotations

import contextlib
import gc
import io
import os
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import pytest

from autograder.course import assignment as course_assignment
from autograder.errors import SubmissionFailure
from autograder.judge.plugin import GradingSession, NnzooPlugin
from autograder.judge.reference import CachedReference
from autograder.judge.result import AssignmentResult, TestResult
from autograder.judge.scan import scan_source
from autograder.judge.subject import LocalSubject, SandboxSubject
from autograder.worker.heap import keep_freed_memory
from autograder.worker.limits import SandboxLimits
from autograder.worker.probes import one_thread

AUTOLOAD = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"
#: `NNZOO_REFERENCE_CACHE=off` probes the reference anew for every student (to measure the
#: cache, or to rule it out); anything else keeps repeated reference results for the batch.
CACHE_SWITCH = "NNZOO_REFERENCE_CACHE"


class UnrunnableSubject:
    """A submission that cannot run at all (missing file, syntax error): every probe fails."""

    def __init__(self, reason: str, message: str, label: str = "") -> None:
        self.unrunnable = SubmissionFailure(reason, message)
        self.label = label

    def run(self, probe: str, **kwargs: Any) -> Any:
        raise self.unrunnable

    def close(self) -> None:
        pass


_REFERENCES: dict[tuple[Path, str], CachedReference] = {}


def reference_for(assignment: str, fingerprint: str | None = None) -> CachedReference:
    """The reference solution with its probe cache, imported into this judge process (never
    into a worker) once per grader fingerprint: a long-lived judge whose reference, hidden
    tests or grader changed imports the reference anew and starts an empty cache."""
    from autograder.batch.fingerprint import fingerprint as fingerprint_of

    a = course_assignment(assignment)
    print_ = fingerprint or fingerprint_of(assignment)
    held = _REFERENCES.get((a.root, assignment))
    if held is None or held.fingerprint != print_:
        subject = LocalSubject.from_file(a.reference, f"nnzoo_reference_{assignment}")
        held = _REFERENCES[(a.root, assignment)] = CachedReference(subject, print_)
    if os.environ.get(CACHE_SWITCH, "").lower() in ("off", "0", "no"):
        return CachedReference(held.subject, print_, max_entries=0)
    return held


def pytest_args(tests: Path, *selection: str) -> list[str]:
    """The arguments of one quiet pytest run of `tests` (optionally only the named tests).

    `--assert=plain`: a bare `assert` in a hidden test fails with its own message only;
    pytest's rewriting would put the expression's source and the expected values into
    the student's verdict.

    `no:unraisableexception`, `no:threadexception`: at the end of every session they run a
    full `gc.collect()` over the judge's heap (torch, pytest: ~400,000 objects), 0.2 s of
    CPU each — four fifths of the judge's own CPU per student — to turn stray exceptions
    into warnings that `-W ignore` drops anyway.  `no:logging`: no hidden test reads
    captured logs, and capturing them re-attached handlers hundreds of times per test.
    `--tb=no`: the verdict is made from the exception itself (`judge.verdict`); pytest's own
    failure report, never shown, parsed the source of every frame of every failure — three
    quarters of the judge's time on a submission that fails most tests (`UnshownFailures`
    skips what is left of it).
    """
    targets = [f"{tests}::{name}" for name in selection] or [str(tests)]
    return [*targets, "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:unraisableexception",
            "-p", "no:threadexception", "-p", "no:logging", "--no-header", "-rN", "--tb=no", "--import-mode=importlib", "--assert=plain",
            "--rootdir", str(tests.parent), "-W", "ignore"]


class UnshownFailures:
    """A failed test's pytest report, made without formatting its traceback.

    The judge never shows pytest's failure report (the verdict is made from the exception
    itself, `judge.verdict`), and `--tb=no` does not stop pytest from building it: the
    traceback of every failure was filtered frame by frame, ~10 ms of the judge's CPU per
    failing test — four fifths of the judge's time for a submission that fails every test.
    Skips and xfails keep pytest's own report (their reasons are read from it)."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport | None:
        if call.excinfo is None or call.excinfo.errisinstance((pytest.skip.Exception, pytest.xfail.Exception)):
            return None
        return pytest.TestReport(item.nodeid, item.location, dict.fromkeys(item.keywords, 1), "failed",
                                 f"{call.excinfo.typename} (the verdict says why)", call.when, [],
                                 duration=call.duration, start=call.start, stop=call.stop)


def run_tests(tests: Path, session: GradingSession, *selection: str, extra: Sequence[str] = (),
              autoload: bool = True, on_result: Callable[[TestResult], None] | None = None) -> list[TestResult]:
    """Run `tests` (a hidden or public test file) against `session`; every test's result.

    `extra`: more pytest arguments; `autoload=False` skips pytest's scan of installed
    plugins (nnzoo's own is named instead) — half a second saved per run; `on_result`:
    called with each result as it comes.
    """
    plugin = NnzooPlugin(session, on_result)
    # every assignment's hidden tests are a `test_hidden.py`: never reuse another's module
    stem = tests.stem
    for name in [m for m in sys.modules if m == stem or m.endswith("." + stem)]:
        del sys.modules[name]
    args = [*pytest_args(tests, *selection), *extra]
    previous = os.environ.get(AUTOLOAD)
    if not autoload:
        os.environ[AUTOLOAD] = "1"
        args += ["-p", "autograder.judge.plugin"]
    try:  # on one thread: the judge's own computations are small, and extra threads only contend
        with one_thread(), contextlib.redirect_stdout(io.StringIO()):
            code = pytest.main(args, plugins=[plugin, UnshownFailures()])
    finally:
        if previous is None:
            os.environ.pop(AUTOLOAD, None)
        else:
            os.environ[AUTOLOAD] = previous
    if plugin.interrupted:  # Ctrl-C, which pytest caught: it stops the batch, not this student
        raise KeyboardInterrupt
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise RuntimeError(f"the tests in {tests} could not run (pytest exit code {code})")
    return plugin.results


def subject_for(text: str | None, assignment: str, limits: SandboxLimits, problem: str = "", syntax: str = "") -> Any:
    """The sandboxed subject of a student's code, or an unrunnable one saying why
    (`problem`: the submission is unusable; `syntax`: the scan's syntax error)."""
    filename = f"{assignment}.py"
    if problem:
        return UnrunnableSubject("missing", problem, filename)
    if text is None:
        return UnrunnableSubject("missing", f"no {filename} (or {assignment}.ipynb) found in the submission", filename)
    if syntax:
        return UnrunnableSubject("syntax", f"{filename} has a syntax error ({syntax}); fix it so Python can import the file",
                                 filename)
    subject = SandboxSubject(text, assignment, limits, label=filename)
    subject.worker.launch()  # it starts while the judge imports the reference and the tests
    return subject


_HEAP_FROZEN = False


def freeze_judge_heap() -> None:
    """Move what the judge holds once it is set up (torch, pytest, the reference: ~300,000
    objects) out of the garbage collector's way, once per process.  Without it every full
    collection walks all of it: 0.15 s, about once every five sandboxed gradings of
    attention, whose decoded replies allocate many containers."""
    global _HEAP_FROZEN
    if not _HEAP_FROZEN:
        gc.collect()
        gc.freeze()
        _HEAP_FROZEN = True


def grade_file(path: Path, assignment: str, limits: SandboxLimits) -> AssignmentResult:
    """Grade the student's file at `path` on `assignment` (see `grade_source`)."""
    return grade_source(path.read_text(errors="replace"), assignment, limits)


def grade_source(text: str | None, assignment: str, limits: SandboxLimits, problem: str = "",
                 on_result: Callable[[TestResult], None] | None = None,
                 fingerprint: str | None = None) -> AssignmentResult:
    """Grade a student's code for `assignment` (None: no file; `problem`: why it is unusable;
    `on_result`: called with each test's result as it comes; `fingerprint`: the grader's,
    when the caller has it, else computed here)."""
    scan = scan_source(text or "")
    subject = subject_for(text, assignment, limits, problem, scan.syntax_error)
    session = GradingSession(subject=subject, reference=reference_for(assignment, fingerprint), source=text or "")
    freeze_judge_heap()
    keep_freed_memory()  # the reference's trainings, as in the workers
    try:
        results = run_tests(course_assignment(assignment).hidden_tests, session, on_result=on_result)
    finally:
        subject.close()
    levels = getattr(getattr(subject, "worker", None), "levels", {})
    return AssignmentResult(tests=results, sandbox=dict(levels), scan=scan.suspicious())
