"""Grading a whole class: one student at a time (or N in parallel), each finished student
recorded atomically at once, so an interrupted batch resumes without losing or
duplicating a grade.  The output folder *is* the gradebook:

    students/<id>.json   one `StudentRecord` per student: every assignment ever graded for
                         them, each with the fingerprint of the grader that graded it
    feedback/<id>.md     what the student reads
    grades.csv, grades.json, overview.md   rewritten from the records after every student —
                         in a class so large that rewriting them takes a while, as often as
                         keeps them under a tenth of the batch's time (`REPORT_SHARE`), and
                         always at the end

Grading some assignments updates those and keeps the others.  `--resume` keeps a student's
assignment only when the same code was graded by the same grader (fingerprint) without a
grader error; everything else is regraded, and `BatchSummary` says why.

Nothing one student hands in can stop the class: any exception while grading or reporting
one student is recorded for that student (as a grader error when the grader is at fault)
and the batch goes on.
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from autograder import __version__
from autograder.atomic import write_atomic
from autograder.batch.executors import Executor, LocalExecutor
from autograder.batch.fingerprint import fingerprint
from autograder.course import assignment as course_assignment
from autograder.course import in_order
from autograder.export.grades import grades_csv, grades_json
from autograder.judge.result import (
    ERROR,
    FAILED,
    PASSED,
    AssignmentResult,
    StudentRecord,
    TestResult,
)
from autograder.load import StudentSubmission
from autograder.report.feedback import feedback_markdown
from autograder.report.overview import overview_markdown
from autograder.worker.limits import SandboxLimits

#: At most this share of a batch's time goes to rewriting the class-level files: with
#: 10,000 students one rewrite takes seconds, and after every student it would grow the
#: batch quadratically.  A small class still gets them after every student.
REPORT_SHARE = 0.1


@dataclass(frozen=True)
class BatchOptions:
    """How to grade a class.

    Attributes:
        out: the output folder (the gradebook).
        assignments: the assignments to grade now (others already in the records stay).
        jobs: students graded in parallel (each job a judge process of its own).
        resume: keep what is already graded, unless stale or errored.
        limits: the sandbox limits.
        executor: where students are graded (`batch.executors`); default this machine,
            `jobs` processes.
    """

    out: Path
    assignments: list[str]
    jobs: int = 1
    resume: bool = False
    limits: SandboxLimits = SandboxLimits()
    executor: Executor | None = None


@dataclass
class BatchSummary:
    """What a batch did: the records (all students, sorted), and per student×assignment
    whether it was kept or regraded and why."""

    records: list[StudentRecord] = field(default_factory=list)
    kept: int = 0
    regraded: dict[str, int] = field(default_factory=dict)  # reason -> count

    def describe(self) -> str:
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(self.regraded.items()))
        graded = sum(self.regraded.values())
        return f"kept {self.kept}, graded {graded}" + (f" ({reasons})" if reasons else "")


# -- one student ------------------------------------------------------------------------------

def grader_failure(assignment: str, exc: BaseException) -> AssignmentResult:
    """The result of an assignment the grader itself could not evaluate (its max score kept)."""
    try:
        maximum = course_assignment(assignment).max_score
    except Exception:  # noqa: BLE001 — the failure being recorded may be this very lookup
        maximum = 0.0
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
    message = (f"the grader could not evaluate this assignment ({type(exc).__name__}{at}: {str(exc)[:300]}); "
               "please report it — regrade with --resume once fixed")
    return AssignmentResult(tests=[TestResult("grading", "", 0.0, maximum, ERROR, message, "grader")])


def grade_assignment(sub: StudentSubmission, assignment: str, limits: SandboxLimits, print_: str) -> AssignmentResult:
    """One student's grade on one assignment; never raises."""
    from autograder.judge.run import grade_source

    source, problem = sub.sources.get(assignment), sub.problems.get(assignment, "")
    try:
        result = grade_source(source, assignment, limits, problem=problem, fingerprint=print_)
        if assignment in sub.answers:
            result.tests += question_results(assignment, sub.answers[assignment])
    except Exception as exc:  # noqa: BLE001 — one student's grading never stops the class
        result = grader_failure(assignment, exc)
    return stamped(result, sub, assignment, print_)


def stamped(result: AssignmentResult, sub: StudentSubmission, assignment: str, print_: str) -> AssignmentResult:
    """`result` with what `--resume` compares: the grader's fingerprint, the code's digest."""
    submitted = assignment in sub.sources or bool(sub.problems.get(assignment))
    return replace(result, fingerprint=print_, digest=sub.digest([assignment]), submitted=submitted,
                   notes=list(sub.assignment_notes.get(assignment, [])))


def unfinished_record(sub: StudentSubmission, assignments: list[str], prints: dict[str, str],
                      exc: BaseException) -> StudentRecord:
    """The record of a student whose grading never came back (e.g. the judge process died
    each time it was tried): a grader error per assignment, regraded by `--resume`."""
    record = StudentRecord(sub.student, notes=list(sub.notes))
    for a in assignments:
        record.assignments[a] = stamped(grader_failure(a, exc), sub, a, prints[a])
    return record


def question_results(assignment: str, answers: dict[str, object]) -> list[TestResult]:
    """One result per conceptual question (1 point each), against the course's answer key."""
    key = course_assignment(assignment).answer_key
    results = []
    for q, given in answers.items():
        right = given is not None and str(given).strip().lower() == key.get(q)
        message = "" if right else ("no answer given" if given is None else "not the expected answer")
        results.append(TestResult(f"question_{q}", "conceptual question", 1.0 if right else 0.0, 1.0,
                                  PASSED if right else FAILED, message, "" if right else "check", f"question {q}",
                                  kind="question"))
    return results


def grade_student(sub: StudentSubmission, assignments: list[str], limits: SandboxLimits,
                  prints: dict[str, str] | None = None) -> StudentRecord:
    """Grade `assignments` of one student: a record of those assignments only."""
    prints = prints or {a: fingerprint(a) for a in assignments}
    record = StudentRecord(sub.student, notes=list(sub.notes))
    for a in assignments:
        record.assignments[a] = grade_assignment(sub, a, limits, prints[a])
    return record


# -- records ----------------------------------------------------------------------------------

def record_path(out: Path, student: str) -> Path:
    return out / "students" / f"{student}.json"


def load_record(out: Path, student: str) -> StudentRecord | None:
    try:
        return StudentRecord.from_json(json.loads(record_path(out, student).read_text()))
    except (FileNotFoundError, json.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def load_records(out: Path) -> dict[str, StudentRecord]:
    found = {}
    for path in sorted((out / "students").glob("*.json")):
        record = load_record(out, path.stem)
        if record is not None:
            found[record.student] = record
    return found


def stale_reason(old: StudentRecord | None, sub: StudentSubmission, assignment: str, print_: str) -> str:
    """Why `assignment` of `sub` must be (re)graded, or "" when `old` still holds."""
    if old is None or assignment not in old.assignments:
        return "new"
    result = old.assignments[assignment]
    if result.digest != sub.digest([assignment]):
        return "changed code"
    if result.fingerprint != print_:
        return "grader changed"
    if result.errors:
        return "grader error before"
    return ""


def merged(old: StudentRecord | None, new: StudentRecord) -> StudentRecord:
    """`new`'s assignments over `old`'s: grading some assignments keeps the others."""
    if old is None:
        return new
    assignments = {**old.assignments, **new.assignments}
    return StudentRecord(new.student, assignments, new.notes)


def write_class_reports(out: Path, records: list[StudentRecord], meta: dict) -> None:
    """Rewrite every class-level file from the records."""
    assignments = in_order({a for r in records for a in r.assignments})
    write_atomic(out / "grades.json", json.dumps(grades_json(records, assignments, meta), indent=2) + "\n")
    write_atomic(out / "grades.csv", grades_csv(records, assignments))
    write_atomic(out / "overview.md", overview_markdown(records, assignments))


def write_student(out: Path, record: StudentRecord) -> None:
    """The record and the feedback of one student; a report that fails becomes a note."""
    write_atomic(record_path(out, record.student), json.dumps(record.to_json(), indent=1) + "\n")
    try:
        text = feedback_markdown(record, in_order(set(record.assignments)))
    except Exception as exc:  # noqa: BLE001 — the record is safe; say why the feedback is not
        text = f"# Feedback for {record.student}\n\nThe feedback could not be written ({type(exc).__name__}); " \
               "your grades are recorded — ask your instructor.\n"
    write_atomic(out / "feedback" / f"{record.student}.md", text)


# -- the class --------------------------------------------------------------------------------

def grade_class(submissions: list[StudentSubmission], options: BatchOptions,
                on_done: Callable[[StudentRecord], None] = lambda record: None) -> BatchSummary:
    """Grade every submission (with `resume`, keep what still holds); write the gradebook."""
    out = options.out
    (out / "students").mkdir(parents=True, exist_ok=True)
    prints = {a: fingerprint(a) for a in options.assignments}
    records = load_records(out)
    summary = BatchSummary()
    todo: list[tuple[StudentSubmission, list[str]]] = []
    for sub in submissions:
        old = records.get(sub.student)
        stale = {a: stale_reason(old, sub, a, prints[a]) if options.resume else "graded anew" for a in options.assignments}
        due = [a for a in options.assignments if stale[a]]
        summary.kept += len(options.assignments) - len(due)
        for a in due:
            summary.regraded[stale[a]] = summary.regraded.get(stale[a], 0) + 1
        if due:
            todo.append((sub, due))
        else:
            on_done(old)
    meta = {"generated": datetime.now(timezone.utc).isoformat(timespec="seconds"), "nnzoo": __version__,
            "fingerprints": prints}

    executor = options.executor or LocalExecutor(options.jobs)
    last_written, last_cost, stale = 0.0, 0.0, True
    for record in executor.run(todo, options.limits, prints):
        record = merged(records.get(record.student), record)
        records[record.student] = record
        write_student(out, record)
        stale = True
        started = time.monotonic()
        if (started - last_written) * REPORT_SHARE >= last_cost:
            write_class_reports(out, [records[s] for s in sorted(records)], meta)
            last_written, stale = time.monotonic(), False
            last_cost = last_written - started
        on_done(record)
    if stale:
        write_class_reports(out, [records[s] for s in sorted(records)], meta)
    summary.records = [records[s] for s in sorted(records)]
    return summary


def grader_errors(records: Iterable[StudentRecord]) -> list[str]:
    """Students with a test the grader itself could not evaluate (rerun them)."""
    return sorted(r.student for r in records if any(res.errors for res in r.assignments.values()))
