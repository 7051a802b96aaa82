"""The grade files other tools read (docs/spec.md §4: `grades.csv`, `grades.json`), made from the
students' records; their shape is binding (extra fields are welcome).

A grade is the raw score (the points of the tests passed) less the late penalty of the
term (`course.term`, `nnzoo.toml`).  `grades.csv` keeps its binding header and holds the
final scores; `grades.json` adds `raw_score`, `penalty`, `late_days`, `submitted_at` and
`due` beside each `score` (the final one); `grades_detail.csv` has one row per student and
assignment with the same numbers, for a spreadsheet.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Sequence

from autograder.course.term import Lateness, Term
from autograder.judge.result import StudentRecord

DETAIL_HEADER = ("student", "assignment", "submitted", "submitted_at", "due", "days_late", "raw_score", "penalty",
                 "score", "max_score", "late")


def number(x: float) -> float | int:
    """A score as JSON/CSV shows it: an int when whole, else rounded to 4 places."""
    return int(x) if float(x).is_integer() else round(x, 4)


@dataclass(frozen=True)
class Grade:
    """One student's grade on one assignment: the raw score, the late penalty, the final score."""

    raw: float
    max_score: float
    lateness: Lateness
    submitted: bool

    @property
    def penalty(self) -> float:
        return self.lateness.penalty(self.raw)

    @property
    def final(self) -> float:
        return self.raw - self.penalty


def grade(record: StudentRecord, assignment: str, term: Term | None = None) -> Grade:
    """`record`'s grade on `assignment` under `term` (an assignment not graded scores 0)."""
    result = record.assignments.get(assignment)
    if result is None:
        return Grade(0.0, 0.0, Lateness(), False)
    lateness = (term or Term()).lateness(assignment, result.submitted_at, record.student) if result.submitted \
        else Lateness()
    return Grade(result.score, result.max_score, lateness, result.submitted)


def max_scores(records: Sequence[StudentRecord], assignments: Sequence[str]) -> dict[str, float]:
    """The maximum of each assignment (the largest seen: a grader error may record less)."""
    return {a: max((r.assignments[a].max_score for r in records if a in r.assignments), default=0.0) for a in assignments}


def score(record: StudentRecord, assignment: str, term: Term | None = None) -> float:
    """The final score (after any late penalty)."""
    return grade(record, assignment, term).final


def _iso(when: object) -> str | None:
    return when.isoformat() if when is not None else None


def _graded_json(record: StudentRecord, assignment: str, term: Term | None) -> dict:
    g = grade(record, assignment, term)
    return {**record.assignments[assignment].to_json(detail=False), "score": number(g.final), "raw_score": number(g.raw),
            "penalty": number(g.penalty), "late_days": g.lateness.days, "due": _iso(g.lateness.due),
            "late": g.lateness.reason}


def grades_json(records: Sequence[StudentRecord], assignments: Sequence[str], meta: dict | None = None,
                term: Term | None = None) -> dict:
    """`{"assignments": {a: {"max_score"}}, "students": [...]}` (docs/spec.md §4), plus `meta`
    (when, with which nnzoo, which fingerprints); scores are final, `raw_score` beside them."""
    maxima = max_scores(records, assignments)
    term = term or Term()
    data: dict = {
        "assignments": {a: {"max_score": number(maxima[a]), "due": _iso(term.deadline(a).due)} for a in assignments},
        "students": [
            {
                "student": r.student,
                "total": number(sum(score(r, a, term) for a in assignments)),
                "assignments": {a: _graded_json(r, a, term) for a in assignments if a in r.assignments},
                **({"notes": r.notes} if r.notes else {}),
            }
            for r in records
        ],
    }
    if meta:
        data = {**meta, **data}
    return data


def grades_csv(records: Sequence[StudentRecord], assignments: Sequence[str], term: Term | None = None) -> str:
    """`student,<a>,...,total`, one row per student, final scores (a missing assignment scores 0)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *assignments, "total"])
    for r in records:
        scores = [number(score(r, a, term)) for a in assignments]
        writer.writerow([r.student, *scores, number(sum(scores))])
    return buffer.getvalue()


def grades_detail_csv(records: Sequence[StudentRecord], assignments: Sequence[str], term: Term | None = None) -> str:
    """One row per student and assignment: when handed in, the due date, days late, raw
    score, penalty, final score and maximum."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(DETAIL_HEADER)
    maxima = max_scores(records, assignments)
    for r in records:
        for a in assignments:
            g = grade(r, a, term)
            result = r.assignments.get(a)
            writer.writerow([r.student, a, "yes" if g.submitted else "no", result.submitted_at if result else "",
                             _iso(g.lateness.due) or "", g.lateness.days, number(g.raw), number(g.penalty),
                             number(g.final), number(maxima[a]), g.lateness.reason])
    return buffer.getvalue()
