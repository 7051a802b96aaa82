"""The grade files other tools read (docs/spec.md §4: `grades.csv`, `grades.json`), made from the
students' records; their shape is binding (extra fields are welcome)."""

from __future__ import annotations

import csv
import io
from typing import Sequence

from autograder.judge.result import StudentRecord


def number(x: float) -> float | int:
    """A score as JSON/CSV shows it: an int when whole, else rounded to 4 places."""
    return int(x) if float(x).is_integer() else round(x, 4)


def max_scores(records: Sequence[StudentRecord], assignments: Sequence[str]) -> dict[str, float]:
    """The maximum of each assignment (the largest seen: a grader error may record less)."""
    return {a: max((r.assignments[a].max_score for r in records if a in r.assignments), default=0.0) for a in assignments}


def score(record: StudentRecord, assignment: str) -> float:
    result = record.assignments.get(assignment)
    return result.score if result is not None else 0.0


def grades_json(records: Sequence[StudentRecord], assignments: Sequence[str], meta: dict | None = None) -> dict:
    """`{"assignments": {a: {"max_score"}}, "students": [...]}` (docs/spec.md §4), plus `meta`
    (when, with which nnzoo, which fingerprints)."""
    maxima = max_scores(records, assignments)
    data: dict = {
        "assignments": {a: {"max_score": number(maxima[a])} for a in assignments},
        "students": [
            {
                "student": r.student,
                "total": number(sum(score(r, a) for a in assignments)),
                "assignments": {a: r.assignments[a].to_json() for a in assignments if a in r.assignments},
                **({"notes": r.notes} if r.notes else {}),
            }
            for r in records
        ],
    }
    if meta:
        data = {**meta, **data}
    return data


def grades_csv(records: Sequence[StudentRecord], assignments: Sequence[str]) -> str:
    """`student,<a>,...,total`, one row per student (a missing assignment scores 0)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *assignments, "total"])
    for r in records:
        scores = [number(score(r, a)) for a in assignments]
        writer.writerow([r.student, *scores, number(sum(scores))])
    return buffer.getvalue()
