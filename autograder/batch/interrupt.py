"""Ctrl-C that is never lost: a press that lands in a destructor still stops the batch."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any


class CtrlC:
    """Remember a Ctrl-C that Python dropped, and raise it again where the batch can stop.

    SIGINT raises `KeyboardInterrupt` in whatever code runs at that moment.  When that is a
    destructor or a weakref callback (matplotlib's transforms have them, and the garbage
    collection runs them anywhere), Python cannot raise it: it prints "Exception ignored"
    with a traceback and goes on, and the batch would grade every student left.  Inside this
    context such a dropped press is kept quiet and remembered; `check()` (called after each
    student is recorded) raises it.

    >>> with CtrlC() as ctrl_c:
    ...     ctrl_c.check()  # nothing pressed: returns
    """

    def __init__(self) -> None:
        self.pressed = False
        self._previous_hook = sys.unraisablehook

    def __enter__(self) -> CtrlC:
        self._previous_hook = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        sys.unraisablehook = self._previous_hook

    def _unraisable(self, unraisable: Any) -> None:
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
            self.pressed = True
        else:
            self._previous_hook(unraisable)

    def check(self) -> None:
        """Raise the `KeyboardInterrupt` that was dropped, if one was."""
        if self.pressed:
            raise KeyboardInterrupt
