"""Grading an nbgrader course's collected notebooks with nnzoo, and keeping the grades in
nbgrader's gradebook.

    submitted/<student>/<a>/<a>.ipynb
        → collect.py: the code (run in nnzoo's sandbox), the conceptual answers, notes
        → batch.grade_class: the hidden tests, exactly as `nnzoo grade` runs them
        → OUT/: grades.csv, grades.json, feedback/ (with the notes), overview.md
        → autograded/<student>/<a>/<a>.ipynb: the notebook with nbgrader's own sanitising
          (released read-only cells restored, missing grade cells re-added), and in every
          grade cell nnzoo's verdicts as output and its points as the cell's value
        → nbgrader's own `SaveAutoGrades` reads those cells into gradebook.db

So formgrader shows every cell with nnzoo's reasons, `nbgrader export` exports the
scores, and a manual grade entered in formgrader still overrides the automatic one.
"""

from __future__ import annotations

import sys
from pathlib import Path

from autograder import course as nnzoo_course
from autograder.batch import BatchOptions, grade_class, grader_errors
from autograder.load import StudentSubmission, student_id
from autograder.nbgrader.collect import SourceLayout, collect
from autograder.nbgrader.course import Course, CourseError, CourseNotebook
from autograder.nbgrader.gradebook import write_grades
from autograder.report.progress import grading_progress
from autograder.sandbox.preflight import grading_refusal
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
                          allow_weak_sandbox: bool = False) -> int:
    """Grade `submitted/<student>/<a>/<a>.ipynb` of an nbgrader course with nnzoo and write
    the scores into its gradebook (and `autograded/`).  Returns an exit code: 0 fine,
    1 a grader error (rerun), 2 unusable input or a sandbox that would let student code
    read the course (one line on stderr).  `resume`, `students` and `allow_weak_sandbox`
    as for `nnzoo grade`.
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
    except CourseError as exc:
        print(f"nnzoo grade: {exc}", file=sys.stderr)
        return 2

    notebooks = find_notebooks(submitted, wanted, layouts)
    if students:
        notebooks = [nb for nb in notebooks if nb.student in students or student_id(nb.student) in students]
    if not notebooks:
        print(f"nnzoo grade: {submitted} holds no notebook of {', '.join(wanted)}", file=sys.stderr)
        return 2
    refusal = grading_refusal(submitted, out, course.root, allow_weak_sandbox)
    if refusal:
        print(f"nnzoo grade: {refusal}", file=sys.stderr)
        return 2
    submissions = to_submissions(notebooks)
    log(f"grading {len(notebooks)} notebooks of {len(submissions)} students ({', '.join(wanted)})")
    options = BatchOptions(out=out, assignments=wanted, jobs=jobs, limits=limits, resume=resume)
    with grading_progress(len(submissions)) as on_done:
        summary = grade_class(list(submissions.values()), options, on_done=on_done)
    by_id = {r.student: r for r in summary.records}
    for nb in notebooks:
        write_grades(course, nb, by_id[student_id(nb.student)].assignments[nb.assignment], layouts[nb.assignment])
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
        sub.assignment_notes[nb.assignment] = list(nb.collected.notes)
    return submissions
