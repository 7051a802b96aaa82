"""What an isolated worker can reach, found out from inside one (no student code runs).

The judge sends a `Reachability` request instead of a student's file; the worker, isolated
exactly as a grading worker is, tries to read each path and to import modules it has not
imported yet, and answers plain lists (`autograder.sandbox.preflight` decides).
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass

#: Modules no worker has imported yet (one of each list is imported from the file system):
#: pure Python from the standard library, and an extension module (a shared object).
PURE_MODULES = ("colorsys", "sched", "tabnanny", "wave", "graphlib")
EXTENSION_MODULES = ("cmath", "_bz2", "_lzma", "_curses", "mmap", "_sqlite3")


@dataclass(frozen=True)
class Reachability:
    """A preflight request.

    Attributes:
        secrets: paths the worker must not read (files, or folders it must not list).
        needed: paths it must read (nnzoo's worker files, the standard library).
    """

    secrets: tuple[str, ...]
    needed: tuple[str, ...]


def readable(path: str) -> list[str] | bool:
    """What this process can read at `path`: the names in the folder (at most 100), or
    whether it can open the file."""
    try:
        if os.path.isdir(path):
            return sorted(os.listdir(path))[:100]
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
        return True
    except OSError:
        return False


def _import_first_new(names: tuple[str, ...]) -> str:
    """Import the first of `names` not imported yet; "" when that works (or none is left)."""
    name = next((n for n in names if n not in sys.modules), None)
    if name is None:
        return ""
    try:
        importlib.import_module(name)
        return ""
    except Exception as exc:  # noqa: BLE001 — any failure is the finding
        return f"{name}: {type(exc).__name__}: {exc}"[:300]


def reachability(request: Reachability) -> dict:
    """{"readable": [[secret, names of a folder or True for a file], ...], "unreadable":
    needed paths it cannot read, "import_errors": lazy imports that failed}."""
    errors = [e for e in (_import_first_new(PURE_MODULES), _import_first_new(EXTENSION_MODULES)) if e]
    found = [(p, readable(p)) for p in request.secrets]
    return {
        "readable": [[p, what] for p, what in found if what is not False],
        "unreadable": [p for p in request.needed if readable(p) is False],
        "import_errors": errors,
    }
