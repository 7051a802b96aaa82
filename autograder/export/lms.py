"""Gradebook CSVs an LMS imports: Canvas and Moodle, from the gradebook's records.

nnzoo knows students by the id of their submission folder (`grades.csv`'s `student`);
the LMS knows them by its own identities.  A roster CSV maps one to the other: a column
`student` (the nnzoo id; a folder name such as "Ana Lee" is turned into the id as grading
does) and any of

    name, canvas_id, sis_user_id, sis_login_id, section     (Canvas)
    email, idnumber, username                               (Moodle)

(header case, spaces and hyphens do not matter; other columns are ignored).

Canvas (Grades → Import; the format of Canvas's own gradebook export, which its import
reads back): `Student, ID, SIS User ID, SIS Login ID, Section`, one column per assignment,
a second row `Points Possible`.  Canvas finds a student by ID (or SIS User ID, or name) and
an assignment by a column named `Name (assignment id)`; any other column name creates a
new assignment.  A blank cell changes nothing.

Moodle (Grade administration → Import → CSV file): the identity columns the roster has
(`ID number`, `Email address`, `Username`), one column per assignment.  In Moodle's import
form map "Email address" to "useremail" (or "ID number" to "useridnumber", "Username" to
"username") and each assignment column to its grade item (or a new one).

Both hold final scores (after late penalties) per assignment — no test detail, so test
visibility has nothing to hide here; a total is not written (the LMS computes its own).
Students graded but not on the roster, and on the roster but never graded, are reported.
An id that differs from a roster id only in case (`S1234` graded, `s1234` listed) is
matched to it, and said, where no other id shares that spelling.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from autograder.course.term import Term
from autograder.export.grades import max_scores, number, score
from autograder.judge.result import StudentRecord
from autograder.load import student_id

ROSTER_COLUMNS = ("student", "name", "canvas_id", "sis_user_id", "sis_login_id", "section", "email", "idnumber",
                  "username")
ALIASES = {"canvas_user_id": "canvas_id", "email_address": "email", "id_number": "idnumber", "nnzoo_id": "student"}
CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE_IDENTITY = (("idnumber", "ID number"), ("email", "Email address"), ("username", "Username"))


class RosterError(ValueError):
    """The roster cannot be used (the message names the file, the row and the fix)."""


def _column(header: str) -> str:
    key = re.sub(r"[\s\-]+", "_", header.strip().lower())
    return ALIASES.get(key, key)


def read_roster(path: Path) -> dict[str, dict[str, str]]:
    """nnzoo id → that student's LMS fields (strict: no `student` column, an empty or
    repeated id is an error)."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # spreadsheets add a byte-order mark
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"{path}: cannot be read ({type(exc).__name__}) — give a UTF-8 CSV file (a spreadsheet's "
                          "CSV UTF-8 format)") from None
    reader = csv.reader(io.StringIO(text))
    header = [_column(h) for h in next(reader, [])]
    if "student" not in header:
        raise RosterError(f"{path}: no `student` column (the nnzoo id, as in grades.csv); columns: {', '.join(header)}")
    roster: dict[str, dict[str, str]] = {}
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        fields = {k: v.strip() for k, v in zip(header, row) if k in ROSTER_COLUMNS}
        if not fields.get("student"):
            raise RosterError(f"{path} line {line}: the `student` cell is empty")
        sid = student_id(fields["student"])
        if sid in roster:
            raise RosterError(f"{path} line {line}: student {sid!r} is listed twice")
        roster[sid] = fields
    return roster


@dataclass
class LmsExport:
    """An LMS file, and who it leaves out.

    Attributes:
        text: the CSV.
        rows: students written.
        unknown: graded students the roster does not list (left out).
        missing: roster students nnzoo has no grade for (left out: grade them in the LMS).
        unidentified: roster students without the identity this LMS needs (left out).
        case_matched: graded id → the roster id it was matched to though the case differs.
    """

    text: str
    rows: int = 0
    unknown: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unidentified: list[str] = field(default_factory=list)
    case_matched: dict[str, str] = field(default_factory=dict)

    def report(self) -> list[str]:
        lines = []
        if self.case_matched:
            pairs = ", ".join(f"{graded} as {listed}" for graded, listed in sorted(self.case_matched.items()))
            lines.append(f"matched regardless of case: {pairs}")
        if self.unknown:
            lines.append(f"not on the roster, left out: {', '.join(self.unknown)} — add them to the roster")
        if self.unidentified:
            lines.append(f"on the roster without an LMS identity, left out: {', '.join(self.unidentified)}")
        if self.missing:
            lines.append(f"on the roster but never graded, left out: {', '.join(self.missing)}")
        return lines


def column_names(assignments: Sequence[str], term: Term) -> list[str]:
    """Each assignment's LMS column: `lms_column` of `nnzoo.toml`, else its title (with
    `[name]` added where two assignments share a title)."""
    from autograder.course import assignment as course_assignment

    names = {}
    for a in assignments:
        try:
            names[a] = term.lms_columns.get(a) or course_assignment(a).title
        except LookupError:
            names[a] = a
    shared = {n for n in names.values() if list(names.values()).count(n) > 1}
    return [f"{names[a]} [{a}]" if names[a] in shared and a not in term.lms_columns else names[a] for a in assignments]


def _cells(record: StudentRecord, assignments: Sequence[str], term: Term) -> list[object]:
    """Final scores; blank where nnzoo never graded the assignment (the LMS keeps its value)."""
    return [number(score(record, a, term)) if a in record.assignments else "" for a in assignments]


def _by_case(unknown: set[str], missing: set[str]) -> dict[str, str]:
    """Graded id → roster id, for ids that differ only in case (`S1234` handed in, `s1234`
    on the roster) and only where exactly one of each does."""
    def folded(ids: set[str]) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for sid in ids:
            groups.setdefault(sid.casefold(), []).append(sid)
        return groups

    graded, listed = folded(unknown), folded(missing)
    return {ids[0]: listed[key][0] for key, ids in graded.items() if len(ids) == 1 and len(listed.get(key, [])) == 1}


def _split(records: Sequence[StudentRecord], roster: dict[str, dict[str, str]], has_identity) -> tuple:
    graded = {r.student: r for r in records}
    export = LmsExport("")
    pairs = {sid: sid for sid in set(graded) & set(roster)}
    export.case_matched = _by_case(set(graded) - set(roster), set(roster) - set(graded))
    pairs.update(export.case_matched)
    export.unknown = sorted(set(graded) - set(pairs))
    export.missing = sorted(set(roster) - set(pairs.values()))
    chosen = []
    for sid in sorted(pairs):
        if has_identity(roster[pairs[sid]]):
            chosen.append((graded[sid], roster[pairs[sid]]))
        else:
            export.unidentified.append(sid)
    return export, chosen


def canvas_csv(records: Sequence[StudentRecord], assignments: Sequence[str], roster: dict[str, dict[str, str]],
               term: Term | None = None) -> LmsExport:
    """Canvas's gradebook import: identity columns, a `Points Possible` row, final scores."""
    term = term or Term()
    export, chosen = _split(records, roster, lambda f: any(f.get(k) for k in ("canvas_id", "sis_user_id", "name")))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*CANVAS_IDENTITY, *column_names(assignments, term)])
    maxima = max_scores(records, assignments)
    writer.writerow(["    Points Possible", "", "", "", "", *(number(maxima[a]) for a in assignments)])
    for record, f in chosen:
        writer.writerow([f.get("name", ""), f.get("canvas_id", ""), f.get("sis_user_id", ""),
                         f.get("sis_login_id", ""), f.get("section", ""), *_cells(record, assignments, term)])
    export.text, export.rows = buffer.getvalue(), len(chosen)
    return export


def moodle_csv(records: Sequence[StudentRecord], assignments: Sequence[str], roster: dict[str, dict[str, str]],
               term: Term | None = None) -> LmsExport:
    """Moodle's CSV grade import: the roster's identity columns, then final scores."""
    term = term or Term()
    present = [(key, title) for key, title in MOODLE_IDENTITY if any(f.get(key) for f in roster.values())]
    export, chosen = _split(records, roster, lambda f: any(f.get(k) for k, _ in MOODLE_IDENTITY))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*(title for _, title in present), *column_names(assignments, term)])
    for record, f in chosen:
        writer.writerow([*(f.get(key, "") for key, _ in present), *_cells(record, assignments, term)])
    export.text, export.rows = buffer.getvalue(), len(chosen)
    return export


EXPORTERS = {"canvas": canvas_csv, "moodle": moodle_csv}
