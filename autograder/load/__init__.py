"""Loading a class of submissions: one folder or `.zip` per student, holding any of
`<a>.py` or `<a>.ipynb`.

    files.py     one entry, read without trusting it (names checked first, reads capped,
                 links never followed, zips never extracted)
    notebook.py  a notebook → Python, through IPython's own input transformer

Whatever one entry holds, it costs only that student: an unreadable entry becomes that
student's problem, never an exception that stops the class.  Two entries that would share
one student id (`bob/` and `bob.zip`, `Ana Lee/` and `Ana_Lee/`) are refused before
anything is graded, naming both.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tokenize
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from autograder.load.files import EntryError, EntryFiles, read_folder, read_zip, shown_path
from autograder.load.notebook import read_notebook


class NothingToGrade(Exception):
    """The SUBMISSIONS path does not exist or holds no student folder or zip."""


class IdCollision(Exception):
    """Two entries would be graded under one student id."""


@dataclass
class StudentSubmission:
    """One student's code for each assignment, as text (a notebook already turned into Python).

    `problems` holds per-assignment reasons nothing can be graded (e.g. "mlp.ipynb is not
    valid JSON"); `notes` what was skipped while reading the entry (e.g. a link).  From an
    nbgrader notebook also: `answers` to its conceptual questions (assignment → question
    id → choice) and `assignment_notes` on the notebook (e.g. a cell left out).
    `submitted_at`: when each assignment was handed in (ISO text; see `load.timestamps`).
    """

    student: str
    sources: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    entry: str = ""
    answers: dict[str, dict[str, object]] = field(default_factory=dict)
    assignment_notes: dict[str, list[str]] = field(default_factory=dict)
    submitted_at: dict[str, str] = field(default_factory=dict)

    def digest(self, assignments: list[str]) -> str:
        """A content hash of what would be graded (for `--resume`)."""
        h = hashlib.sha256()
        for a in assignments:
            # no questions graded differs from questions graded and none answered
            answers = sorted((q, repr(v)) for q, v in self.answers[a].items()) if a in self.answers else None
            h.update(f"{a}\0{self.sources.get(a, '')}\0{self.problems.get(a, '')}\0{answers}\0"
                     f"{self.assignment_notes.get(a, [])}\0".encode())
        return h.hexdigest()


def student_id(name: str) -> str:
    """A file-name-safe id: `"Ana Lee"` → `"Ana_Lee"`, `"bob.zip"`'s stem `"bob"`; letters
    of any script are kept (`"Zoë Ångström"` → `"Zoë_Ångström"`, `"名前"`), in their composed
    form, so that names that differ only by accents stay two students."""
    return re.sub(r"[^\w.-]+", "_", unicodedata.normalize("NFC", name)).strip("._") or "student"


def python_text(data: bytes) -> str:
    """A `.py` file's text as Python reads it: in the encoding its coding line names
    (PEP 263, e.g. `# -*- coding: latin-1 -*-`), else UTF-8 with a byte-order mark dropped.
    Bytes that do not decode are replaced; a coding line naming no known codec falls back
    to UTF-8 (the import then reports it)."""
    return data.decode(_encoding(data), errors="replace")


def _encoding(data: bytes) -> str:
    try:
        return tokenize.detect_encoding(io.BytesIO(data).readline)[0]
    except SyntaxError:
        return "utf-8-sig"


def undecodable_note(name: str, data: bytes) -> str | None:
    """A note when `data`, the file `name`, holds bytes its encoding cannot decode (a file
    saved as cp1252): Python refuses such a file, the grader read each as "�"."""
    try:
        data.decode(_encoding(data))
    except UnicodeDecodeError as exc:
        return (f"{name} is not valid {exc.encoding} (byte {exc.start + 1} and maybe others): the grader read each byte "
                "that does not decode as \"�\", where Python itself refuses the file — save it as UTF-8")
    except LookupError:  # a coding line naming no known codec: the import reports it
        return None
    return None


def _is_stub(assignment: str, data: bytes) -> bool:
    """`data` is the code of `assignment`'s stub as released (line endings aside), the
    course's own: where nnzoo grades, the course holds the stubs it released."""
    from autograder import course

    try:
        stub = course.assignment(assignment, hidden=False).stub.read_bytes()
    except (course.UnknownAssignment, OSError):
        return False
    return python_text(data).replace("\r\n", "\n") == python_text(stub).replace("\r\n", "\n")


def to_submission(student: str, entry: str, found: EntryFiles, assignments: list[str]) -> StudentSubmission:
    """The code of each assignment in `found` (a .py beats a notebook of the same assignment,
    unless it is the stub as released: the bundle's notebook route leaves it so)."""
    sub = StudentSubmission(student, notes=list(found.notes), entry=entry)
    for a in assignments:
        stub_beside_notebook = f"{a}.ipynb" in found.files and f"{a}.py" in found.files and _is_stub(a, found.files[f"{a}.py"])
        name = f"{a}.py" if f"{a}.py" in found.files and not stub_beside_notebook else f"{a}.ipynb"
        if found.times.get(name):
            sub.submitted_at[a] = found.times[name]
        missing = not {f"{a}.py", f"{a}.ipynb"} & found.files.keys()
        unread = next((found.unread[n] for n in (f"{a}.py", f"{a}.ipynb") if n in found.unread), "")
        if missing and unread:  # found, but a link or too large: say so, not "no mlp.py"
            sub.problems[a] = unread
        elif missing and a in found.misnamed:
            meant = f"{a}.ipynb" if found.misnamed[a].lower().endswith(".ipynb") else f"{a}.py"
            sub.problems[a] = (f"no {a}.py or {a}.ipynb in the submission, but {found.misnamed[a]} — the grader reads "
                               f"those names only: rename it to {meant} and hand it in again")
        elif missing and found.empty:
            sub.problems[a] = f"the submission holds no file at all (an empty {'zip' if entry.endswith('.zip') else 'folder'})"
        elif missing and found.archives:
            sub.problems[a] = (f"no {a}.py or {a}.ipynb in the submission, but {shown_path(found.archives[0])} — a zip inside "
                               f"the submission is not opened: hand in {a}.py (or {a}.ipynb) itself, or one zip "
                               "holding it")
        if stub_beside_notebook:
            sub.notes.append(f"{a}.py is the stub as released and {a}.ipynb was handed in too: the notebook was graded")
        if f"{a}.py" in found.files and f"{a}.ipynb" not in found.files and _holds_a_notebook(found.files[f"{a}.py"]):
            found.files[f"{a}.ipynb"] = found.files.pop(f"{a}.py")  # graded as the notebook it is
            sub.notes.append(f"{a}.py holds a Jupyter notebook (its JSON), not Python: it was graded as the notebook — "
                             f"save it as {a}.ipynb next time")
        if f"{a}.py" in found.files and not stub_beside_notebook:
            sub.sources[a] = python_text(found.files[f"{a}.py"])
            if (note := undecodable_note(f"{a}.py", found.files[f"{a}.py"])) is not None:
                sub.notes.append(note)
            if f"{a}.ipynb" in found.files:
                sub.notes.append(f"{a}.py and {a}.ipynb were both handed in: {a}.py was graded, the notebook was not")
        elif f"{a}.ipynb" in found.files:
            try:
                notebook = read_notebook(found.files[f"{a}.ipynb"], f"{a}.ipynb")
                sub.sources[a] = notebook.code
                if notebook.answers:
                    sub.answers[a] = notebook.answers
                if notebook.notes:
                    sub.assignment_notes[a] = notebook.notes
            except Exception as exc:  # noqa: BLE001 — any notebook problem is this student's alone
                reason = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__} while converting it"
                sub.problems[a] = f"{a}.ipynb could not be read: {reason}"
    return sub


def _holds_a_notebook(data: bytes) -> bool:
    """`data` (a `.py` file's bytes) is a Jupyter notebook's JSON: a notebook saved under a
    `.py` name (a "Save as" that kept the format)."""
    if not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return False
    try:
        return isinstance(json.loads(data.decode("utf-8-sig")).get("cells"), list)
    except (ValueError, AttributeError):
        return False


def load_entry(entry: Path, assignments: list[str]) -> StudentSubmission:
    """One student's submission; an entry that cannot be read becomes its problem."""
    sid = student_id(entry.stem if is_zip_name(entry) and not entry.is_dir() else entry.name)
    try:
        if entry.is_symlink():
            raise EntryError("is a link; links are not followed")
        found = read_folder(entry, assignments) if entry.is_dir() else read_zip(entry, assignments)
    except Exception as exc:  # noqa: BLE001 — whatever the entry does, it costs this student only
        reason = str(exc) if isinstance(exc, EntryError) else f"could not be read ({type(exc).__name__})"
        return StudentSubmission(sid, problems={a: f"{entry.name} {reason}" for a in assignments}, entry=entry.name)
    return to_submission(sid, entry.name, found, assignments)


#: Folders that tools, not students, leave in a class folder (macOS's zip extras included).
TOOL_FOLDERS = frozenset({"__MACOSX", ".git", ".ipynb_checkpoints", ".venv", ".vscode", ".idea"})


def is_zip_name(path: Path) -> bool:
    """`path` is named as a zip (`.zip`, `.ZIP`: Windows writes either)."""
    return path.suffix.lower() == ".zip"


def _could_be_a_student(entry: Path) -> bool:
    return entry.name not in TOOL_FOLDERS and (entry.is_dir() or is_zip_name(entry) or entry.is_symlink())


def _instructors(entry: Path) -> bool:
    """A file the instructor puts beside the entries: a `<entry>.timestamp.txt`, a note."""
    return entry.name.endswith(".timestamp.txt")


def loose_files(root: Path) -> list[str]:
    """The files under `root` that are neither a student's folder nor a zip, and are not
    graded (`victor.tar.gz`, a `.py` of its own), for the instructor to hear of."""
    return [e.name for e in sorted(root.iterdir()) if not e.name.startswith(".") and not e.is_dir()
            and not _could_be_a_student(e) and not _instructors(e)]


def entries(root: Path) -> list[Path]:
    """The student entries under `root`: folders and `.zip` files (links included, to be
    reported), hidden names (`hidden_entries`) and tools' folders skipped."""
    if not root.exists():
        raise NothingToGrade(f"{root} does not exist")
    if not root.is_dir():
        raise NothingToGrade(f"{root} is not a folder of submissions (one folder or .zip per student)")
    found = [e for e in sorted(root.iterdir()) if not e.name.startswith(".") and _could_be_a_student(e)]
    if not found:
        loose = loose_files(root)
        if loose:
            raise NothingToGrade(f"{root} holds no student folder or .zip to grade, only {len(loose)} file(s) "
                                 f"({', '.join(loose[:3])}{', …' if len(loose) > 3 else ''}): nnzoo grades one folder (or "
                                 ".zip) per student — put each student's files in a folder named after them (an LMS's "
                                 "flat download too)")
        raise NothingToGrade(f"{root} holds no student folder or .zip to grade")
    return found


def hidden_entries(root: Path) -> list[str]:
    """The names of folders and zips under `root` that look like a student's but are not
    graded because their names start with a dot (`.bob/`), for the instructor to hear of."""
    return [e.name for e in sorted(root.iterdir()) if e.name.startswith(".") and _could_be_a_student(e)]


def check_ids(paths: list[Path]) -> None:
    """Refuse two entries that would share a student id (one line naming both), or ids that
    differ only in case (`dup/` and `Dup.zip`): their files in the gradebook would replace
    each other on a disk that ignores case (macOS's and Windows's by default)."""
    owner: dict[str, tuple[str, Path]] = {}
    for path in paths:
        sid = student_id(path.stem if is_zip_name(path) and not path.is_dir() else path.name)
        if sid.casefold() in owner:
            other, first = owner[sid.casefold()]
            as_what = f"student {sid!r}" if other == sid else f"students {other!r} and {sid!r}, one name on a disk " \
                "that ignores case,"
            raise IdCollision(f"{first.name!r} and {path.name!r} would both be graded as {as_what} — rename one of them")
        owner[sid.casefold()] = (sid, path)


def load_class(root: Path, assignments: list[str]) -> list[StudentSubmission]:
    """Every student under `root` (folders and zips), sorted by id."""
    paths = entries(root)
    check_ids(paths)
    return sorted((load_entry(p, assignments) for p in paths), key=lambda s: s.student)


__all__ = ["IdCollision", "NothingToGrade", "StudentSubmission", "load_class", "load_entry", "student_id"]
