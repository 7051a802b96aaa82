"""Grading an nbgrader course's collected notebooks with nnzoo, and keeping the grades in
nbgrader's gradebook.

    submitted/<student>/<a>/<a>.ipynb
        → collect.py: the code (run in nnzoo's sandbox), the conceptual answers, notes
        → batch.grade_class: the hidden tests, exactly as `nnzoo grade` runs them
        → OUT/: grades.csv, grades.json, feedback/ (with the notes), overview.md
        → autograded/<student>/<a>/<a>.ipynb: the notebook with nbgrader's own sanitising
          (released read-only cells restored, missing grade cells re-added), and in every
          grade cell nnzoo's verdicts as output (the tests the student may see) and its
          points as the cell's value
        → nbgrader's own `SaveAutoGrades` reads those cells into gradebook.db; nnzoo's late
          penalty goes where nbgrader keeps its own (`late_submission_penalty`)

Due dates: `nnzoo.toml`'s, else the one nbgrader's gradebook holds for the assignment
(`nbgrader db assignment add A --duedate ...`), with `nnzoo.toml`'s late policy; hand-in
times from `submitted/<student>/<a>/timestamp.txt` (nbgrader's), else the notebook's mtime.

So formgrader shows every cell with nnzoo's reasons, `nbgrader export` exports the
scores, and a manual grade entered in formgrader still overrides the automatic one.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from autograder import course as nnzoo_course
from autograder.batch import BatchOptions, grade_class, grader_errors
from autograder.batch.cluster import WorkerRefused
from autograder.batch.executors import Executor, LocalExecutor
from autograder.course.term import Deadline, Term, TermError, load_term
from autograder.export.grades import grade
from autograder.load import StudentSubmission, student_id
from autograder.load.timestamps import MAX_STAMP_BYTES, STAMP, file_time, parse_stamp
from autograder.nbgrader.collect import SourceLayout, collect
from autograder.nbgrader.course import Course, CourseError, CourseNotebook
from autograder.nbgrader.gradebook import write_grades
from autograder.report.progress import grading_progress
from autograder.worker.limits import SandboxLimits


def find_notebooks(submitted: Path, assignments: list[str], layouts: dict[str, SourceLayout]) -> list[CourseNotebook]:
    found = []
    for folder in sorted(p for p in submitted.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for a in assignments:
            path = folder / a / f"{a}.ipynb"
            if path.is_file():
                found.append(CourseNotebook(folder.name, a, path, collect(path.read_bytes(), layouts[a], path.name)))
    return found


def grade_nbgrader_course(course_dir: Path, assignments: list[str] | None, out: Path, jobs: int = 1,
                          submitted: Path | None = None, limits: SandboxLimits = SandboxLimits(),
                          resume: bool = False, students: list[str] | None = None, log=print,
                          allow_weak_sandbox: bool = False, executor: Executor | None = None) -> int:
    """Grade `submitted/<student>/<a>/<a>.ipynb` of an nbgrader course with nnzoo and write
    the scores into its gradebook (and `autograded/`).  Returns an exit code: 0 fine,
    1 a grader error (rerun), 2 unusable input or a sandbox that would let student code
    read the course (one line on stderr).  `resume`, `students`, `allow_weak_sandbox` and
    `executor` (default: this machine, `jobs` processes) as for `nnzoo grade`.
    """
    try:
        course = Course.open(Path(course_dir))
        submitted = Path(submitted) if submitted else course.root / "submitted"
        if not submitted.is_dir():
            raise CourseError(f"{submitted} does not exist — collect the submissions first (`nbgrader collect`)")
        known = nnzoo_course.names(hidden=True)
        unknown = [a for a in (assignments or []) if a not in known]
        if unknown:
            raise CourseError(f"no hidden tests for {', '.join(unknown)} (known: {', '.join(known)})")
        wanted = nnzoo_course.in_order(set(assignments or known))
        if not assignments:
            wanted = [a for a in wanted if any((s / a / f"{a}.ipynb").is_file() for s in submitted.iterdir() if s.is_dir())]
        if not wanted:
            raise CourseError(f"{submitted} holds no <student>/<assignment>/<assignment>.ipynb to grade")
        layouts = {a: course.layout(a) for a in wanted}
        for a in wanted:
            course.check_released(a)
        term = course_term(course, wanted)
    except (CourseError, TermError) as exc:
        print(f"nnzoo grade: {exc}", file=sys.stderr)
        return 2

    notebooks = find_notebooks(submitted, wanted, layouts)
    if students:
        notebooks = [nb for nb in notebooks if nb.student in students or student_id(nb.student) in students]
    if not notebooks:
        print(f"nnzoo grade: {submitted} holds no notebook of {', '.join(wanted)}", file=sys.stderr)
        return 2
    with executor or LocalExecutor(jobs) as run_on:
        refusal = run_on.refusal(wanted, submitted, out, course.root, allow_weak_sandbox)
        if refusal:
            print(f"nnzoo grade: {refusal}", file=sys.stderr)
            return 2
        submissions = to_submissions(notebooks)
        log(f"grading {len(notebooks)} notebooks of {len(submissions)} students ({', '.join(wanted)})")
        options = BatchOptions(out=out, assignments=wanted, jobs=jobs, limits=limits, resume=resume, term=term,
                               executor=run_on)
        try:
            with grading_progress(len(submissions)) as on_done:
                summary = grade_class(list(submissions.values()), options, on_done=on_done)
        except WorkerRefused as exc:
            print(f"nnzoo grade: {exc.batch_stopped()}", file=sys.stderr)
            return 2
    by_id = {r.student: r for r in summary.records}
    for nb in notebooks:
        record = by_id[student_id(nb.student)]
        write_grades(course, nb, record.assignments[nb.assignment], layouts[nb.assignment],
                     penalty=grade(record, nb.assignment, term).penalty,
                     visible=term.visible(nb.assignment, student=record.student))
    for nb in notebooks:
        result = by_id[student_id(nb.student)].assignments[nb.assignment]
        notes = f" — {len(nb.collected.notes)} note(s)" if nb.collected.notes else ""
        log(f"{nb.student}/{nb.assignment}: {result.score:g}/{result.max_score:g}{notes}")
    log(f"{summary.describe()} (student × assignment)")
    log(f"wrote {out / 'grades.csv'}, {out / 'feedback'}/ and the scores into {course.db_url}")
    errors = grader_errors(by_id[student_id(nb.student)] for nb in notebooks)
    if errors:
        print(f"grader error — rerun with --resume after fixing the grader: {', '.join(errors)}", file=sys.stderr)
        return 1
    return 0


def course_term(course: Course, assignments: list[str]) -> Term:
    """`nnzoo.toml`'s term, with nbgrader's due date for each assignment it gives none."""
    term = load_term()
    deadlines = dict(term.deadlines)
    for a in assignments:
        if term.deadline(a).due is None:
            due = course.duedate(a)
            if due is not None:
                deadlines[a] = Deadline(due, None, term.deadline(a).policy)
    return replace(term, deadlines=deadlines)


def handed_in(notebook: Path) -> str:
    """When a collected notebook was handed in: nbgrader's timestamp.txt beside it, else its mtime."""
    stamp = notebook.parent / STAMP
    if stamp.is_file() and not stamp.is_symlink():
        with stamp.open("rb") as fh:
            when = parse_stamp(fh.read(MAX_STAMP_BYTES).decode("utf-8", "replace"))
        if when:
            return when
    return file_time(notebook.stat().st_mtime)


def to_submissions(notebooks: list[CourseNotebook]) -> dict[str, StudentSubmission]:
    """One submission per student: each notebook's code (or why there is none), its
    conceptual answers and its notes."""
    submissions: dict[str, StudentSubmission] = {}
    for nb in notebooks:
        sid = student_id(nb.student)
        sub = submissions.setdefault(sid, StudentSubmission(sid, entry=nb.student))
        if nb.collected.code is not None:
            sub.sources[nb.assignment] = nb.collected.code
        else:
            sub.problems[nb.assignment] = nb.collected.problem
        sub.answers[nb.assignment] = dict(nb.collected.answers)
        sub.submitted_at[nb.assignment] = handed_in(nb.path)
        sub.assignment_notes[nb.assignment] = list(nb.collected.notes)
    return submissions
