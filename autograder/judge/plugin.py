"""nnzoo's pytest plugin (auto-loaded through the `pytest11` entry point).

- markers: `points(n)`, `property(name)`, `forbid(*qualified_names)`;
- fixtures: `submission` (the student's implementation) and `reference`;
- a hook that records every test's points and verdict, and a points table at the end.

Public tests (`pytest assignments/mlp`) get the module beside the test file, imported
in-process.  Hidden grading (`autograder.judge.run`) puts a `GradingSession` in the
config's stash: a sandboxed subject, the reference, and the student's source for the scan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from autograder.judge.verdict import verdict_for
from autograder.scan import scan_source
from autograder.subject import LocalSubject


@dataclass
class GradingSession:
    """What the hidden tests of one student and assignment run against."""

    subject: Any
    reference: LocalSubject
    source: str
    results: list[dict] = field(default_factory=list)


SESSION = pytest.StashKey[GradingSession]()
RESULTS = pytest.StashKey[list]()
LOCAL_SUBJECTS = pytest.StashKey[dict]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): points the test is worth")
    config.addinivalue_line("markers", "property(name): the lecture property the test grades")
    config.addinivalue_line("markers", "forbid(*names): built-ins the student's code may not use")
    config.stash[RESULTS] = []


def _assignment_of(path: Path) -> str:
    """`test_mlp.py` → "mlp"; `solutions/mlp/test_hidden.py` → "mlp"."""
    stem = path.stem.removeprefix("test_")
    return path.parent.name if stem == "hidden" else stem


def _local(config: pytest.Config, path: Path, name: str) -> LocalSubject:
    cache = config.stash.setdefault(LOCAL_SUBJECTS, {})
    if path not in cache:
        if not path.is_file():
            pytest.fail(f"{path.name} not found next to the tests in {path.parent}", pytrace=False)
        cache[path] = LocalSubject.from_file(path, name)
    return cache[path]


@pytest.fixture
def submission(request: pytest.FixtureRequest) -> Any:
    """The implementation under test: sandboxed in hidden grading, in-process otherwise.

    A submission that can no longer run (it did not import, its time budget is spent)
    fails each test here, before the test computes anything of the reference's."""
    session = request.config.stash.get(SESSION, None)
    if session is not None:
        failure = getattr(session.subject, "unrunnable", None)
        if failure is not None:
            raise failure
        return session.subject
    a = _assignment_of(request.path)
    return _local(request.config, request.path.parent / f"{a}.py", a)


@pytest.fixture
def reference(request: pytest.FixtureRequest) -> LocalSubject:
    """The reference solution, always run in the judge's own process."""
    session = request.config.stash.get(SESSION, None)
    if session is not None:
        return session.reference
    a = _assignment_of(request.path)
    return _local(request.config, request.path.parent / f"{a}.py", a)


def _source_of(item: pytest.Item) -> str:
    session = item.config.stash.get(SESSION, None)
    if session is not None:
        return session.source
    path = item.path.parent / f"{_assignment_of(item.path)}.py"
    return path.read_text() if path.is_file() else ""


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """A test marked `forbid(...)` fails when the source uses one of those built-ins."""
    marker = item.get_closest_marker("forbid")
    if marker is None:
        return
    hits = scan_source(_source_of(item)).forbidden(list(marker.args))
    if hits:
        names = ", ".join(h.replace("torch.nn.functional.", "F.").replace("torch.nn.", "nn.") for h in hits)
        raise AssertionError(
            f"forbidden built-in: your code uses {names}, which this task asks you to write yourself"
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    outcome = yield
    report = outcome.get_result()
    if not (report.when == "call" or (report.when == "setup" and not report.passed)):
        return
    points_marker = item.get_closest_marker("points")
    points = float(points_marker.args[0]) if points_marker else 0.0
    prop_marker = item.get_closest_marker("property")
    session = item.config.stash.get(SESSION, None)
    exc = call.excinfo.value if call.excinfo is not None else None
    verdict = verdict_for(exc, in_process=session is None)
    if report.skipped:
        verdict = verdict_for(AssertionError("this test was skipped"), in_process=session is None)
    result = {
        "name": item.name,
        "property": prop_marker.args[0] if prop_marker else "",
        "score": points if verdict.status == "passed" else 0.0,
        "max_score": points,
        "status": verdict.status,
        "message": verdict.message,
        "reason": verdict.reason,
        "doc": (getattr(item, "obj", None).__doc__ or "").strip().split("\n")[0] if getattr(item, "obj", None) else "",
    }
    item.config.stash[RESULTS].append(result)
    if session is not None:
        session.results.append(result)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    results = config.stash.get(RESULTS, [])
    if not any(r["max_score"] for r in results) or config.stash.get(SESSION, None) is not None:
        return
    from autograder.report.console import points_table

    terminalreporter.write_line("")
    points_table(results, write=terminalreporter.write_line)
