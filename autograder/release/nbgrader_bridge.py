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

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.batch import BatchOptions, grade_class, grader_errors
from autograder.load import StudentSubmission, student_id
from autograder.paths import ASSIGNMENTS, available_assignments
from autograder.release.answer_key import ANSWER_KEY
from autograder.release.collect import CollectedNotebook, SourceLayout, collect
from autograder.release.course import is_course
from autograder.release.gradebook_writer import write_grades
from autograder.report.gradebook import feedback_markdown, write_atomic, write_reports
from autograder.sandbox.limits import SandboxLimits


class CourseError(Exception):
    """The folder is not a usable nbgrader course (one line, for the command line)."""


@dataclass(frozen=True)
class Course:
    root: Path
    db_url: str

    @classmethod
    def open(cls, root: Path) -> "Course":
        if not root.is_dir():
            raise CourseError(f"{root} does not exist")
        if not is_course(root):
            raise CourseError(f"{root} is not an nbgrader course (no nbgrader_config.py and no source/ folder) — "
                              "create one with `nnzoo release --nbgrader DIR`")
        return cls(root, _db_url(root))

    def layout(self, assignment: str) -> SourceLayout:
        path = self.root / "source" / assignment / f"{assignment}.ipynb"
        if not path.is_file():
            raise CourseError(f"{path} not found — write it with `nnzoo release --nbgrader {self.root} -a {assignment}`")
        return SourceLayout.from_notebook(nbformat.read(path, as_version=4))

    def check_released(self, assignment: str) -> None:
        from nbgrader.api import Gradebook, MissingEntry

        db = self.root / "gradebook.db"
        if self.db_url.startswith("sqlite:///") and not Path(self.db_url.removeprefix("sqlite:///")).is_file():
            raise CourseError(f"{db} not found — run `nbgrader generate_assignment {assignment}` in {self.root} first")
        with Gradebook(self.db_url) as gb:
            try:
                gb.find_notebook(assignment, assignment)
            except MissingEntry:
                raise CourseError(f"{assignment} is not in the gradebook — run `nbgrader generate_assignment {assignment}` "
                                  f"in {self.root} first") from None


def _db_url(root: Path) -> str:
    """The gradebook the course's own nbgrader_config.py names (nbgrader's default otherwise)."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = None
    if (root / "nbgrader_config.py").is_file():
        try:
            config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
        except Exception as exc:  # noqa: BLE001 — a broken config is the user's to fix
            raise CourseError(f"{root / 'nbgrader_config.py'} could not be read: {exc}") from None
    return CourseDirectory(config=config, root=str(root.resolve())).db_url


# -- grading ---------------------------------------------------------------------------------

@dataclass
class CourseNotebook:
    student: str  # nbgrader's id (the folder name)
    assignment: str
    path: Path
    collected: CollectedNotebook


def find_notebooks(submitted: Path, assignments: list[str], layouts: dict[str, SourceLayout]) -> list[CourseNotebook]:
    found = []
    for folder in sorted(p for p in submitted.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for a in assignments:
            path = folder / a / f"{a}.ipynb"
            if path.is_file():
                found.append(CourseNotebook(folder.name, a, path, collect(path.read_bytes(), layouts[a], path.name)))
    return found


def question_results(assignment: str, collected: CollectedNotebook) -> list[dict]:
    """One test record per conceptual question (the same verdict as the hidden hash check)."""
    key = ANSWER_KEY.get(assignment, {})
    results = []
    for q, given in collected.answers.items():
        right = given is not None and str(given).strip().lower() == key.get(q)
        message = "" if right else ("no answer given" if given is None else "not the expected answer")
        results.append({"name": f"question_{q}", "property": "conceptual question", "score": 1.0 if right else 0.0,
                        "max_score": 1.0, "status": "passed" if right else "failed", "message": message,
                        "reason": "" if right else "check", "doc": f"question {q}", "kind": "question"})
    return results


def add_notebook_results(record: dict, assignment: str, collected: CollectedNotebook) -> None:
    """Add the question results and the notes to a graded record (idempotent)."""
    result = record["assignments"][assignment]
    result["tests"] = [t for t in result["tests"] if t.get("kind") != "question"] + question_results(assignment, collected)
    result["score"] = sum(t["score"] for t in result["tests"])
    result["max_score"] = sum(t["max_score"] for t in result["tests"])
    result["notes"] = list(collected.notes)


def feedback_with_notes(record: dict, assignments: list[str]) -> str:
    text = feedback_markdown(record, assignments)
    for a in assignments:
        notes = record["assignments"].get(a, {}).get("notes")
        if notes:
            text += f"\n## Notes on your {a} notebook\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    return text


def grade_nbgrader_course(course_dir: Path, assignments: list[str] | None, out: Path, jobs: int = 1,
                          submitted: Path | None = None, limits: SandboxLimits = SandboxLimits(),
                          log=print) -> int:
    """Grade `submitted/<student>/<a>/<a>.ipynb` of an nbgrader course with nnzoo and write
    the scores into its gradebook (and `autograded/`).  Returns an exit code: 0 fine,
    1 a grader error (rerun), 2 unusable input (one line on stderr).
    """
    try:
        course = Course.open(Path(course_dir))
        submitted = Path(submitted) if submitted else course.root / "submitted"
        if not submitted.is_dir():
            raise CourseError(f"{submitted} does not exist — collect the submissions first (`nbgrader collect`)")
        known = available_assignments(hidden=True)
        wanted = [a for a in ASSIGNMENTS if a in (assignments or known)]
        unknown = [a for a in (assignments or []) if a not in known]
        if unknown:
            raise CourseError(f"no hidden tests for {', '.join(unknown)} (known: {', '.join(known)})")
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
    if not notebooks:
        print(f"nnzoo grade: {submitted} holds no notebook of {', '.join(wanted)}", file=sys.stderr)
        return 2
    ids = {nb.student: student_id(nb.student) for nb in notebooks}
    submissions: dict[str, StudentSubmission] = {}
    for nb in notebooks:
        sub = submissions.setdefault(nb.student, StudentSubmission(ids[nb.student]))
        if nb.collected.code is not None:
            sub.sources[nb.assignment] = nb.collected.code
        else:
            sub.problems[nb.assignment] = nb.collected.problem
    log(f"grading {len(notebooks)} notebooks of {len(submissions)} students ({', '.join(wanted)})")
    records = grade_class(list(submissions.values()), BatchOptions(out=out, assignments=wanted, jobs=jobs, limits=limits))
    by_id = {r["student"]: r for r in records}
    for nb in notebooks:
        record = by_id[ids[nb.student]]
        add_notebook_results(record, nb.assignment, nb.collected)
    for record in records:
        write_atomic(out / "students" / f"{record['student']}.json", json.dumps(record, indent=1) + "\n")
        write_atomic(out / "feedback" / f"{record['student']}.md", feedback_with_notes(record, wanted))
    write_reports(out, records, wanted)

    for nb in notebooks:
        write_grades(course, nb, by_id[ids[nb.student]]["assignments"][nb.assignment], layouts[nb.assignment])
    for nb in notebooks:
        result = by_id[ids[nb.student]]["assignments"][nb.assignment]
        notes = f" — {len(nb.collected.notes)} note(s)" if nb.collected.notes else ""
        log(f"{nb.student}/{nb.assignment}: {result['score']:g}/{result['max_score']:g}{notes}")
    log(f"wrote {out / 'grades.csv'}, {out / 'feedback'}/ and the scores into {course.db_url}")
    errors = grader_errors(records)
    if errors:
        print(f"grader error — rerun after fixing the grader: {', '.join(errors)}", file=sys.stderr)
        return 1
    return 0
