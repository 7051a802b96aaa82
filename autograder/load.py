"""Loading a class of submissions: one folder or `.zip` per student, holding any of
`<a>.py` or `<a>.ipynb`.  Zips are read member by member (never extracted wholesale), so
odd paths (`../x`, absolute, links) cannot write anywhere; notebooks are reduced to
their code cells.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from autograder.notebook import code_from_notebook

MAX_FILE_BYTES = 2 * 1024 * 1024


class NothingToGrade(Exception):
    """The SUBMISSIONS path does not exist or holds no student folder or zip."""


@dataclass
class StudentSubmission:
    """One student's files for each assignment, as text (a notebook already reduced to code).

    `problems` holds per-assignment messages (e.g. "mlp.ipynb is not valid JSON").
    """

    student: str
    sources: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)

    def digest(self, assignments: list[str]) -> str:
        """A content hash of what would be graded (for `--resume`)."""
        h = hashlib.sha256()
        for a in assignments:
            h.update(f"{a}\0{self.sources.get(a, '')}\0{self.problems.get(a, '')}\0".encode())
        return h.hexdigest()


def student_id(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "student"


def _accept(assignment_files: dict[str, bytes], name: str, data: bytes, assignments: list[str]) -> None:
    base = PurePosixPath(name).name
    for a in assignments:
        if base in (f"{a}.py", f"{a}.ipynb") and len(data) <= MAX_FILE_BYTES:
            # a .py beats a notebook of the same assignment; the shallowest file wins
            assignment_files.setdefault(base, data)


def _files_in_folder(folder: Path, assignments: list[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*"), key=lambda p: (len(p.parts), str(p))):
        if path.is_file() and not path.is_symlink() and path.stat().st_size <= MAX_FILE_BYTES:
            _accept(found, path.name, path.read_bytes() if path.name.endswith((".py", ".ipynb")) else b"", assignments)
    return found


def _files_in_zip(archive: Path, assignments: list[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    with zipfile.ZipFile(archive) as zf:
        members = sorted(zf.infolist(), key=lambda m: (m.filename.count("/"), m.filename))
        for member in members:
            is_link = (member.external_attr >> 16) & 0o170000 == 0o120000
            if member.is_dir() or is_link or member.file_size > MAX_FILE_BYTES:
                continue
            if PurePosixPath(member.filename).name.endswith((".py", ".ipynb")):
                _accept(found, member.filename, zf.read(member), assignments)
    return found


def _to_sources(student: str, files: dict[str, bytes], assignments: list[str]) -> StudentSubmission:
    sub = StudentSubmission(student)
    for a in assignments:
        if f"{a}.py" in files:
            sub.sources[a] = files[f"{a}.py"].decode("utf-8", errors="replace")
        elif f"{a}.ipynb" in files:
            try:
                sub.sources[a] = code_from_notebook(files[f"{a}.ipynb"])
            except ValueError as exc:
                sub.problems[a] = f"{a}.ipynb could not be read: {exc}"
    return sub


def load_class(root: Path, assignments: list[str]) -> list[StudentSubmission]:
    """Every student under `root` (folders and zips), sorted by id."""
    if not root.exists():
        raise NothingToGrade(f"{root} does not exist")
    if not root.is_dir():
        raise NothingToGrade(f"{root} is not a folder of submissions (one folder or .zip per student)")
    students: dict[str, StudentSubmission] = {}
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            files = _files_in_folder(entry, assignments)
        elif entry.suffix == ".zip":
            try:
                files = _files_in_zip(entry, assignments)
            except zipfile.BadZipFile:
                sid = student_id(entry.stem)
                students[sid] = StudentSubmission(sid, problems={a: f"{entry.name} is not a valid zip file" for a in assignments})
                continue
        else:
            continue
        sid = student_id(entry.stem if entry.suffix == ".zip" else entry.name)
        students[sid] = _to_sources(sid, files, assignments)
    if not students:
        raise NothingToGrade(f"{root} holds no student folder or .zip to grade")
    return [students[s] for s in sorted(students)]
