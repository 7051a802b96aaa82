"""A student's notebook → the Python code that is graded, as IPython itself would run it.

IPython's own input transformer turns magics (`%time`, `%%capture`), help (`torch.clamp?`)
and shell escapes (`!ls`) into plain Python calls on `get_ipython()`; the worker gives
student code a quiet stand-in for it (`autograder.worker.shell`), so a notebook graded as
a file behaves as it did in Jupyter, on every route (plain folders, zips, nbgrader).
"""

from __future__ import annotations

import ast
import bisect
import re
import warnings
from dataclasses import dataclass, field
from functools import lru_cache


#: a line IPython reads otherwise than Python: a magic, a shell escape, help (`x?`, `?x`),
#: an assignment from either (`files = !ls`, `t = %time f()`)
_IPYTHON_SYNTAX = re.compile(r"^[ \t]*[%!?]|\?[ \t]*$|=[ \t]*[%!]", re.MULTILINE)
#: IPython's transformer re-reads a cell once per transformation (about 1 s per 1,000
#: characters of a cell with magics); a longer cell runs as typed (its magics then fail)
MOST_TRANSFORMED_CHARS = 20_000
#: ... and its cost grows with both the cell's length and its IPython lines: a notebook's
#: cells are transformed while (IPython lines × characters), summed, stays under this
#: (about 2.5 s of the batch process; 30 cells of 3,000 characters with 3 magics each use
#: 270,000); later cells with IPython syntax run as typed (an audit's 88 KB notebook of
#: magic lines held the batch 112 s, about 16 minutes per MiB).
MOST_TRANSFORM_WORK = 500_000


class TransformBudget:
    """What is left of one notebook's `MOST_TRANSFORM_WORK`."""

    def __init__(self, work: int = MOST_TRANSFORM_WORK) -> None:
        self.left = work

    def spend(self, source: str) -> bool:
        """Whether `source` may be transformed (and its cost is taken off)."""
        work = len(_IPYTHON_SYNTAX.findall(source)) * len(source)
        if work > self.left:
            return False
        self.left -= work
        return True


def cell_to_python(source: str, budget: TransformBudget | None = None) -> str:
    """One cell's code as IPython runs it (magics, `?` and `!` become `get_ipython()` calls).

    Example:
        >>> cell_to_python("%matplotlib inline\\nx = 1")
        "get_ipython().run_line_magic('matplotlib', 'inline')\\nx = 1\\n"
    """
    from IPython.core.inputtransformer2 import TransformerManager

    from autograder.worker.shell import RUN_BODY

    first, _, body = source.partition("\n")
    if first.startswith("%%") and first[2:].split(" ")[0] in RUN_BODY:  # `%%time`: its body, magics and all, is the code
        return cell_to_python(body, budget)
    if not _IPYTHON_SYNTAX.search(source) or len(source) > MOST_TRANSFORMED_CHARS or not (budget or TransformBudget()).spend(source):
        return source if source.endswith("\n") else source + "\n"
    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 — an input IPython cannot read runs (and fails) as typed
        return source if source.endswith("\n") else source + "\n"


#: The comment that opens a guarded cell in the code graded: how many lines the cell has,
#: and its label — for `place_in_cell`, which turns a line of the whole code back into the
#: cell's own.
_MARKER = re.compile(r"# nnzoo cell: (\d+) (.*)")


def cell_marker(label: str, code: str) -> str:
    """The comment line that opens `code`'s guarded cell (see `place_in_cell`)."""
    lines = len(code.splitlines())
    return f"# nnzoo cell: {lines} {label}\n"


def in_notebook_terms(message: str, code: str) -> str:
    """`message` with each place in the graded `code` ("mlp.py, line 143") named as the
    student's notebook has it ("mlp.ipynb, code cell 7, line 3"), where `code` was made of
    a notebook's guarded cells; unchanged otherwise.  The cells are found once per `code`."""
    cells = _cells(code)
    if not cells:
        return message

    def named(match: re.Match) -> str:
        place = _place(cells, int(match.group(2)))
        return f"{match.group(1)}.ipynb, {place}" if place else match.group(0)

    return re.sub(r"\b([A-Za-z_]\w{0,63})\.py, line (\d{1,9})\b", named, message)


@lru_cache(maxsize=8)
def _cells(code: str) -> tuple[tuple[int, int, str], ...]:
    """(the marker's line, the cell's lines, its label) of every guarded cell of `code`."""
    if "# nnzoo cell: " not in code:
        return ()
    found = []
    for number, line in enumerate(code.split("\n"), start=1):
        if line.startswith("# nnzoo cell: ") and (marker := _MARKER.fullmatch(line)):
            found.append((number, int(marker.group(1)), marker.group(2)))
    return tuple(found)


def _place(cells: tuple[tuple[int, int, str], ...], line: int) -> str | None:
    at = bisect.bisect_right(cells, (line, float("inf"), "")) - 1
    if at < 0:
        return None
    start, lines, label = cells[at]
    inside = line - start - 1  # the marker, then `try:`, then the cell's lines
    return f"{label}, line {inside}" if 1 <= inside <= lines else None


def place_in_cell(code: str, line: int) -> str | None:
    r"""Where line `line` of the graded `code` (a notebook's cells joined) is in the student's
    notebook: "code cell 3, line 2"; None outside a guarded cell (e.g. provided code).

    Example:
        >>> code = "import torch\n" + cell_marker("code cell 2", "x = 1\ny = 2\n") + "try:\n    x = 1\n    y = 2\n"
        >>> place_in_cell(code, 5), place_in_cell(code, 1)
        ('code cell 2, line 2', None)
    """
    return _place(_cells(code), line)


@dataclass
class NotebookCode:
    """What is graded in a notebook: its code, and for an nbgrader notebook the answers to
    its conceptual questions (question id → choice) and notes on anything odd in it."""

    code: str
    answers: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def read_notebook(data: bytes, filename: str = "the notebook") -> NotebookCode:
    """The code of a notebook, each code cell turned into Python by IPython's transformer.

    An nbgrader notebook (its cells carry nbgrader ids) is read as the nbgrader route reads
    it (`autograder.nbgrader.collect`), with its own structure as the layout: the provided
    cells, then the student's cells, each guarded as in Jupyter; nnzoo's own cells left
    out; the questions' answers read — so it scores the same handed in either way.  Any
    other notebook: every code cell, in order, guarded the same way (an error ends only its
    cell; one with a syntax error is left out, with a note).

    Raises `ValueError` when the bytes are not a notebook, or when it holds no code at all.
    """
    import nbformat  # here, not at the top: a student's install (`nnzoo pack`) may have none

    try:
        with warnings.catch_warnings():  # a notebook older than cell ids is read all the same: no console noise
            warnings.simplefilter("ignore", nbformat.warnings.MissingIDFieldWarning)
            nb = nbformat.reads(data.decode("utf-8-sig", errors="replace"), as_version=4)
    except Exception as exc:  # nbformat raises several types for bad JSON / schema
        raise ValueError(f"not a valid notebook ({type(exc).__name__})") from None
    cells = [c for c in nb.cells if c.get("cell_type") == "code"]
    if any(c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in nb.cells):
        from autograder.nbgrader.collect import SourceLayout, collect

        got = collect(data, SourceLayout.from_notebook(nb), filename)
        if got.code is None:
            raise ValueError(got.problem.removeprefix(f"{filename} ") or "the notebook contains no code")
        return NotebookCode(got.code, dict(got.answers), list(got.notes))
    from autograder.nbgrader.collect import cell_code

    notes: list[str] = []
    budget = TransformBudget()
    codes = [cell_code(str(c.get("source", "")), f"code cell {i}", notes, budget) for i, c in enumerate(cells, start=1)]
    code = "\n".join(with_future_imports_first([c for c in codes if c is not None]))
    if not code.strip():
        raise ValueError("the notebook contains no code")
    return NotebookCode(code, {}, notes)


def with_future_imports_first(cells: list[str]) -> list[str]:
    """The cells' code as one module runs it: IPython compiles each cell alone, so a cell may
    open with `from __future__ import ...`; in one module such imports must come first.

    Example:
        >>> with_future_imports_first(["x = 1\\n", "from __future__ import annotations\\ny = 2\\n"])
        ['from __future__ import annotations\\n', 'x = 1\\n', 'y = 2\\n']
        >>> with_future_imports_first(["%matplotlib inline\\n", "'Doc.'\\nfrom __future__ import annotations\\n"])
        ['from __future__ import annotations\\n', '%matplotlib inline\\n', "'Doc.'\\n"]
    """
    futures: list[str] = []
    rest = []
    for code in cells:
        try:
            body = ast.parse(code).body
        except SyntaxError:  # runs (and fails) as typed
            body = []
        # a cell's docstring may come first, as a module's may
        first = int(bool(body) and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str))
        opening = first
        while opening < len(body) and isinstance(body[opening], ast.ImportFrom) and body[opening].module == "__future__":
            opening += 1
        if opening == first:
            rest.append(code)
            continue
        lines = code.splitlines(keepends=True)
        start, end = body[first].lineno - 1, body[opening - 1].end_lineno or 0
        futures += [line for line in lines[start:end] if line.strip() and line not in futures]
        rest.append("".join(lines[:start] + lines[end:]))
    return [*futures, *rest] if futures else cells


def code_from_notebook(data: bytes) -> str:
    """The code of a notebook (see `read_notebook`)."""
    return read_notebook(data).code
