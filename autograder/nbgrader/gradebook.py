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

import nbformat
from nbformat import NotebookNode

from autograder.judge.result import AssignmentResult, TestResult
from autograder.nbgrader.collect import SourceLayout
from autograder.nbgrader.course import Course, CourseNotebook
from autograder.nbgrader.feedback import released_source

LOG = logging.getLogger("nnzoo.nbgrader")
#: nbgrader's preprocessors warn about every hidden-test cell (upstream bug #1961); collect.py
#: already reports the changes that matter as notes to the student
QUIET = logging.getLogger("nnzoo.nbgrader.preprocessors")
QUIET.setLevel(logging.ERROR)


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


def _outputs(tests: list[TestResult], problem: str = "") -> list[NotebookNode]:
    lines = [t.line() for t in tests]
    if problem:
        lines.append(problem)
    score = float(sum(t.score for t in tests))
    outputs = []
    if lines:
        outputs.append(nbformat.v4.new_output("stream", name="stdout", text="Graded by nnzoo:\n" + "\n".join(lines) + "\n"))
    outputs.append(nbformat.v4.new_output("execute_result", data={"text/plain": repr(score)}, execution_count=1))
    return outputs


def _sanitised(nb: NotebookNode, resources: dict) -> NotebookNode:
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
    return nb


def autograded_notebook(course: Course, nb: CourseNotebook, result: AssignmentResult, layout: SourceLayout,
                        resources: dict) -> NotebookNode:
    """The submitted notebook, sanitised as nbgrader does, with nnzoo's verdicts in its grade cells."""
    problem = ""
    try:
        student_nb = nbformat.read(nb.path, as_version=4)
    except Exception:  # noqa: BLE001 — unreadable: show the released notebook with the reason
        released = course.root / "release" / nb.assignment / f"{nb.assignment}.ipynb"
        source = released if released.is_file() else course.root / "source" / nb.assignment / f"{nb.assignment}.ipynb"
        student_nb = nbformat.read(source, as_version=4)
        problem = nb.collected.problem
    notebook = _sanitised(student_nb, resources)
    for cell in notebook.cells:  # the cells as released: feedback shows no grading call
        cell.source = released_source(cell.source)
    per_cell = cell_results(layout, result)
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and meta.get("grade_id") in per_cell:
            cell.outputs = _outputs(per_cell[meta["grade_id"]], problem) if meta["grade_id"] != "hidden_setup" else []
            cell.execution_count = 1
    return notebook


def write_grades(course: Course, nb: CourseNotebook, result: AssignmentResult, layout: SourceLayout) -> Path:
    """Record one student's notebook in the course: autograded/ and gradebook.db."""
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
    notebook = autograded_notebook(course, nb, result, layout, resources)
    saver = SaveAutoGrades()
    saver.log = QUIET
    notebook, _ = saver.preprocess(notebook, resources)
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
