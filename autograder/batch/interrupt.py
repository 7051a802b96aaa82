"""Ctrl-C that is never lost: a press that lands in a destructor, or in torch's first
import, still stops the command."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from types import TracebackType
from typing import Any, Iterator


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


@contextlib.contextmanager
def ctrl_c_held() -> Iterator[None]:
    """Hold a Ctrl-C pressed while the block runs, and raise it when the block is done.

    Only where Ctrl-C raises `KeyboardInterrupt` (the main thread, Python's own handler):
    elsewhere, or where SIGINT is ignored, the block runs as it is.

    >>> with ctrl_c_held():
    ...     pass  # a press here is raised after the block
    """
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    pressed: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if pressed:
        raise KeyboardInterrupt


def import_torch_whole() -> None:
    """Import torch with Ctrl-C held until it is imported (`ctrl_c_held`).

    torch's C start imports numpy and clears whatever goes wrong there: a press that landed
    in it was lost (`nnzoo grade` went on and graded the whole class), or left numpy half
    imported ("cannot load module more than once per process", exit 1), and one that landed
    in a dataclass's generated code made the interpreter kill itself with SIGINT after the
    batch had said "interrupted" (5 of 40 presses in the first second of `nnzoo grade -j 2`)."""
    if "torch" in sys.modules:
        return
    with ctrl_c_held():
        import torch  # noqa: F401
