"""Turning a test's outcome into a student-facing verdict: status, message, reason."""

from __future__ import annotations

from dataclasses import dataclass

from autograder.errors import GraderError, StudentCodeError, SubmissionFailure
from autograder.worker.forbidden import ForbiddenCall


@dataclass(frozen=True)
class Verdict:
    status: str  # "passed" | "failed" | "error"
    message: str = ""
    reason: str = ""  # "", "check", "exception", "timeout", "exit", "budget", "missing", "policy", "grader"


def verdict_for(exc: BaseException | None, *, in_process: bool) -> Verdict:
    """The verdict for a test that raised `exc` (None: it passed).

    `in_process` is True for the public tests, where student code runs in this process:
    any other exception is then the student's own.
    """
    if exc is None:
        return Verdict("passed")
    if isinstance(exc, ForbiddenCall):  # public tests: the watch raised in this process
        return Verdict("failed", str(exc), "policy")
    if isinstance(exc, SubmissionFailure):
        return Verdict("failed", str(exc), exc.reason)
    if isinstance(exc, StudentCodeError):
        if exc.type_name == "ForbiddenCall":  # the run-time watch caught a forbidden built-in
            return Verdict("failed", exc.message, "policy")
        return Verdict("failed", exc.describe()[0].upper() + exc.describe()[1:], "exception")
    if isinstance(exc, GraderError):
        return Verdict("error", f"grader error — rerun: {exc}", "grader")
    if isinstance(exc, AssertionError):
        return Verdict("failed", str(exc) or "a check failed", "check")
    if in_process:
        return Verdict("failed", f"Your code raised {type(exc).__name__}: {exc}", "exception")
    return Verdict("error", f"the grader could not evaluate this test ({type(exc).__name__}); please report it", "grader")
