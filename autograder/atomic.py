"""Writing a gradebook safely: a reader — or an interrupted batch — only ever sees a complete
version of a file (a temporary file beside it, then `os.replace`), and two runs never write
into one folder at once (`sole_writer`)."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

#: The lock file `sole_writer` holds, in the folder it guards (a dot name: no one's grades).
LOCK_NAME = ".nnzoo-writer.lock"


#: The folders whose lock this process holds (`sole_writer` is re-entrant within a process).
_HELD: set[Path] = set()


class FolderBusy(Exception):
    """Another process is writing into the folder; `holder` is its process id ("" unknown)."""

    def __init__(self, folder: Path, holder: str) -> None:
        super().__init__(f"another nnzoo run{f' (process {holder})' if holder else ''} is writing into {folder} — "
                         "wait until it has finished, or write into another folder")
        self.holder = holder


def cannot_write(exc: OSError, folder: Path) -> str:
    """One line on `exc` when it is about `folder` or a file in it ("" when it is not)."""
    top = folder.resolve()
    for name in (exc.filename2, exc.filename):  # os.replace: the file it was to replace, not its temporary one
        path = None if name is None else Path(os.fsdecode(name)).resolve()
        if path is not None and (path == top or top in path.parents):
            reason = "a file is where a folder must be" if isinstance(exc, (FileExistsError, NotADirectoryError)) \
                else exc.strerror or str(exc)
            return f"cannot write into {folder}: {reason} ({os.fsdecode(name)})"
    return ""


def write_atomic(path: Path, text: str) -> None:
    """Write `text` (UTF-8; characters no file can hold are replaced) to `path`.

    The temporary file has a name of its own per call, so two writers of one path (two
    processes, or threads) each replace it whole and neither loses its temporary file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(text.encode("utf-8", "replace"))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def sole_writer(folder: Path) -> Iterator[None]:
    """Hold `folder`'s writer lock while the block runs (creating the folder, for its owner only).

    The lock is an `flock` on `LOCK_NAME`: the kernel drops it when its holder exits, even
    when killed, so a crash never leaves the folder locked.  Within one process it nests
    (a batch inside a command that holds the lock already).  Raises `FolderBusy` when
    another process holds it, `OSError` when the folder cannot be written."""
    import fcntl  # POSIX: imported where a gradebook is written (students' `nnzoo test` runs anywhere)

    folder.mkdir(parents=True, exist_ok=True, mode=0o700)  # as the sandbox's preflight makes it: no other user reads it
    key = folder.resolve()
    if key in _HELD:  # this process holds it already (the CLI, then the batch it runs)
        yield
        return
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderBusy(folder, os.pread(fd, 32, 0).decode("ascii", "replace").strip()) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _HELD.add(key)
        try:
            yield
        finally:
            _HELD.discard(key)
    finally:
        os.close(fd)
