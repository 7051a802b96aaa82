"""A student's notebook → the Python code that is graded, as IPython itself would run it.

IPython's own input transformer turns magics (`%time`, `%%capture`), help (`torch.clamp?`)
and shell escapes (`!ls`) into plain Python calls on `get_ipython()`; the worker gives
student code a quiet stand-in for it (`autograder.worker.shell`), so a notebook graded as
a file behaves as it did in Jupyter, on every route (plain folders, zips, nbgrader).
"""

from __future__ import annotations

import nbformat


def cell_to_python(source: str) -> str:
    """One cell's code as IPython runs it (magics, `?` and `!` become `get_ipython()` calls).

    Example:
        >>> cell_to_python("%matplotlib inline\\nx = 1")
        "get_ipython().run_line_magic('matplotlib', 'inline')\\nx = 1\\n"
    """
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 — an input IPython cannot read runs (and fails) as typed
        return source if source.endswith("\n") else source + "\n"


def code_from_notebook(data: bytes) -> str:
    """The code of a notebook: its nbgrader answer cells if it has any, else every code cell,
    each turned into Python by IPython's transformer.

    Raises `ValueError` when the bytes are not a notebook, or when it holds no code at all.
    """
    try:
        nb = nbformat.reads(data.decode("utf-8", errors="replace"), as_version=4)
    except Exception as exc:  # nbformat raises several types for bad JSON / schema
        raise ValueError(f"not a valid notebook ({type(exc).__name__})") from None
    cells = [c for c in nb.cells if c.get("cell_type") == "code"]
    answers = [c for c in cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    code = "\n".join(cell_to_python(str(c.get("source", ""))) for c in answers or cells)
    if not code.strip():
        raise ValueError("the notebook contains no code")
    return code
