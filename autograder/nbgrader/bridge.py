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
from autograder.batch import (
    BatchOptions,
    check_output_folder,
    grade_class,
    grader_errors,
)
from autograder.atomic import FolderBusy, cannot_write
from autograder.batch.cluster import WorkerRefused
from autograder.batch.executors import Executor, LocalExecutor
from autograder.course.term import Deadline, Term, TermError, load_term
from autograder.export.grades import grade
from autograder.load import IdCollision, StudentSubmission, check_ids, student_id
from autograder.load.timestamps import MAX_STAMP_BYTES, STAMP, file_time, parse_stamp
from autograder.nbgrader.collect import SourceLayout, collect, unusable
from autograder.nbgrader.course import Course, CourseError, CourseNotebook
from autograder.nbgrader.gradebook import add_students, write_grades
from autograder.report.progress import grading_progress
from autograder.worker.limits import SandboxLimits


def student_folders(submitted: Path) -> list[Path]:
    """Every student's folder under `submitted/` (hidden names skipped); two that would be
    graded under one nnzoo id (`Ana Lee/` and `Ana_Lee/`) raise `IdCollision`, naming both."""
    folders = sorted(p for p in submitted.iterdir() if p.is_dir() and not p.name.startswith("."))
    check_ids(folders)
    return folders


def missing_notebook(folder: Path, assignment: str) -> str:
    """Why the collected `folder` (`<student>/<a>/`) holds no `<a>.ipynb` to grade, and what to do."""
    expected = f"{assignment}.ipynb"
    names = sorted(p.name for p in folder.iterdir() if not p.name.startswith(".") and p.name != STAMP)
    notebooks = [n for n in names if n.endswith(".ipynb")]
    if expected in names:
        return f"{assignment}/{expected} is not a file; nothing could be graded"
    if len(notebooks) == 1:
        return f"no {expected}; found {notebooks[0]} — rename it to {expected}"
    if notebooks:
        return f"no {expected}; found {', '.join(notebooks[:3])} — rename the one to grade to {expected}"
    if names:
        return f"no {expected}; found {', '.join(names[:3])} — hand in the notebook {expected}"
    return f"no {expected}; the folder {assignment}/ is empty"


def course_notebook(folder: Path, assignment: str, layout: SourceLayout) -> CourseNotebook:
    """One student's notebook of `assignment`: collected, or unusable with the reason, or
    not submitted (nbgrader collected no `<a>/` folder for this student)."""
    path = folder / assignment / f"{assignment}.ipynb"
    if path.is_file():
        return CourseNotebook(folder.name, assignment, path, collect(path.read_bytes(), layout, path.name))
    if path.parent.is_dir():
        return CourseNotebook(folder.name, assignment, path, unusable(layout, missing_notebook(path.parent, assignment)))
    return CourseNotebook(folder.name, assignment, path, unusable(layout, ""), submitted=False)


def find_notebooks(folders: list[Path], assignments: list[str], layouts: dict[str, SourceLayout]) -> list[CourseNotebook]:
    """Every student folder × assignment, none left out: what each one's notebook gives to grade."""
    return [course_notebook(folder, a, layouts[a]) for folder in folders for a in assignments]


def notebook_line(nb: CourseNotebook, score: float, max_score: float) -> str:
    """The console line of one student's notebook: the score, and why it is 0 or how many notes."""
    notes = nb.collected.notes
    if not nb.submitted:
        why = f"not submitted (no {nb.assignment}/ folder)"
    else:
        why = nb.collected.problem or (f"{len(notes)} note(s)" if notes else "")
    return f"{nb.student}/{nb.assignment}: {score:g}/{max_score:g}" + (f" — {why}" if why else "")


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
        unusable_out = check_output_folder(submitted, Path(out))
        if unusable_out:
            raise CourseError(unusable_out)
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
        folders = student_folders(submitted)
    except (CourseError, TermError, IdCollision) as exc:
        print(f"nnzoo grade: {exc}", file=sys.stderr)
        return 2

    notebooks = find_notebooks(folders, wanted, layouts)
    if students:
        notebooks = [nb for nb in notebooks if nb.student in students or student_id(nb.student) in students]
    if not any(nb.submitted for nb in notebooks):
        print(f"nnzoo grade: {submitted} holds no notebook of {', '.join(wanted)}", file=sys.stderr)
        return 2
    with executor or LocalExecutor(jobs) as run_on:
        refusal = run_on.refusal(wanted, submitted, out, course.root, allow_weak_sandbox)
        if refusal:
            print(f"nnzoo grade: {refusal}", file=sys.stderr)
            return 2
        submissions = to_submissions(notebooks)
        found = sum(nb.path.is_file() for nb in notebooks)
        missing = f"; {len(notebooks) - found} missing, listed below" if found < len(notebooks) else ""
        log(f"grading {found} notebooks of {len(submissions)} students ({', '.join(wanted)}){missing}")
        options = BatchOptions(out=out, assignments=wanted, jobs=jobs, limits=limits, resume=resume, term=term,
                               executor=run_on, questions=True)  # the course's notebooks: their questions count
        try:
            with grading_progress(len(submissions)) as on_done:
                summary = grade_class(list(submissions.values()), options, on_done=on_done)
        except WorkerRefused as exc:
            print(f"nnzoo grade: {exc.batch_stopped()}", file=sys.stderr)
            return 2
        except FolderBusy as exc:
            print(f"nnzoo grade: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            line = cannot_write(exc, out)
            if not line:
                raise
            print(f"nnzoo grade: {line}; the students graded so far are kept, and --resume grades "
                  "the rest", file=sys.stderr)
            return 2
    by_id = {r.student: r for r in summary.records}
    for nb in notebooks:
        record = by_id[student_id(nb.student)]
        if nb.submitted:
            write_grades(course, nb, record.assignments[nb.assignment], layouts[nb.assignment],
                         penalty=grade(record, nb.assignment, term).penalty,
                         visible=term.visible(nb.assignment, student=record.student))
    add_students(course, sorted({nb.student for nb in notebooks}))
    for nb in notebooks:
        result = by_id[student_id(nb.student)].assignments[nb.assignment]
        log(notebook_line(nb, result.score, result.max_score))
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
    """When a collected notebook was handed in: nbgrader's timestamp.txt beside it, else its
    mtime ("" when neither is there)."""
    stamp = notebook.parent / STAMP
    if stamp.is_file() and not stamp.is_symlink():
        with stamp.open("rb") as fh:
            when = parse_stamp(fh.read(MAX_STAMP_BYTES).decode("utf-8", "replace"))
        if when:
            return when
    return file_time(notebook.stat().st_mtime) if notebook.is_file() else ""


def to_submissions(notebooks: list[CourseNotebook]) -> dict[str, StudentSubmission]:
    """One submission per student folder: each notebook's code (or why there is none), its
    conceptual answers and its notes; an assignment not submitted has neither code nor a problem."""
    submissions: dict[str, StudentSubmission] = {}
    for nb in notebooks:
        sid = student_id(nb.student)
        sub = submissions.setdefault(sid, StudentSubmission(sid, entry=nb.student))
        sub.answers[nb.assignment] = dict(nb.collected.answers)
        if not nb.submitted:
            continue
        if nb.collected.code is not None:
            sub.sources[nb.assignment] = nb.collected.code
        else:
            sub.problems[nb.assignment] = nb.collected.problem
        sub.submitted_at[nb.assignment] = handed_in(nb.path)
        sub.assignment_notes[nb.assignment] = list(nb.collected.notes)
    return submissions
