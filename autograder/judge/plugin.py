"""nnzoo's pytest plugin: one class holding its session, like pytest's own plugins.

- markers: `points(n)`, `property(name)`, `forbid(*qualified_names)`, `visibility(v)`;
- fixtures: `submission` (the student's implementation) and `reference`;
- a hook that turns every test's outcome into a `TestResult` (with the figures the checks
  attached while a failing test ran: `autograder.checks.figures`), and a points table at the end.

`pytest assignments/mlp` (public tests) gets a default `NnzooPlugin()` through the `pytest11`
entry point: the module beside the test file is imported in-process, and each public test
runs on one torch thread, under a time limit, with its failure shown at the student's own
line (`autograder.judge.public`).  Hidden grading
(`judge.run`) and the notebook runtime pass their own `NnzooPlugin(session)`: a subject (a
sandboxed worker, or the notebook's namespace), the reference, and the source to scan.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import pytest

from autograder.checks import figures as attached
from autograder.checks import verdicts
from autograder.errors import SubmissionFailure
from autograder.judge import public
from autograder.judge.result import PASSED, VISIBILITIES, TestResult
from autograder.judge.scan import scan_source
from autograder.judge.subject import LocalSubject, Subject
from autograder.judge.verdict import bounded_feedback, verdict_for
from autograder.load.notebook import in_notebook_terms
from autograder.worker.forbidden import short_name
from autograder.worker.probes import one_thread

MARKERS = (
    "points(n): points the test is worth",
    "property(name): the lecture property the test grades",
    "forbid(*names): built-ins the student's code may not use in this test",
    "visibility(v): when the student sees this test: visible (default), hidden, after_due_date",
    "trains: the test trains a model (left out by `nnzoo test --quick`)",
)


@dataclass
class GradingSession:
    """What the tests of one student and assignment run against."""

    subject: Subject
    reference: Subject
    source: str
    imported: bool = True  # the source is imported as a module (a notebook kernel runs it as `__main__`)


def assignment_of(path: Path) -> str:
    """`test_mlp.py` → "mlp"; `solutions/mlp/test_hidden.py` → "mlp"."""
    stem = path.stem.removeprefix("test_")
    return path.parent.name if stem == "hidden" else stem


@lru_cache(maxsize=None)
def grader_api(test_file: Path) -> frozenset[str]:
    """The names the grader calls in the module `test_file` tests: the top-level functions
    and classes of the reference beside hidden tests; none beside public ones (a student's
    machine has no reference)."""
    reference = test_file.parent / f"{assignment_of(test_file)}.py"
    if test_file.stem != "test_hidden" or not reference.is_file():
        return frozenset()
    tree = ast.parse(reference.read_text())
    return frozenset(s.name for s in tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))


def _marker_arg(item: pytest.Item, name: str, default: Any) -> Any:
    marker = item.get_closest_marker(name)
    return marker.args[0] if marker is not None and marker.args else default


def _import_failure(exc: BaseException, path: Path) -> BaseException:
    """What importing the student's `path` raised, as every test reports it: a syntax error in
    the file itself as the batch says it (`judge.run.subject_for`); anything else (an
    `eval("(")` of the student's included) as their own exception."""
    if isinstance(exc, SyntaxError) and exc.filename == str(path):
        return SubmissionFailure("syntax", f"{path.name} has a syntax error (line {exc.lineno}: {exc.msg}); fix it so "
                                           "Python can import the file")
    top_level = "code at the top level of a file runs on import: keep it under `if __name__ == \"__main__\":`"
    if isinstance(exc, SystemExit):
        return SubmissionFailure("exit", f"importing {path.name} called sys.exit({exc.code!r}) — {top_level}")
    if isinstance(exc, (OSError, EOFError)) and ("reading from stdin" in str(exc) or isinstance(exc, EOFError)):
        return SubmissionFailure("exception", f"importing {path.name} asked for keyboard input (input()), which tests "
                                              f"never give — {top_level}")
    return exc


class NnzooPlugin:
    """Points, properties and verdicts for one pytest run.

    Args:
        session: the subject, reference and source to grade; None for the public tests,
            which import `<a>.py` from beside each test file.
        on_result: called with each test's result as soon as it is known (e.g. to write
            Gradescope's results.json after every test).
    """

    def __init__(self, session: GradingSession | None = None,
                 on_result: Callable[[TestResult], None] | None = None) -> None:
        self.session = session
        self.on_result = on_result
        self.results: list[TestResult] = []
        verdicts.clear()
        self._local: dict[Path, LocalSubject] = {}
        self._import_failed: dict[Path, BaseException] = {}
        self._first: dict[str, str] = {}  # a public failure's cause -> the first test it failed
        self._cause: dict[str, str] = {}  # test name -> the cause of its failure (see `_public_reason`)
        self.interrupted = False  # Ctrl-C stopped the run (pytest's exit code says the same of a collection error)

    # -- subjects --------------------------------------------------------------------------
    def _beside(self, test_file: Path) -> LocalSubject:
        a = assignment_of(test_file)
        path = test_file.parent / f"{a}.py"
        if path in self._import_failed:  # imported once: every test then reports the same reason
            raise self._import_failed[path]
        if path not in self._local:
            if not path.is_file():
                from autograder.load.files import meant_for

                near = sorted(p.name for p in path.parent.iterdir() if meant_for(p.name, [a]) and p.suffix.lower() == ".py")
                but = f" — but {near[0]} is there: rename it to {path.name}" if near else ""
                raise SubmissionFailure("missing", f"{path.name} not found next to the tests in {path.parent}{but}")
            try:
                self._local[path] = LocalSubject.from_file(path, a)
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self._import_failed[path] = _import_failure(exc, path)
                raise self._import_failed[path] from None
        return self._local[path]

    @pytest.fixture
    def submission(self, request: pytest.FixtureRequest) -> Subject:
        """The implementation under test: sandboxed in hidden grading, in-process otherwise.

        A submission that can no longer run (it did not import, its time budget is spent)
        fails each test here, before the test computes anything of the reference's."""
        if self.session is None:
            return self._beside(request.path)
        failure = getattr(self.session.subject, "unrunnable", None)
        if failure is not None:
            raise failure
        return self.session.subject

    @pytest.fixture
    def reference(self, request: pytest.FixtureRequest) -> Subject:
        """The reference solution, always run in the judge's own process."""
        return self._beside(request.path) if self.session is None else self.session.reference

    def _source(self, item: pytest.Item) -> str:
        if self.session is not None:
            return self.session.source
        path = item.path.parent / f"{assignment_of(item.path)}.py"
        return path.read_text() if path.is_file() else ""

    def _public(self, item: pytest.Item) -> bool:
        """A public test run on the student's machine (not one of the judge's runs)."""
        return self.session is None and public.is_public(item)

    # -- hooks -----------------------------------------------------------------------------
    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo) -> None:
        # pytest raises a KeyboardInterrupt of its own to stop on a collection error: not Ctrl-C
        self.interrupted = not isinstance(excinfo.value, pytest.Session.Interrupted)

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Every public test gets a time limit: its own `@pytest.mark.timeout(s)`, or the default."""
        for item in items:
            if self._public(item) and item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(public.DEFAULT_TIMEOUT_S))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Any:
        """A public test runs on one torch thread (set up and torn down too); restored after;
        and it cannot hang `nnzoo test` for ever (`public.last_resort`)."""
        if not self._public(item):
            yield
            return
        with one_thread(), public.last_resort(float(_marker_arg(item, "timeout", public.DEFAULT_TIMEOUT_S))):
            yield

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        attached.clear()  # figures belong to the test that attached them

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        """A test marked `forbid(...)` fails when the source names one of those built-ins
        (static scan, with the line), and the student's code runs under the run-time watch
        for them while the test probes it (`autograder.worker.forbidden`)."""
        marker = item.get_closest_marker("forbid")
        names = tuple(marker.args) if marker is not None else ()
        if names:
            imported = self.session is None or self.session.imported
            hits = scan_source(self._source(item), imported, grader_api(item.path)).forbidden(list(names))
            if hits:
                listed = ", ".join(short_name(h) for h in hits)
                raise AssertionError(f"forbidden built-in: your code uses {listed}, which this task asks you to write yourself")
        subject = self._watched_subject(item)
        if subject is not None:
            subject.forbid = names
        try:
            yield
        finally:
            if subject is not None:
                subject.forbid = ()

    def _watched_subject(self, item: pytest.Item) -> Any:
        if self.session is not None:
            return self.session.subject if hasattr(self.session.subject, "forbid") else None
        path = item.path.parent / f"{assignment_of(item.path)}.py"
        return self._local.get(path)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Any:
        is_public = self._public(item) and call.excinfo is not None
        outcome = yield
        report = outcome.get_result()
        if not (report.when == "call" or (report.when == "setup" and not report.passed)):
            return
        exc = call.excinfo.value if call.excinfo is not None else None
        verdict = verdict_for(AssertionError("this test was skipped") if report.skipped else exc,
                              in_process=self.session is None)
        message, reason = verdict.message, verdict.reason
        if self.session is not None:  # graded: the student's code may have written into it
            message = in_notebook_terms(bounded_feedback(message), self.session.source)
        if is_public and not report.skipped:
            message, reason = self._public_reason(item, call, message, reason)
            self._show_once(item, call, report, message, reason)
        points = float(_marker_arg(item, "points", 0.0))
        visibility = str(_marker_arg(item, "visibility", "visible"))
        if visibility not in VISIBILITIES:
            raise pytest.UsageError(f"{item.nodeid}: visibility must be one of {VISIBILITIES}, not {visibility!r}")
        doc = (getattr(getattr(item, "obj", None), "__doc__", None) or "").strip()
        figures = attached.take() if verdict.status != PASSED else []
        attached.clear()
        self.results.append(TestResult(
            name=item.name, property=str(_marker_arg(item, "property", "")),
            score=points if verdict.status == PASSED else 0.0, max_score=points, status=verdict.status,
            message=message, reason=reason, doc=" ".join(doc.split("\n\n")[0].split()), visibility=visibility,
            figures=figures,
        ))
        verdicts.note(item.name, verdict.status == PASSED)
        if self.on_result is not None:
            self.on_result(self.results[-1])

    def _public_reason(self, item: pytest.Item, call: pytest.CallInfo, message: str, reason: str) -> tuple[str, str]:
        """A public failure's message with the student's line (a timeout names the function
        that did not return); also notes its cause: the same exception at the same line of
        the student's file is one cause, whatever the inputs of each test."""
        path = public.student_file(Path(item.path))
        exc = call.excinfo.value
        where = public.student_location(call.excinfo.tb, path)
        seconds = public.timeout_seconds(exc)
        if seconds is not None:
            message, reason = public.timeout_message(seconds, where, path.name), "timeout"
        elif reason == "exception" and not isinstance(exc, SubmissionFailure):  # (one the plugin worded stays as it is)
            message = public.exception_message(message, exc, where)
        cause = message
        if where is not None and reason in ("exception", "timeout"):
            cause = f"{reason} {type(exc).__name__} at {where.file}:{where.line}"
        self._cause[item.name] = cause
        return message, reason

    def _show_once(self, item: pytest.Item, call: pytest.CallInfo, report: pytest.TestReport, message: str,
                   reason: str) -> None:
        """pytest's failure section: the test's and the student's frames only; a timeout as
        its message (pytest-timeout's own says only "Timeout"); a failure whose cause an
        earlier test already showed, as a pointer to it."""
        first = self._first.setdefault(self._cause[item.name], item.name)
        if first != item.name:
            report.longrepr = f"the same failure as {first} (above):\n{message}"
        elif reason == "timeout":
            report.longrepr = message
        else:
            shown = public.failure_repr(call.excinfo, Path(item.path), item.config.getoption("tbstyle", "auto"),
                                        item.config.getoption("showlocals", False))
            report.longrepr = shown if shown is not None else report.longrepr

    def pytest_terminal_summary(self, terminalreporter: Any, config: pytest.Config) -> None:
        if self.session is not None or not any(r.max_score for r in self.results):
            return
        from autograder.report.console import points_table

        terminalreporter.write_line("")
        reasons = config.getoption("tbstyle", "auto") == "no"  # `nnzoo test`: no failure sections, so reasons here
        points_table(self.results, write=terminalreporter.write_line, reasons=reasons,
                     cause=lambda r: self._cause.get(r.name, r.message))


def pytest_configure(config: pytest.Config) -> None:
    """Entry point: declare the markers; give a plain pytest run (the public tests) a plugin."""
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    if not any(isinstance(p, NnzooPlugin) for p in config.pluginmanager.get_plugins()):
        config.pluginmanager.register(NnzooPlugin(), "nnzoo-public-tests")
