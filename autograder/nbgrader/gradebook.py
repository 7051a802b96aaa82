"""nnzoo's verdicts into an nbgrader course: an autograded notebook whose grade cells
carry nnzoo's results, saved into gradebook.db by nbgrader's own `SaveAutoGrades`.

A grade cell's output is what `nbgrader autograde` would have shown — one line per
hidden test (✓/✗, points, the reason of a failure) — and its value is the points, which
nbgrader reads as partial credit (`nbgrader.utils.determine_grade`).
"""

from __future__ import annotations

import logging
import shutil
import warnings
from pathlib import Path
from typing import Sequence

import nbformat
from nbformat import NotebookNode

from autograder.judge.result import AssignmentResult, TestResult
from autograder.nbgrader.collect import SourceLayout, read_notebook
from autograder.nbgrader.course import Course, CourseNotebook
from autograder.nbgrader.feedback import released_source

LOG = logging.getLogger("nnzoo.nbgrader")
#: nbgrader's preprocessors warn about every hidden-test cell (upstream bug #1961); collect.py
#: already reports the changes that matter as notes to the student
QUIET = logging.getLogger("nnzoo.nbgrader.preprocessors")
QUIET.setLevel(logging.ERROR)
VISIBLE = ("visible",)


def cell_results(layout: SourceLayout, result: AssignmentResult) -> dict[str, list[TestResult]]:
    """The nnzoo test records behind each grade cell (a parametrised test counts under its function)."""
    by_name: dict[str, list[TestResult]] = {}
    for t in result.tests:
        by_name.setdefault(t.function, []).append(t)
    cells = {}
    for gid, names in layout.grade_cells.items():
        if gid.startswith("grade_"):
            cells[gid] = by_name.get(f"question_{gid.removeprefix('grade_')}", [])
        else:
            cells[gid] = [t for n in names for t in by_name.get(n, [])]
    return cells


def unreleased_tests(layout: SourceLayout, result: AssignmentResult) -> list[str]:
    """Hidden tests nnzoo ran that no grade cell of the released notebook holds."""
    in_cells = {n for names in layout.grade_cells.values() for n in names}
    return [t.name for t in result.tests if t.kind != "question" and t.function not in in_cells]


def _outputs(tests: list[TestResult], problem: str = "", visible: Sequence[str] = VISIBLE) -> list[NotebookNode]:
    """A grade cell's outputs: a line per test the student may see (`visible`), and the
    points of all of them as the cell's value."""
    lines = [t.line() for t in tests if t.visibility in visible]
    unseen = len(tests) - len(lines)
    if unseen:
        lines.append(f"… and {unseen} more test{'s' if unseen != 1 else ''} (counted, not shown)")
    if problem:
        lines.append(problem)
    score = float(sum(t.score for t in tests))
    outputs = []
    if lines:
        outputs.append(nbformat.v4.new_output("stream", name="stdout", text="Graded by nnzoo:\n" + "\n".join(lines) + "\n"))
    outputs.append(nbformat.v4.new_output("execute_result", data={"text/plain": repr(score)}, execution_count=1))
    return outputs


def _sanitised(nb: NotebookNode, resources: dict, layout: SourceLayout) -> NotebookNode:
    """nbgrader's own clean-up before grading: outputs cleared, duplicate ids dropped, the
    kernel and every read-only cell restored from the database, missing grade cells re-added."""
    from nbgrader.preprocessors import (
        ClearOutput,
        DeduplicateIds,
        OverwriteCells,
        OverwriteKernelspec,
    )

    for pre in (ClearOutput(), DeduplicateIds(), OverwriteKernelspec(), OverwriteCells()):
        pre.log = QUIET
        nb, resources = pre.preprocess(nb, resources)
    return restore_grade_cells(nb, resources, layout)


def _position(nb: NotebookNode, before: list[str]) -> int:
    """Where a cell goes that comes after the cells `before` (grade ids, in released order):
    after the last of them the notebook still has, else first."""
    index = {c.metadata.get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(nb.cells)}
    return next((index[g] + 1 for g in reversed(before) if g in index), 0)


def restore_grade_cells(nb: NotebookNode, resources: dict, layout: SourceLayout) -> NotebookNode:
    """The grade cells a student deleted, added back from the gradebook with nbgrader's own
    `OverwriteCells.missing_cell_transform` (and its notice), each after the nearest cell
    before it in the released order.  nnzoo grades the code whatever cells are left, so
    every grade cell must carry its verdicts: a missing one would count 0 in the gradebook.
    (nbgrader's `add_missing_cells` places a cell after the previous source cell only when
    that is a grade or solution cell still there, and fails otherwise.)"""
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import OverwriteCells

    present = {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
    info = resources["nbgrader"]
    with Gradebook(info["db_url"]) as gb:
        source = gb.find_notebook(info["notebook"], info["assignment"])
        cells = {c.name: c for c in source.source_cells}
        points = {c.name: c.max_score for c in source.grade_cells}
        released = [g for g in layout.order if g in points] + sorted(set(points) - set(layout.order))
        for gid in (g for g in released if g not in present and g in cells):
            cell = OverwriteCells().missing_cell_transform(cells[gid], points[gid])
            cell.id = nbformat.v4.nbbase.random_cell_id()
            before = layout.order[:layout.order.index(gid)] if gid in layout.order else layout.order
            nb.cells.insert(_position(nb, before), cell)
    return nb


def autograded_notebook(course: Course, nb: CourseNotebook, result: AssignmentResult, layout: SourceLayout,
                        resources: dict, visible: Sequence[str] = VISIBLE) -> NotebookNode:
    """The submitted notebook, sanitised as nbgrader does, with nnzoo's verdicts in its grade cells."""
    problem = ""
    try:
        student_nb = read_notebook(nb.path.read_bytes().decode("utf-8-sig", errors="replace"))
    except Exception:  # noqa: BLE001 — unreadable or missing: the released notebook with the reason
        released = course.root / "release" / nb.assignment / f"{nb.assignment}.ipynb"
        source = released if released.is_file() else course.root / "source" / nb.assignment / f"{nb.assignment}.ipynb"
        student_nb = read_notebook(source.read_text(encoding="utf-8"))
        problem = nb.collected.problem
    notebook = _sanitised(student_nb, resources, layout)
    for cell in notebook.cells:  # the cells as released: feedback shows no grading call
        cell.source = released_source(cell.source)
    per_cell = cell_results(layout, result)
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and meta.get("grade_id") in per_cell:
            cell.outputs = _outputs(per_cell[meta["grade_id"]], problem, visible) if meta["grade_id"] != "hidden_setup" \
                else []
            cell.execution_count = 1
    return notebook


def write_late_penalty(db_url: str, assignment: str, student: str, penalty: float) -> None:
    """nnzoo's late penalty where nbgrader keeps its own (`late_submission_penalty`, which
    `nbgrader export` and formgrader show), at most the notebook's score as nbgrader's
    `AssignLatePenalties` does."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        notebook = gb.find_submission_notebook(assignment, assignment, student)
        notebook.late_submission_penalty = min(penalty, notebook.score) if penalty > 0 else None
        gb.db.commit()


def add_students(course: Course, students: list[str]) -> None:
    """Every student folder's id in the gradebook, so `nbgrader export` lists each student
    (with 0 for an assignment not submitted) as `nnzoo grade`'s grades.csv does."""
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gb:
        for student in students:
            gb.update_or_create_student(student)


def write_grades(course: Course, nb: CourseNotebook, result: AssignmentResult, layout: SourceLayout,
                 penalty: float = 0.0, visible: Sequence[str] = VISIBLE) -> Path:
    """Record one student's notebook in the course: autograded/ and gradebook.db (with
    nnzoo's late `penalty`; the grade cells list the tests of the `visible` visibilities)."""
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import SaveAutoGrades
    from nbgrader.utils import parse_utc

    a = nb.assignment
    stamp_file = nb.path.parent / "timestamp.txt"
    timestamp = None
    if stamp_file.is_file() and stamp_file.read_text().strip():
        try:
            timestamp = parse_utc(stamp_file.read_text().strip())
        except ValueError:
            LOG.warning("ignoring the unreadable %s", stamp_file)
    with Gradebook(course.db_url) as gb, warnings.catch_warnings():
        # nbgrader's own add_submission trips SQLAlchemy's "not in session" warning (harmless)
        warnings.simplefilter("ignore")
        gb.update_or_create_student(nb.student)
        if timestamp:
            gb.update_or_create_submission(a, nb.student, timestamp=timestamp)
        else:
            gb.update_or_create_submission(a, nb.student)
    resources = {"nbgrader": {"notebook": a, "assignment": a, "student": nb.student, "db_url": course.db_url}}
    notebook = autograded_notebook(course, nb, result, layout, resources, visible)
    saver = SaveAutoGrades()
    saver.log = QUIET
    notebook, _ = saver.preprocess(notebook, resources)
    write_late_penalty(course.db_url, a, nb.student, penalty)
    target = course.root / "autograded" / nb.student / a
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    nbformat.write(notebook, target / f"{a}.ipynb")
    if stamp_file.is_file():
        shutil.copy2(stamp_file, target / "timestamp.txt")
    missing = unreleased_tests(layout, result)
    if missing:
        LOG.warning("%s: hidden tests not in the released notebook (their points are not in the gradebook): %s",
                    a, ", ".join(missing))
    return target / f"{a}.ipynb"
