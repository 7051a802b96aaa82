"""The verdicts of the tests run so far in this grading: name → passed.

A check that would excuse a failure by a part's — a composite whose part is wrong, a GNN
layer whose primitive is wrong — asks here whether that part's own test passed, instead of
asking the worker again: the student's code runs there and could answer a re-check
otherwise than it answered its own test (an outside audit's Linear raised only once an
MLP existed, its MLP had no ReLU and kept its points).  A part that passed its own test
excuses nothing; one not graded yet is checked then and there.

The plugin clears the record when a run starts and notes each test as it finishes (one
grading at a time per judge process)::

    verdicts.passed("test_linear_forward_matches_reference")   # True, False, or None: not run yet
"""

from __future__ import annotations

from typing import Iterable

_passed: dict[str, bool] = {}


def clear() -> None:
    """A new run (a new student's grading) starts."""
    _passed.clear()


def note(test: str, passed: bool) -> None:
    """`test` finished; it `passed` or not."""
    _passed[test] = passed


def passed(test: str) -> bool | None:
    """Whether `test` passed in this run; None before it ran."""
    return _passed.get(test)


def all_passed(tests: Iterable[str]) -> bool | None:
    """True when every one of `tests` passed, False when one failed, None when none failed
    but one has not run (or there are none)."""
    found = [passed(test) for test in tests]
    if False in found:
        return False
    return True if found and None not in found else None
