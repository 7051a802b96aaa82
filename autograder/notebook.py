"""Reducing a student's notebook to the Python code that is graded."""

from __future__ import annotations

import nbformat


def code_from_notebook(data: bytes) -> str:
    """The code of a notebook: its nbgrader answer cells if it has any, else every code cell.

    IPython magics and shell escapes (`%`, `!`) are commented out.  Raises `ValueError`
    when the bytes are not a notebook, or when it holds no code at all.
    """
    try:
        nb = nbformat.reads(data.decode("utf-8", errors="replace"), as_version=4)
    except Exception as exc:  # nbformat raises several types for bad JSON / schema
        raise ValueError(f"not a valid notebook ({type(exc).__name__})") from None
    cells = [c for c in nb.cells if c.get("cell_type") == "code"]
    answers = [c for c in cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    chosen = answers or cells
    lines: list[str] = []
    for cell in chosen:
        for line in cell.get("source", "").splitlines():
            lines.append(f"# {line}" if line.lstrip().startswith(("%", "!")) else line)
        lines.append("")
    code = "\n".join(lines)
    if not code.strip():
        raise ValueError("the notebook contains no code")
    return code + "\n"
