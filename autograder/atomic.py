"""Writing a file atomically: a reader — or an interrupted batch — only ever sees a complete
version (a temporary file beside it, then `os.replace`)."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, text: str) -> None:
    """Write `text` (UTF-8; characters no file can hold are replaced) to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(text.encode("utf-8", "replace"))
    os.replace(tmp, path)
