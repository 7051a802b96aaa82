"""What the public tests add on a student's own machine (`nnzoo test`, `pytest assignments/<a>`).

A public test probes the student's module in the student's own process, so three things
that hidden grading gets from its sandbox are done here instead:

- **one torch thread** while a public test runs: small models train 10–20× faster on one
  thread than on a laptop's contended pool (the spirals task: 1–3 s instead of 26–34 s);
- **a time limit per test**: pytest-timeout's `signal` method (SIGALRM in the main
  thread).  It interrupts Python code — an endless loop ends with a message naming the
  student's function that did not return — and the other tests still run.  It cannot cut
  one long C call short (the alarm is handled when the call returns), and code that
  swallows `BaseException` inside its loop can outlive it; the `thread` method would end
  every hang, but by killing the whole pytest process at the first one, so no later test
  and no points table would be seen.  Where there is no SIGALRM (Windows),
  pytest-timeout falls back to `thread` on its own.  A C call that never returns
  (`sum(range(10**12))`) is ended at last by `last_resort`: the run stops, showing where;
- **failures at the student's line**: the traceback keeps only the test's frames and the
  student file's frames (none of the grader's or pytest's), and a failure already shown
  for an earlier test is named, not repeated.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import re
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Iterator

import pytest
from _pytest._code.code import Traceback

#: seconds a public test may run when it carries no `@pytest.mark.timeout(...)` of its own
DEFAULT_TIMEOUT_S = 60.0

_TIMEOUT = re.compile(r"^Timeout \(>([0-9.]+)s\) from pytest-timeout")


def _terminal() -> int | None:
    """This process's stderr as it was when nnzoo's plugin was imported — `nnzoo test`
    imports it before pytest captures descriptor 2 — for `last_resort` to write to."""
    try:
        return os.dup(2)
    except OSError:
        return None


_TERMINAL = _terminal()


@contextlib.contextmanager
def last_resort(limit: float, grace: float = 60.0) -> Iterator[None]:
    """While a public test runs: should it outlive twice its time `limit` and a `grace` (a C
    call the alarm cannot interrupt), end the process, printing where each thread was — a
    run that stops at the student's line beats one that never ends."""
    if _TERMINAL is None:
        yield
        return
    faulthandler.dump_traceback_later(2 * limit + grace, exit=True, file=_TERMINAL)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


def student_file(test_file: Path) -> Path:
    """`assignments/mlp/test_mlp.py` → `assignments/mlp/mlp.py` (the module under test)."""
    return test_file.parent / f"{test_file.stem.removeprefix('test_')}.py"


def is_public(item: pytest.Item) -> bool:
    """A test of `test_<a>.py` with the student's `<a>.py` beside it."""
    path = Path(item.path)
    return path.name.startswith("test_") and path.suffix == ".py" and student_file(path).is_file()


@dataclass(frozen=True)
class Location:
    """Where an exception passed through the student's file.

    Attributes:
        file: the file's name; called: the outermost student function (the one the test
            called, e.g. `train_classifier`); function, line, code: the innermost student
            frame (where it was: `Linear.forward`, 57, "return x @ self.weight.T").
    """

    file: str
    called: str
    function: str
    line: int
    code: str

    def describe(self) -> str:
        text = f"{self.file} line {self.line}, in {self.function}"
        return f"{text}: {self.code}" if self.code else text


def _frames(tb: TracebackType | None) -> Iterator[TracebackType]:
    while tb is not None:
        yield tb
        tb = tb.tb_next


def student_location(tb: TracebackType | None, path: Path) -> Location | None:
    """Where `tb` (a traceback) passed through the student's file `path`, or None."""
    target = str(path.resolve())
    own = [t for t in _frames(tb) if _same_file(t.tb_frame.f_code.co_filename, target)]
    if not own:
        return None
    outer, inner = own[0], own[-1]
    return Location(path.name, _qualname(outer), _qualname(inner), inner.tb_lineno, _source_line(path, inner.tb_lineno))


def _qualname(tb: TracebackType) -> str:
    code = tb.tb_frame.f_code
    return getattr(code, "co_qualname", code.co_name)  # co_qualname: Python 3.11+


def _same_file(filename: str, target: str) -> bool:
    try:
        return str(Path(filename).resolve()) == target
    except (OSError, ValueError):
        return False


def _source_line(path: Path, lineno: int) -> str:
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    return lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""


def timeout_seconds(exc: BaseException | None) -> float | None:
    """The limit of a pytest-timeout failure (`Timeout (>20.0s) from pytest-timeout.`), else None."""
    if exc is None or not isinstance(exc, pytest.fail.Exception):
        return None
    match = _TIMEOUT.match(str(exc))
    return float(match.group(1)) if match else None


def timeout_message(seconds: float, where: Location | None, module: str) -> str:
    """The student-facing reason for a test that ran out of time."""
    if where is None:
        return (f"the test did not finish within {seconds:g} s; your code had returned, so the time ran out in the "
                "test's own computation on your results\nHint: is your model much larger or slower than asked "
                "(e.g. a Python loop over every element instead of one tensor operation)?")
    if where.called == "<module>":
        return (f"importing {module} did not finish within {seconds:g} s (it was at {where.describe()})\n"
                "Hint: code at the top level of your file runs on import — move experiments under "
                "`if __name__ == \"__main__\":`")
    return (f"your `{where.called}` did not return within {seconds:g} s — an endless loop? "
            f"(it was at {where.describe()})\nHint: check that every loop ends (its condition changes, "
            "its counter grows)")


def failure_repr(excinfo: pytest.ExceptionInfo, test_file: Path, tbstyle: str, showlocals: bool = False) -> object | None:
    """pytest's failure section for `excinfo` with only the test's and the student file's
    frames (the grader's and pytest's dropped; all of them kept if none would remain), in
    the `--tb` style asked for; None for the styles that show no frames of their own
    (`no`, `line`, `native`)."""
    if tbstyle not in ("auto", "long", "short"):
        return None
    keep = {str(test_file.resolve()), str(student_file(test_file).resolve())}

    def only_ours(info: pytest.ExceptionInfo) -> Traceback:
        everything = info.traceback.filter(info)  # without the frames that hide themselves
        kept = [entry for entry in everything if _resolved(entry.path) in keep] or list(everything)
        if tbstyle == "auto" and len(kept) > 2:  # as pytest's own `auto`: the middle frames short
            kept = [kept[0], *(entry.with_repr_style("short") for entry in kept[1:-1]), kept[-1]]
        return Traceback(kept)

    return excinfo.getrepr(style="short" if tbstyle == "short" else "long", tbfilter=only_ours, showlocals=showlocals)


def _resolved(path: object) -> str:
    try:
        return str(Path(str(path)).resolve())
    except (OSError, ValueError):
        return ""


def exception_message(message: str, exc: BaseException, where: Location | None) -> str:
    """`message` (the verdict for an exception raised while a test ran the student's code)
    with the student's line; an untouched stub reads as "`Linear.__init__` is not written
    yet"; an exception that never passed through the student's file says so."""
    if where is None:  # raised outside the student's file, e.g. in torch, on what their code returned
        return f"the test stopped on {type(exc).__name__} outside your file, working with what your code returned: {exc}"
    if type(exc) is NotImplementedError:
        return f"`{where.function}` is not written yet ({where.file} line {where.line}): {exc}".rstrip(": ")
    return f"{message}\n  at {where.describe()}"
