"""Reading one student's entry — a folder or a `.zip` — without trusting it.

Only files named `<a>.py` or `<a>.ipynb` of an assignment being graded are read, the
shallowest one of each name, with the time it was handed in (`timestamps.py`: the
instructor's `<entry>.timestamp.txt` beside the entry, else the file's own time in a folder
and the zip's own for a zip — never a `timestamp.txt` inside the entry nor a zip member's
time, which the student may have written);
their names are checked before a byte is inflated, every read is capped, links are never
followed (a link is reported, not read), and a zip with too many entries is refused before
any of them is opened.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from autograder.load.timestamps import (
    MAX_STAMP_BYTES,
    STAMP,
    file_time,
    parse_stamp,
)

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_ENTRIES = 10_000


class EntryError(Exception):
    """The entry as a whole cannot be read (the message is for the student's feedback)."""


@dataclass
class EntryFiles:
    """The files found in one entry: name (e.g. "mlp.py") → bytes; notes on what was skipped;
    when each file was handed in (name → ISO time, see `timestamps.py`)."""

    files: dict[str, bytes] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    times: dict[str, str] = field(default_factory=dict)
    #: assignment → a file whose name is nearly right (`MLP.py`, `mlp (1).py`), its path in the entry
    misnamed: dict[str, str] = field(default_factory=dict)
    #: file name → why the file of that name was not read (a link, too large)
    unread: dict[str, str] = field(default_factory=dict)
    #: the zips inside the entry (never opened), their paths in it, the shallowest first
    archives: list[str] = field(default_factory=list)
    #: the entry holds no file at all (an empty zip or folder)
    empty: bool = False

    def skip(self, name: str, note: str) -> None:
        """The file `name` was found and not read, for the reason `note` (which starts with its path)."""
        self.notes.append(note)
        self.unread.setdefault(name, note)


#: the most characters of a path from a student's entry that a note shows
MOST_PATH_CHARS = 120

#: the most rival files a note names
MOST_RIVALS_NAMED = 5


def shown_path(path: str) -> str:
    """`path` (in a student's zip or folder) as a note shows it: control characters escaped
    (a name could move the instructor's terminal cursor, rewrite a line or retitle the
    window), at most MOST_PATH_CHARS characters.

    Example:
        >>> print(shown_path("a\\x1b[2K/mlp_final.py"))
        a\\x1b[2K/mlp_final.py
    """
    text = printable(path)
    return text if len(text) <= MOST_PATH_CHARS else text[:MOST_PATH_CHARS - 1] + "…"


def printable(text: str) -> str:
    """`text` with every control character escaped (`\\x1b`, `\\n`, `\\r`)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def wanted_names(assignments: list[str]) -> set[str]:
    return {f"{a}{ext}" for a in assignments for ext in (".py", ".ipynb")}


#: what browsers, editors and LMS downloads add to a file's name: " (1)", "-2", "_copy", " copy"
_ADDED = re.compile(r"(\s*\(\d+\)|[-_ ]\d+|[-_ ]copy)+$", re.IGNORECASE)


def meant_for(name: str, assignments: list[str]) -> str | None:
    """The assignment a file whose name is not exactly `<a>.py`/`<a>.ipynb` was meant as
    (`MLP.py`, `mlp.PY`, `mlp (1).py`, `mlp-2.ipynb`, `mlp.py.txt`, `hw1_mlp.py`,
    `mlp_final.py`), or None — never a test file (`test_mlp.py`).

    Example:
        >>> [meant_for(n, ["mlp"]) for n in ("mlp (1).py", "mlp.py.txt", "hw1_mlp.py", "test_mlp.py", "mlp.py")]
        ['mlp', 'mlp', 'mlp', None, None]
    """
    given = name
    if name.lower().endswith((".py.txt", ".ipynb.txt")):  # Windows, extensions hidden: "mlp.py" saved as text
        name = name[:-4]
    stem, dot, suffix = name.rpartition(".")
    if not dot or suffix.lower() not in ("py", "ipynb"):
        return None
    stem = _ADDED.sub("", stem).lower()
    if stem.startswith("test"):
        return None
    words = re.split(r"[-_ .]+", stem)
    return next((a for a in assignments if (stem == a or a in words) and given not in wanted_names([a])), None)


def note_misnamed(found: EntryFiles, paths: list[str], assignments: list[str]) -> None:
    """Record in `found` the nearly right names among `paths` (entry-relative) of the
    assignments it holds no file of, the shallowest of each."""
    for path in sorted(paths, key=lambda p: (p.count("/"), p)):
        a = meant_for(PurePosixPath(path).name, assignments)
        if a and not {f"{a}.py", f"{a}.ipynb"} & found.files.keys():
            found.misnamed.setdefault(a, shown_path(path))


def note_rivals(found: EntryFiles, graded: dict[str, str], candidates: list[tuple[int, str, str]]) -> None:
    """Note in `found` each wanted name that other files share at the depth of the one
    graded (`graded`: name → its path; `candidates`: (depth, name, path) of every file of a
    wanted name): nnzoo cannot tell which the student meant, the instructor can."""
    for name, path in sorted(graded.items()):
        depth = path.count("/")
        rivals = sorted({p for d, n, p in candidates if n == name and d == depth and p != path})
        if rivals:
            named = ", ".join(shown_path(r) for r in rivals[:MOST_RIVALS_NAMED])
            more = f" and {len(rivals) - MOST_RIVALS_NAMED} more" if len(rivals) > MOST_RIVALS_NAMED else ""
            found.notes.append(f"{len(rivals) + 1} files named {name} at the same depth: {shown_path(path)} was graded, "
                               f"not {named}{more} — keep one, or ask the instructor to grade the other")


def archives_among(paths: list[str]) -> list[str]:
    """The `.zip` files among `paths` (entry-relative), the shallowest first."""
    return sorted((p for p in paths if p.lower().endswith(".zip")), key=lambda p: (p.count("/"), p))


def read_folder(folder: Path, assignments: list[str]) -> EntryFiles:
    """The wanted files of `folder` (any depth, the shallowest of each name), links skipped."""
    wanted = wanted_names(assignments)
    found = EntryFiles()
    candidates: list[tuple[int, str, Path]] = []
    recorded = stamp_beside(folder, folder.name)  # the instructor's record of the LMS's time
    others: list[str] = []
    seen = 0
    for parent, dirs, names in os.walk(folder, followlinks=False):
        seen += len(dirs) + len(names)
        if seen > MAX_ENTRIES:
            raise EntryError(f"holds more than {MAX_ENTRIES} files and folders")
        depth = len(Path(parent).relative_to(folder).parts)
        candidates += [(depth, name, Path(parent) / name) for name in names if name in wanted]
        others += [(Path(parent) / name).relative_to(folder).as_posix() for name in names if name not in wanted]
    graded: dict[str, str] = {}
    for depth, name, path in sorted(candidates):
        if name in found.files:
            continue
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            found.skip(name, f"{shown_path(str(path.relative_to(folder)))} is a link; links are not followed")
        elif not stat.S_ISREG(info.st_mode):
            found.skip(name, f"{shown_path(str(path.relative_to(folder)))} is not a regular file")
        elif info.st_size > MAX_FILE_BYTES:
            found.skip(name, f"{shown_path(str(path.relative_to(folder)))} is larger than {MAX_FILE_BYTES // 2**20} MiB and was not read")
        else:
            with open(path, "rb", opener=lambda p, flags: os.open(p, flags | os.O_NOFOLLOW)) as f:
                found.files[name] = f.read(MAX_FILE_BYTES + 1)[:MAX_FILE_BYTES]
            found.times[name] = recorded or file_time(info.st_mtime)
            graded[name] = path.relative_to(folder).as_posix()
    if any(PurePosixPath(p).name == STAMP for p in others):
        when = "the instructor's record beside the folder" if recorded else "its files' own"
        found.notes.append(f"its {STAMP} was not used: the files in a student's folder may be the student's own, so "
                           f"the time it was handed in is {when}")
    found.empty = not candidates and not others
    note_rivals(found, graded, [(depth, name, path.relative_to(folder).as_posix()) for depth, name, path in candidates])
    note_misnamed(found, others, assignments)
    found.archives = archives_among(others)
    return found


def stamp_beside(entry: Path, stem: str) -> str:
    """The time in `<stem>.timestamp.txt` beside an entry in the class folder (the
    instructor's record of the LMS's time; a plain file, not a link), or ""."""
    stamp = entry.parent / f"{stem}.{STAMP}"
    try:
        with open(stamp, "rb", opener=lambda p, flags: os.open(p, flags | os.O_NOFOLLOW | os.O_NONBLOCK)) as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return ""
            return parse_stamp(f.read(MAX_STAMP_BYTES).decode("utf-8", "replace"))
    except OSError:
        return ""


def read_zip(archive: Path, assignments: list[str]) -> EntryFiles:
    """The wanted members of `archive`, inflated one by one with a cap (never extracted)."""
    wanted = wanted_names(assignments)
    found = EntryFiles()
    # `<stem>.timestamp.txt` beside the zip (the instructor's record of the LMS's time), else
    # the zip's own time on this disk (what the download left, as for a folder's files) —
    # never its members' times: those are whatever the student's zip tool wrote, back-dated ones too
    handed_at = stamp_beside(archive, archive.stem) or file_time(archive.lstat().st_mtime)
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            if len(members) > MAX_ENTRIES:
                raise EntryError(f"holds {len(members)} entries (at most {MAX_ENTRIES})")
            # macOS's resource forks are not the student's files; of a name the zip holds twice, the
            # copy added last (an update appended to the zip) comes first
            chosen = sorted((m for m in reversed(members) if PurePosixPath(m.filename).name in wanted
                             and not m.filename.startswith("__MACOSX/")),
                            key=lambda m: (m.filename.count("/"), m.filename))
            copies = Counter(m.filename for m in chosen)
            found.notes += [f"{name} is in the zip {n} times: the last copy that could be read was graded"
                            for name, n in sorted(copies.items()) if n > 1]
            graded: dict[str, str] = {}
            if any(PurePosixPath(m.filename).name == STAMP for m in members):
                found.notes.append(f"its {STAMP} was not used: a zip is the student's own archive, so the time "
                                   "it was handed in is the zip's own")
            for member in chosen:
                name = PurePosixPath(member.filename).name
                if name in found.files or member.is_dir():
                    continue
                if (member.external_attr >> 16) & 0o170000 == 0o120000:
                    found.skip(name, f"{shown_path(member.filename)} is a link; links are not followed")
                    continue
                with zf.open(member) as f:
                    data = f.read(MAX_FILE_BYTES + 1)
                if len(data) > MAX_FILE_BYTES:
                    found.skip(name, f"{shown_path(member.filename)} inflates to more than {MAX_FILE_BYTES // 2**20} MiB and was "
                                     "not read")
                    continue
                found.files[name] = data
                found.times[name] = handed_at
                graded[name] = member.filename
            found.empty = not any(not m.is_dir() and not m.filename.startswith("__MACOSX/") for m in members)
            note_rivals(found, graded, [(m.filename.count("/"), PurePosixPath(m.filename).name, m.filename) for m in chosen])
            note_misnamed(found, [m.filename for m in members if not m.is_dir()], assignments)
            found.archives = archives_among([m.filename for m in members if not m.is_dir()
                                             and not m.filename.startswith("__MACOSX/")])
    except EntryError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, ValueError, EOFError, OSError,
            zlib.error) as exc:
        raise EntryError(f"is not a zip file nnzoo can read ({type(exc).__name__})") from None
    return found
