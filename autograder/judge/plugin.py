"""nnzoo's pytest plugin: one class holding its session, like pytest's own plugins.

- markers: `points(n)`, `property(name)`, `forbid(*qualified_names)`, `visibility(v)`;
- fixtures: `submission` (the student's implementation) and `reference`;
- a hook that turns every test's outcome into a `TestResult`, and a points table at the end.

`pytest assignments/mlp` (public tests) gets a default `NnzooPlugin()` through the `pytest11`
entry point: the module beside the test file is imported in-process.  Hidden grading
(`judge.run`) and the notebook runtime pass their own `NnzooPlugin(session)`: a subject (a
sandboxed worker, or the notebook's namespace), the reference, and the source to scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from autograder.judge.result import PASSED, VISIBILITIES, TestResult
from autograder.judge.scan import scan_source
from autograder.judge.subject import LocalSubject, Subject
from autograder.judge.verdict import verdict_for
from autograder.worker.forbidden import short_name

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


def assignment_of(path: Path) -> str:
    """`test_mlp.py` → "mlp"; `solutions/mlp/test_hidden.py` → "mlp"."""
    stem = path.stem.removeprefix("test_")
    return path.parent.name if stem == "hidden" else stem


def _marker_arg(item: pytest.Item, name: str, default: Any) -> Any:
    marker = item.get_closest_marker(name)
    return marker.args[0] if marker is not None and marker.args else default


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
        self._local: dict[Path, LocalSubject] = {}

    # -- subjects --------------------------------------------------------------------------
    def _beside(self, test_file: Path) -> LocalSubject:
        a = assignment_of(test_file)
        path = test_file.parent / f"{a}.py"
        if path not in self._local:
            if not path.is_file():
                pytest.fail(f"{path.name} not found next to the tests in {path.parent}", pytrace=False)
            self._local[path] = LocalSubject.from_file(path, a)
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

    # -- hooks -----------------------------------------------------------------------------
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        """A test marked `forbid(...)` fails when the source names one of those built-ins
        (static scan, with the line), and the student's code runs under the run-time watch
        for them while the test probes it (`autograder.worker.forbidden`)."""
        marker = item.get_closest_marker("forbid")
        names = tuple(marker.args) if marker is not None else ()
        if names:
            hits = scan_source(self._source(item)).forbidden(list(names))
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
        outcome = yield
        report = outcome.get_result()
        if not (report.when == "call" or (report.when == "setup" and not report.passed)):
            return
        in_process = self.session is None
        exc = call.excinfo.value if call.excinfo is not None else None
        verdict = verdict_for(AssertionError("this test was skipped") if report.skipped else exc, in_process=in_process)
        points = float(_marker_arg(item, "points", 0.0))
        visibility = str(_marker_arg(item, "visibility", "visible"))
        if visibility not in VISIBILITIES:
            raise pytest.UsageError(f"{item.nodeid}: visibility must be one of {VISIBILITIES}, not {visibility!r}")
        doc = (getattr(getattr(item, "obj", None), "__doc__", None) or "").strip()
        self.results.append(TestResult(
            name=item.name, property=str(_marker_arg(item, "property", "")),
            score=points if verdict.status == PASSED else 0.0, max_score=points, status=verdict.status,
            message=verdict.message, reason=verdict.reason, doc=doc.split("\n")[0], visibility=visibility,
        ))
        if self.on_result is not None:
            self.on_result(self.results[-1])

    def pytest_terminal_summary(self, terminalreporter: Any, config: pytest.Config) -> None:
        if self.session is not None or not any(r.max_score for r in self.results):
            return
        from autograder.report.console import points_table

        terminalreporter.write_line("")
        points_table(self.results, write=terminalreporter.write_line)


def pytest_configure(config: pytest.Config) -> None:
    """Entry point: declare the markers; give a plain pytest run (the public tests) a plugin."""
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    if not any(isinstance(p, NnzooPlugin) for p in config.pluginmanager.get_plugins()):
        config.pluginmanager.register(NnzooPlugin(), "nnzoo-public-tests")
