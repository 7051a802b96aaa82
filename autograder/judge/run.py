"""Run an assignment's hidden tests against one student's file, in this (trusted) process."""

from __future__ import annotations

import contextlib
import io
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from autograder.errors import SubmissionFailure
from autograder.judge.plugin import SESSION, GradingSession
from autograder.paths import solution_dir
from autograder.sandbox.client import ForkServer
from autograder.sandbox.limits import SandboxLimits
from autograder.scan import scan_source
from autograder.subject import LocalSubject, SandboxSubject


class UnrunnableSubject:
    """A submission that cannot run at all (missing file, syntax error): every probe fails."""

    def __init__(self, reason: str, message: str) -> None:
        self.unrunnable = SubmissionFailure(reason, message)

    def run(self, probe: str, **kwargs: Any) -> Any:
        raise self.unrunnable

    def close(self) -> None:
        pass


@lru_cache(maxsize=None)
def reference_for(assignment: str) -> LocalSubject:
    """The reference solution, imported once per judge process (never into a worker)."""
    path = solution_dir(assignment) / f"{assignment}.py"
    return LocalSubject.from_file(path, f"nnzoo_reference_{assignment}")


class _SessionPlugin:
    def __init__(self, session: GradingSession) -> None:
        self.session = session

    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[SESSION] = self.session


def grade_file(path: Path, assignment: str, limits: SandboxLimits) -> dict:
    """Grade the student's file at `path` on `assignment` (see `grade_source`)."""
    return grade_source(path.read_text(errors="replace"), assignment, limits)


def grade_source(text: str | None, assignment: str, limits: SandboxLimits, problem: str = "") -> dict:
    """Grade a student's code for `assignment` (None: no file; `problem`: why it is unusable).

    Returns `{"score", "max_score", "tests": [...], "sandbox": levels, "scan": [...]}`.
    """
    filename = f"{assignment}.py"
    scan = scan_source(text or "")
    if problem:
        subject: Any = UnrunnableSubject("missing", problem)
    elif text is None:
        subject = UnrunnableSubject("missing", f"no {filename} (or {assignment}.ipynb) found in the submission")
    elif scan.syntax_error:
        subject = UnrunnableSubject("syntax", f"{filename} has a syntax error ({scan.syntax_error}); fix it so Python can import the file")
    else:
        subject = SandboxSubject(text, assignment, limits, label=filename)
        with contextlib.suppress(OSError):  # a failing start is reported by the first probe
            ForkServer.get()  # starts (if not running) while the judge imports the reference and the tests
    session = GradingSession(subject=subject, reference=reference_for(assignment), source=text or "")
    tests = solution_dir(assignment) / "test_hidden.py"
    args = [str(tests), "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "--no-header", "-rN", "--import-mode=importlib",
            "--rootdir", str(tests.parent.parent.parent), "-W", "ignore"]
    # every assignment's hidden tests are a `test_hidden.py`: never reuse another's module
    for name in [m for m in sys.modules if m == "test_hidden" or m.endswith(".test_hidden")]:
        del sys.modules[name]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            code = pytest.main(args, plugins=[_SessionPlugin(session)])
    finally:
        subject.close()
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise RuntimeError(f"the hidden tests of {assignment} could not run (pytest exit code {code})")
    levels = getattr(getattr(subject, "worker", None), "levels", {})
    return {
        "score": sum(r["score"] for r in session.results),
        "max_score": sum(r["max_score"] for r in session.results),
        "tests": session.results,
        "sandbox": levels,
        "scan": scan.suspicious(),
    }
