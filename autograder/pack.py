"""`nnzoo pack`: the zip a student hands in — `<student>.zip` holding `<a>.py` (or `<a>.ipynb`)
at its root, exactly what the instructor's `nnzoo grade` reads.

Before packing, the public tests run once more (their result is printed; failures do not
stop packing), and every file is imported in a fresh interpreter: a file that does not
parse or import is refused, with the reason, and no zip is written.  An assignment still
exactly as released (the bundle records each stub's digest) is left out.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

#: seconds a file may take to import (top-level code runs on import)
IMPORT_SECONDS = 120

#: Runs in a fresh interpreter: import each file as the grader's worker would (a notebook
#: as its code, with the `get_ipython()` stand-in), print {assignment: reason or ""}.
_IMPORT_CHECK = """\
import json, sys, traceback, types
from autograder.worker import shell
problems = {}
for name, path, code in json.loads(sys.stdin.read()):
    module = types.ModuleType(name)
    module.__file__ = path
    sys.modules[name] = module
    shell.install(module.__dict__)
    try:
        exec(compile(code, path, "exec"), module.__dict__)
        problems[name] = ""
    except BaseException as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
        where = f" (line {frames[-1].lineno}: {(frames[-1].line or '').strip()})" if frames else ""
        problems[name] = f"importing it raised {type(exc).__name__}: {exc}{where}"
# on a line of its own, to the real stdout: the student's code may print without a newline or replace sys.stdout
sys.__stdout__.write("\\nNNZOO-IMPORT-CHECK " + json.dumps(problems) + "\\n")
"""


class PackError(Exception):
    """Nothing can be packed (no assignment folder, an invalid student id)."""


@dataclass
class Chosen:
    """The file packed for one assignment, and the code the grader would run from it."""

    assignment: str
    path: Path
    code: str | None  # None: a notebook whose code could not be read here (see `note`)
    note: str = ""


def released_stubs(root: Path) -> dict[str, str]:
    """sha256 of each stub as released, from the bundle's marker file ({} outside a bundle)."""
    from autograder.bundle import MARKER

    try:
        return dict(json.loads((root / MARKER).read_text()).get("stubs_sha256", {}))
    except (OSError, ValueError, AttributeError):
        return {}


def notebook_code(path: Path) -> tuple[str | None, str]:
    """A notebook's code as the grader reads it, or (None, why it was not checked here).

    Raises `ValueError` when the file is not a notebook or holds no code.
    """
    if importlib.util.find_spec("nbformat") is None or importlib.util.find_spec("IPython") is None:
        try:
            cells = json.loads(path.read_bytes())["cells"]
        except (ValueError, KeyError, TypeError):
            raise ValueError("not a valid notebook (its JSON cannot be read)") from None
        if not any(c.get("cell_type") == "code" and "".join(c.get("source", "")).strip() for c in cells):
            raise ValueError("the notebook contains no code")
        return None, "its code was not checked: to check it as the grader reads it, run `pip install -e '.[notebooks]'`"
    from autograder.load.notebook import code_from_notebook

    return code_from_notebook(path.read_bytes()), ""


def is_released_stub(py: Path, assignment: str, stubs: dict[str, str]) -> bool:
    """`py` is `assignment`'s stub as released: its sha256 is the one the bundle's marker
    records (`released_stubs`) — in a bundle the student edits that very file."""
    return py.is_file() and hashlib.sha256(py.read_bytes()).hexdigest() == stubs.get(assignment)


def choose(folder: Path, assignment: str, stubs: dict[str, str]) -> Chosen | str:
    """The file to pack for `assignment` from `folder/<a>/`, or why nothing is packed."""
    py, nb = folder / assignment / f"{assignment}.py", folder / assignment / f"{assignment}.ipynb"
    untouched = is_released_stub(py, assignment, stubs)
    if nb.is_file() and (untouched or not py.is_file()):
        code, note = notebook_code(nb)
        return Chosen(assignment, nb, code, note)
    if not py.is_file():
        return f"no {py.name} in {py.parent}"
    from autograder.load import python_text

    if untouched:
        return f"{py.name} is still the stub as released — not started, left out"
    note = f"{nb.name} is there too: the grader reads {py.name} when both are handed in, so only {py.name} is packed" \
        if nb.is_file() else ""
    return Chosen(assignment, py, python_text(py.read_bytes()), note)


def import_problems(chosen: list[Chosen]) -> dict[str, str]:
    """Each chosen file compiled, then imported in one fresh interpreter: assignment →
    why it cannot be graded ("" when it imports)."""
    problems: dict[str, str] = {}
    runnable = []
    for c in chosen:
        if c.code is None:
            problems[c.assignment] = ""
            continue
        try:
            compile(c.code, str(c.path), "exec")
        except SyntaxError as exc:
            problems[c.assignment] = f"syntax error at line {exc.lineno}: {exc.msg}"
            continue
        runnable.append([c.assignment, str(c.path), c.code])
    if not runnable:
        return problems
    try:
        done = subprocess.run([sys.executable, "-c", _IMPORT_CHECK], input=json.dumps(runnable), capture_output=True,
                              text=True, timeout=IMPORT_SECONDS, cwd=Path(runnable[0][1]).parent)
    except subprocess.TimeoutExpired:
        return {**problems, **{name: f"importing it did not finish within {IMPORT_SECONDS} s (code at the top level "
                               "of a file runs on import: move experiments under `if __name__ == \"__main__\":`)"
                               for name, _, _ in runnable}}
    line = next((x for x in done.stdout.splitlines() if x.startswith("NNZOO-IMPORT-CHECK ")), None)
    if line is None:
        reason = f"importing it ended the interpreter (exit code {done.returncode})"
        return {**problems, **{name: reason for name, _, _ in runnable}}
    return {**problems, **json.loads(line.removeprefix("NNZOO-IMPORT-CHECK "))}


def write_zip(target: Path, chosen: list[Chosen]) -> None:
    """`target` holding each chosen file at its root (replaced atomically)."""
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for c in chosen:
            zf.write(c.path, arcname=c.path.name)
    partial.replace(target)
