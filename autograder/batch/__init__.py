"""Grading a whole class: one student at a time (or N in parallel), each finished student
recorded atomically at once, so an interrupted batch resumes without losing or
duplicating a grade.  The output folder *is* the gradebook:

    students/<id>.json   one `StudentRecord` per student: every assignment ever graded for
                         them, each with the fingerprint of the grader that graded it
    feedback/<id>.md, feedback/<id>.html   what the student reads (the page with pictures)
    grades.csv, grades.json, grades_detail.csv, overview.md
                         rewritten from the records as the batch goes, with the late
                         penalties of the term (`nnzoo.toml`, `course.term`) as it is now: after
                         every student, or in a class so large that a rewrite takes a while, as
                         often as keeps them within 1/`REPORT_SPACING` of the batch; always at the end
    overview.html        the class at a glance: likewise, within 1/`OVERVIEW_SPACING` of the
                         batch (it draws a histogram per assignment)

Grading some assignments updates those and keeps the others.  `--resume` keeps a student's
assignment only when the same code was graded by the same grader (fingerprint) without a
grader error; everything else is regraded, and `BatchSummary` says why.

Nothing one student hands in can stop the class: any exception while grading or reporting
one student is recorded for that student (as a grader error when the grader is at fault)
and the batch goes on.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from autograder import __version__
from autograder.atomic import sole_writer, write_atomic
from autograder.batch.executors import Executor, LocalExecutor
from autograder.batch.fingerprint import fingerprint
from autograder.course import assignment as course_assignment
from autograder.course import chosen
from autograder.course import in_order
from autograder.course.term import Term, load_term
from autograder.export.grades import grades_csv, grades_detail_csv, grades_json
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
from autograder.report.html import feedback_html, overview_html
from autograder.report.overview import overview_markdown
from autograder.worker.limits import SandboxLimits

@dataclass(frozen=True)
class BatchOptions:
    """How to grade a class.

    Attributes:
        out: the output folder (the gradebook).
        assignments: the assignments to grade now (others already in the records stay).
        jobs: students graded in parallel (each job a judge process of its own).
        resume: keep what is already graded, unless stale or errored.
        limits: the sandbox limits.
        term: due dates and late policy (None: the course's `nnzoo.toml`, if any).
        executor: where students are graded (`batch.executors`); default this machine,
            `jobs` processes.
        questions: whether the conceptual questions count (None: as `term` says for each
            assignment; the nbgrader route: True).
    """

    out: Path
    assignments: list[str]
    jobs: int = 1
    resume: bool = False
    limits: SandboxLimits = SandboxLimits()
    term: Term | None = None
    executor: Executor | None = None
    questions: bool | None = None


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
    start = time.perf_counter()
    try:
        result = grade_source(source, assignment, limits, problem=problem, fingerprint=print_)
        if assignment in sub.answers:
            result.tests += question_results(assignment, sub.answers[assignment])
    except Exception as exc:  # noqa: BLE001 — one student's grading never stops the class
        result = grader_failure(assignment, exc)
    return stamped(result, sub, assignment, print_, seconds=time.perf_counter() - start)


def stamped(result: AssignmentResult, sub: StudentSubmission, assignment: str, print_: str,
            seconds: float = 0.0) -> AssignmentResult:
    """`result` with what `--resume` compares (the grader's fingerprint, the code's digest)
    and what the reports show (hand-in time, notes, grading time)."""
    submitted = assignment in sub.sources or bool(sub.problems.get(assignment))
    return replace(result, fingerprint=print_, digest=sub.digest([assignment]), submitted=submitted,
                   notes=list(sub.assignment_notes.get(assignment, [])), seconds=seconds,
                   submitted_at=sub.submitted_at.get(assignment, ""))


def unfinished_record(sub: StudentSubmission, assignments: list[str], prints: dict[str, str],
                      exc: BaseException) -> StudentRecord:
    """The record of a student whose grading never came back (e.g. the judge process died
    each time it was tried): a grader error per assignment, regraded by `--resume`."""
    record = StudentRecord(sub.student, notes=list(sub.notes))
    for a in assignments:
        record.assignments[a] = stamped(grader_failure(a, exc), sub, a, prints[a])
    return record


def question_results(assignment: str, answers: dict[str, object]) -> list[TestResult]:
    """One result per conceptual question of the course's answer key (1 point each), the
    student's answer to it looked up in `answers`.  The questions are the course's, never
    the notebook's: ids a student's notebook invents score nothing and add no points to
    what the assignment is worth (for them or, through the class's maximum, anyone)."""
    results = []
    for q, expected in course_assignment(assignment).answer_key.items():
        given = answers.get(q)
        right = given is not None and chosen(given) == chosen(expected)
        message = "" if right else ("no answer given" if given is None else "not the expected answer")
        results.append(TestResult(f"question_{q}", "conceptual question", 1.0 if right else 0.0, 1.0,
                                  PASSED if right else FAILED, message, "" if right else "check", f"question {q}",
                                  kind="question"))
    return results


def with_counted_questions(sub: StudentSubmission, counted: dict[str, bool]) -> StudentSubmission:
    """`sub` with answers exactly where the questions count (`counted`: assignment → whether):
    there every student gets them (no answers: each "no answer given"), so what an
    assignment is worth is the same for the whole class; elsewhere a notebook's answers are
    left out, with a note to the student — one student's notebook never adds points."""
    answers, notes = dict(sub.answers), {a: list(n) for a, n in sub.assignment_notes.items()}
    for a, count in counted.items():
        if count:
            answers.setdefault(a, {})
        elif answers.pop(a, None):
            notes.setdefault(a, []).append("your answers to the conceptual questions were not graded: in this course "
                                           "the code is graded (the questions count where the course says so)")
    return replace(sub, answers=answers, assignment_notes=notes)


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


def is_gradebook(folder: Path) -> bool:
    """`folder` is one `nnzoo grade` wrote (its records' folder is there)."""
    return (folder / "students").is_dir()


def check_output_folder(root: Path, out: Path) -> str:
    """Why `out` cannot hold the gradebook of the class in `root` (one line), or ""."""
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file — give a folder for the grades"
    blocked = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        return f"--out {out} cannot be made: {blocked} is a file — give a folder for the grades"
    r, o = root.resolve(), out.resolve()
    if o == r or r in o.parents:
        return f"--out {out} is inside the submissions folder {root} — it would be graded as a student; put it elsewhere"
    if out.is_dir() and not is_gradebook(out):
        theirs = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))  # .DS_Store is no one's grades
        if theirs:
            return (f"--out {out} holds files nnzoo did not write ({', '.join(theirs[:3])}{' …' * (len(theirs) > 3)}) "
                    "— give a new or empty folder, or one nnzoo graded into before")
    return ""


def load_record(out: Path, student: str) -> StudentRecord | None:
    try:
        return StudentRecord.from_json(json.loads(record_path(out, student).read_text()))
    except (FileNotFoundError, json.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def load_records(out: Path) -> dict[str, StudentRecord]:
    """Every student's record in the gradebook `out`.  A record that cannot be read (edited
    by hand, a damaged disk) is left out, and said on stderr: it is not silently dropped
    from the grade files written next."""
    found = {}
    for path in sorted((out / "students").glob("*.json")):
        record = load_record(out, path.stem)
        if record is None:
            print(f"nnzoo: {path} cannot be read (not a record nnzoo wrote) — left out; grade that student "
                  "again to write it anew", file=sys.stderr)
        else:
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
    return StudentRecord(new.student, {a: assignments[a] for a in in_order(set(assignments))}, new.notes)


#: The grade files are rewritten during a batch at most once per this many times their last
#: writing time: with 10,000 students one rewrite takes seconds, and after every student it
#: would make the batch quadratic.  A small class still gets them after every student.
REPORT_SPACING = 10
#: overview.html is redrawn during a batch at most once per this many times its drawing time.
OVERVIEW_SPACING = 50


class ClassReports:
    """The class-level files of one batch, paced: grades.json, grades.csv, grades_detail.csv and
    overview.md once `REPORT_SPACING` times their last writing time has passed since, and
    overview.html once `OVERVIEW_SPACING` times its drawing time has; both always at the end
    (`final`).  Their cost stays within a small share of the batch whatever the class size."""

    def __init__(self, out: Path, meta: dict, term: Term | None = None) -> None:
        self.out, self.meta, self.term = out, meta, term
        self.next_files = 0.0  # time.monotonic() from which the grade files may be rewritten
        self.next_page = 0.0  # ... and overview.html redrawn

    def write(self, records: list[StudentRecord], *, final: bool = False) -> None:
        assignments = in_order({a for r in records for a in r.assignments})
        if final or time.monotonic() >= self.next_files:
            start = time.monotonic()
            self.write_grade_files(records, assignments)
            self.next_files = time.monotonic() + REPORT_SPACING * (time.monotonic() - start)
        if final or time.monotonic() >= self.next_page:
            start = time.monotonic()
            try:
                page = overview_html(records, assignments, generated=self.meta.get("generated", ""))
            except Exception as exc:  # noqa: BLE001 — the grade files are written; say why this is not
                page = _unwritten("Class overview", exc, "the grade files are written — see overview.md")
            write_atomic(self.out / "overview.html", page)
            self.next_page = time.monotonic() + OVERVIEW_SPACING * (time.monotonic() - start)

    def write_grade_files(self, records: list[StudentRecord], assignments: list[str]) -> None:
        term = self.term
        write_atomic(self.out / "grades.json", json.dumps(grades_json(records, assignments, self.meta, term), indent=2) + "\n")
        write_atomic(self.out / "grades.csv", grades_csv(records, assignments, term))
        write_atomic(self.out / "grades_detail.csv", grades_detail_csv(records, assignments, term))
        write_atomic(self.out / "overview.md", overview_markdown(records, assignments))


def _unwritten(title: str, exc: BaseException, what_instead: str) -> str:
    """A page that says why it is not the report it should be."""
    from html import escape

    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title></head>"
            f"<body><h1>{escape(title)}</h1><p>This page could not be written ({escape(type(exc).__name__)}); "
            f"{escape(what_instead)}.</p></body></html>\n")


def write_student(out: Path, record: StudentRecord, term: Term | None = None) -> None:
    """The feedback, then the record of one student; a report that fails becomes a note.

    In this order, a batch killed in between leaves no record, so `--resume` grades the
    student again and writes their feedback: a recorded student always has it.  The
    caller writes the class files right after the record (grades.json agrees with the
    records but for that instant), and the pages' drawing happens before both.
    """
    assignments = in_order(set(record.assignments))
    try:
        text = feedback_markdown(record, assignments, term=term)
    except Exception as exc:  # noqa: BLE001 — the record is safe; say why the feedback is not
        text = f"# Feedback for {record.student}\n\nThe feedback could not be written ({type(exc).__name__}); " \
               "your grades are recorded — ask your instructor.\n"
    write_atomic(out / "feedback" / f"{record.student}.md", text)
    try:
        page = feedback_html(record, assignments, term=term)
    except Exception as exc:  # noqa: BLE001 — as above
        page = _unwritten(f"Feedback for {record.student}", exc, "your grades are recorded — ask your instructor")
    write_atomic(out / "feedback" / f"{record.student}.html", page)
    write_atomic(record_path(out, record.student), json.dumps(record.to_json(), indent=1) + "\n")


def feedback_is_stale(out: Path, record: StudentRecord, term: Term) -> bool:
    """Whether the feedback written for a record kept by `--resume` says something else now:
    a late policy, an extension or a due date changed its final score or what it shows
    (grades.csv had the new score, the feedback page the old, until 2026-12-04)."""
    try:
        written = (out / "feedback" / f"{record.student}.md").read_text(encoding="utf-8")
        return written != feedback_markdown(record, in_order(set(record.assignments)), term=term)
    except Exception:  # noqa: BLE001 — unreadable, or the feedback cannot be made: write_student says why
        return True


# -- the class --------------------------------------------------------------------------------

def refresh_times(old: StudentRecord | None, sub: StudentSubmission, kept: list[str]) -> bool:
    """Record the hand-in time of the assignments kept from `old` (the same code may have
    been handed in again, later); whether any changed."""
    changed = False
    for a in kept if old is not None else []:
        when = sub.submitted_at.get(a, "")
        if a in old.assignments and old.assignments[a].submitted_at != when:
            old.assignments[a].submitted_at = when
            changed = True
    return changed


def grade_class(submissions: list[StudentSubmission], options: BatchOptions,
                on_done: Callable[[StudentRecord], None] = lambda record: None) -> BatchSummary:
    """Grade every submission (with `resume`, keep what still holds); write the gradebook.
    A student's record is written, and `on_done` called with it, once all of it is back
    (an executor may return it in parts: `executors.judge_queue`).

    One batch at a time writes into `options.out`: raises `atomic.FolderBusy` while another
    holds it (two batches would each overwrite the other's records)."""
    with sole_writer(options.out):
        return _grade_class(submissions, options, on_done)


def _grade_class(submissions: list[StudentSubmission], options: BatchOptions,
                 on_done: Callable[[StudentRecord], None]) -> BatchSummary:
    out = options.out
    term = options.term if options.term is not None else load_term()
    (out / "students").mkdir(parents=True, exist_ok=True)
    prints = {a: fingerprint(a) for a in options.assignments}
    counted = {a: options.questions if options.questions is not None else a in term.questions for a in options.assignments}
    submissions = [with_counted_questions(sub, counted) for sub in submissions]
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
        retimed = refresh_times(old, sub, [a for a in options.assignments if not stale[a]])
        if due:
            todo.append((sub, due))
        else:
            if retimed or feedback_is_stale(out, old, term):
                write_student(out, old, term)
            on_done(old)
    meta = {"generated": datetime.now(timezone.utc).isoformat(timespec="seconds"), "nnzoo": __version__,
            "fingerprints": prints}

    reports = ClassReports(out, meta, term)
    executor = options.executor or LocalExecutor(options.jobs)
    awaited = {sub.student: set(due) for sub, due in todo}
    parts: dict[str, StudentRecord] = {}  # a record that comes in parts: what came so far
    try:
        for record in executor.run(todo, options.limits, prints):
            record = merged(parts.pop(record.student, None), record)
            awaited[record.student] = awaited.get(record.student, set()) - set(record.assignments)
            if awaited[record.student]:  # written once whole (a kill before then regrades the parts)
                parts[record.student] = record
                continue
            record = merged(records.get(record.student), record)
            records[record.student] = record
            write_student(out, record, term)
            reports.write([records[s] for s in sorted(records)])
            on_done(record)
    finally:  # also on Ctrl-C: the class files (paced) catch up with the records written
        reports.write([records[s] for s in sorted(records)], final=True)
    summary.records = [records[s] for s in sorted(records)]
    return summary


def grader_errors(records: Iterable[StudentRecord]) -> list[str]:
    """Students with a test the grader itself could not evaluate (rerun them)."""
    return sorted(r.student for r in records if any(res.errors for res in r.assignments.values()))
