"""Turning a test's outcome into a student-facing verdict: status, message, reason."""

from __future__ import annotations

from dataclasses import dataclass

from autograder.errors import GraderError, StudentCodeError, SubmissionFailure
from autograder.judge.shown import without_data
from autograder.worker.forbidden import ForbiddenCall


@dataclass(frozen=True)
class Verdict:
    status: str  # "passed" | "failed" | "error"
    message: str = ""
    reason: str = ""  # "", "check", "exception", "timeout", "exit", "budget", "missing", "policy", "grader"


#: How much of a graded test's failure message feedback keeps.  A check's message may quote
#: what the student's code chose (parameter names, a class's name, an exception's text), and
#: that code saw the hidden inputs: a layer that named zero-size parameters after its inputs
#: got 4,800 hidden numbers back bit for bit in one message (an audit, 2026-12-04).  Runs of
#: numbers and very long words are left out, the rest cut at `FEEDBACK_CHARS`; a check's own
#: words, shapes and names stay.
FEEDBACK_CHARS = 1000


def bounded_feedback(message: str) -> str:
    """`message` as the feedback of a graded test shows it (`FEEDBACK_CHARS`).

    Example:
        >>> bounded_feedback("unexpected ['" + "ab" * 50 + "']")
        'unexpected …'
    """
    return without_data(message, chars=FEEDBACK_CHARS, longest_word=80, most_numbers=12)


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
