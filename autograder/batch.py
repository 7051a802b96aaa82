"""Grading a whole class: one student at a time (or N in parallel), each finished student
recorded atomically at once, so an interrupted batch resumes without losing or
duplicating a grade.

Layout of the output folder:
    students/<id>.json   one record per graded student (with the hash of what was graded)
    feedback/<id>.md     what the student reads
    grades.csv, grades.json, overview.md   rewritten from the records after every student
"""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from autograder.judge.run import grade_source
from autograder.load import StudentSubmission
from autograder.report.gradebook import feedback_markdown, write_atomic, write_reports
from autograder.sandbox.limits import SandboxLimits


@dataclass(frozen=True)
class BatchOptions:
    out: Path
    assignments: list[str]
    jobs: int = 1
    resume: bool = False
    limits: SandboxLimits = SandboxLimits()


def grade_student(sub: StudentSubmission, assignments: list[str], limits: SandboxLimits) -> dict:
    """Grade every assignment of one student; the record stored and reported."""
    record = {"student": sub.student, "digest": sub.digest(assignments), "assignments": {}}
    for a in assignments:
        result = grade_source(sub.sources.get(a), a, limits, problem=sub.problems.get(a, ""))
        record["assignments"][a] = result
    return record


def _record_path(out: Path, student: str) -> Path:
    return out / "students" / f"{student}.json"


def load_record(out: Path, student: str) -> dict | None:
    path = _record_path(out, student)
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def grade_class(
    submissions: list[StudentSubmission],
    options: BatchOptions,
    on_done: Callable[[dict], None] = lambda record: None,
) -> list[dict]:
    """Grade every submission not already recorded (with `resume`, unchanged ones are kept)."""
    out = options.out
    (out / "students").mkdir(parents=True, exist_ok=True)
    records: dict[str, dict] = {}
    todo: list[StudentSubmission] = []
    for sub in submissions:
        old = load_record(out, sub.student) if options.resume else None
        if old is not None and old.get("digest") == sub.digest(options.assignments):
            records[sub.student] = old
            on_done(old)
        else:
            todo.append(sub)

    def finish(record: dict) -> None:
        write_atomic(_record_path(out, record["student"]), json.dumps(record, indent=1) + "\n")
        write_atomic(out / "feedback" / f"{record['student']}.md", feedback_markdown(record, options.assignments))
        records[record["student"]] = record
        write_reports(out, [records[s] for s in sorted(records)], options.assignments)
        on_done(record)

    for record in _run(todo, options):
        finish(record)
    if not todo:
        write_reports(out, [records[s] for s in sorted(records)], options.assignments)
    return [records[s] for s in sorted(records)]


def _run(todo: list[StudentSubmission], options: BatchOptions) -> Iterable[dict]:
    if options.jobs <= 1:
        for sub in todo:
            yield grade_student(sub, options.assignments, options.limits)
        return
    # each judge process claims its own worker uid (see sandbox.client.claim_worker_uid)
    with ProcessPoolExecutor(options.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(grade_student, sub, options.assignments, options.limits) for sub in todo]
        for future in as_completed(futures):
            yield future.result()


def grader_errors(records: list[dict]) -> list[str]:
    """Students with a test the grader itself could not evaluate (rerun them)."""
    return sorted(
        r["student"]
        for r in records
        if any(t["status"] == "error" for a in r["assignments"].values() for t in a["tests"])
    )
