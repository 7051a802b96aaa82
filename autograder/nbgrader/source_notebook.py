"""The nbgrader *source* notebook of an assignment, built from the single source.

Like nbgrader's own pipelines, the notebook is made by a list of small steps, each
`step(nb, material) -> nb` with one job, each testable alone (`STEPS`):

    add_intro          title, the lecture's idea (assignment.toml), the task (module docstring)
    add_provided_code  read-only cells: the imports and any code given to students
    add_setup          read-only: `nnzoo = NotebookGrader(...)` and the public tests
    add_hidden_setup   graded, 0 points, hidden: `nnzoo.load_hidden()` switches to grading
                       (the grader reads the reference, hidden tests and answer key from
                       its own course; the notebook carries none of them)
    add_parts          per solution-bearing function/class: an answer cell, then a test
                       cell (public checks visible; that part's hidden tests hidden)
    add_remaining      tests that belong to no single part
    add_questions      conceptual multiple-choice questions, checked when graded
    add_kernelspec     the kernel nbgrader runs (python3)

Cell ids (`grade_id`): `intro`, `provided_<k>`, `setup`, `hidden_setup`,
`answer_<Name>`, `test_<Name>` (or `check_<Name>` when a part has no hidden test),
`test_remaining`, `question_<q>`, `answer_<q>`, `grade_<q>`.  A test cell's points are
the points of its hidden tests, so the notebook's total equals `nnzoo grade`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat
from nbformat import NotebookNode

from autograder import course
from autograder.course import Question, points_of_tests
from autograder.course.regions import HIDDEN_TESTS, SOLUTION, wrap
from autograder.nbgrader.segments import Reference, place_tests, split_reference


@dataclass
class Material:
    """Everything a notebook is made from (read once from solutions/ and assignments/)."""

    assignment: str
    reference_text: str
    hidden_tests: str
    public_tests: str
    questions: list[Question] = field(default_factory=list)
    answer_key: dict[str, str] = field(default_factory=dict)
    title: str = ""
    intro: str = ""

    def __post_init__(self) -> None:
        self.reference: Reference = split_reference(self.reference_text)

    @classmethod
    def load(cls, name: str) -> "Material":
        a = course.assignment(name)
        return cls(
            name,
            a.reference.read_text(),
            a.hidden_tests.read_text(),
            a.public_tests.read_text() if a.public_tests.is_file() else "",
            a.questions,
            a.answer_key,
            a.title,
            a.intro,
        )


Step = Callable[[NotebookNode, Material], NotebookNode]


# -- cells -------------------------------------------------------------------------------

def _meta(grade_id: str, *, grade: bool = False, solution: bool = False, locked: bool = False,
          points: float | None = None) -> dict:
    meta = {"schema_version": 3, "grade": grade, "locked": locked, "solution": solution, "grade_id": grade_id}
    if grade:
        meta["points"] = points or 0
    return {"nbgrader": meta}


def markdown(text: str, grade_id: str | None = None) -> NotebookNode:
    """Markdown; read-only when it has an id."""
    cell = nbformat.v4.new_markdown_cell(text.strip("\n"))
    if grade_id:
        cell.metadata.update(_meta(grade_id, locked=True))
    return cell


def read_only(code: str, grade_id: str) -> NotebookNode:
    cell = nbformat.v4.new_code_cell(code.strip("\n"))
    cell.metadata.update(_meta(grade_id, locked=True))
    return cell


def answer(code: str, grade_id: str) -> NotebookNode:
    cell = nbformat.v4.new_code_cell(code.strip("\n"))
    cell.metadata.update(_meta(grade_id, solution=True))
    return cell


def grade_cell(code: str, grade_id: str, points: float) -> NotebookNode:
    cell = nbformat.v4.new_code_cell(code.strip("\n"))
    cell.metadata.update(_meta(grade_id, grade=True, locked=True, points=points))
    return cell


def py_string(text: str) -> str:
    """`text` as a Python literal that reads well in a cell (raw triple quotes if possible)."""
    if "'''" not in text and not text.endswith(("\\", "'")) and "\r" not in text:
        return "r'''" + text + "'''"
    return repr(text)


def hidden(code: str) -> str:
    return wrap(code, HIDDEN_TESTS)


def _call(method: str, names: list[str]) -> str:
    return f"nnzoo.{method}(" + ", ".join(repr(n) for n in names) + ")"


# -- steps -------------------------------------------------------------------------------

def add_intro(nb: NotebookNode, m: Material) -> NotebookNode:
    title = m.title or m.assignment
    total = sum(points_of_tests(m.hidden_tests).values()) + len(m.questions)
    how = (f"**How this notebook is graded** ({total:g} points).  Write your code in the cells marked "
           "`# YOUR CODE HERE` — keep the function and class names and signatures.  The cell after each "
           "part runs its *public* checks (`nnzoo test " + m.assignment + "` runs the same); when the "
           "notebook is graded, *hidden* tests check the same properties more thoroughly.  Do not "
           "change the read-only cells.  Run every cell from the top (Kernel → Restart & Run All) "
           "before you submit.")
    nb.cells.append(markdown(f"# {m.assignment} — {title}\n\n{m.intro}\n{how}", "intro"))
    if m.reference.docstring:
        nb.cells.append(markdown("## Your task\n\n" + m.reference.docstring, "task"))
    return nb


def add_provided_code(nb: NotebookNode, m: Material) -> NotebookNode:
    provided = [s for s in m.reference.segments if s.kind == "provided"]
    for k, segment in enumerate(provided, start=1):
        nb.cells.append(read_only(segment.source, f"provided_{k}"))
    return nb


def add_setup(nb: NotebookNode, m: Material) -> NotebookNode:
    code = (
        "# Set-up (read-only): nnzoo's checks for this notebook.\n"
        "from autograder.nbgrader.runtime import NotebookGrader\n\n"
        f"nnzoo = NotebookGrader({m.assignment!r}, globals(), answers={m.reference.answers!r},\n"
        f"                       provided={py_string(m.reference.provided_source)})\n"
    )
    if m.public_tests:
        code += f"nnzoo.load_public({py_string(m.public_tests)})\n"
    nb.cells.append(read_only(code, "setup"))
    return nb


def add_hidden_setup(nb: NotebookNode, m: Material) -> NotebookNode:
    """Grading mode, only when nbgrader grades (the hidden block is restored then).

    Nothing secret in it: nbgrader restores hidden blocks in the autograded notebook, and
    `generate_feedback` turns that notebook into the student's feedback.
    """
    code = "# Loads the hidden tests when the notebook is graded — nothing to do here.\n" + hidden("nnzoo.load_hidden()")
    nb.cells.append(grade_cell(code, "hidden_setup", 0))
    return nb


def _test_cell(title: str, grade_id: str, public: list[str], hidden_names: list[str], points: dict[str, float]) -> NotebookNode:
    total = sum(points[n] for n in hidden_names)
    lines = [f"# Tests of {title} — {total:g} point{'s' if total != 1 else ''}. "
             "The public checks run here; the graded tests are hidden."]
    if public:
        lines.append(_call("check", public))
    lines.append(hidden(_call("grade", hidden_names)))
    return grade_cell("\n".join(lines), grade_id, total)


def add_parts(nb: NotebookNode, m: Material) -> NotebookNode:
    hidden_groups = place_tests(m.hidden_tests, m.reference.answers)
    public_groups = place_tests(m.public_tests, m.reference.answers) if m.public_tests else {}
    points = points_of_tests(m.hidden_tests)
    number = 0
    for segment in m.reference.segments:
        if segment.kind != "answer":
            continue
        number += 1
        name = segment.name
        nb.cells.append(markdown(f"## Part {number}: `{name}`\n\nComplete `{name}` below; its docstring says "
                                 "what it computes, with the shapes and an example."))
        nb.cells.append(answer(segment.source, f"answer_{name}"))
        public, hidden_names = public_groups.get(name, []), hidden_groups.get(name, [])
        if hidden_names:
            nb.cells.append(_test_cell(f"`{name}`", f"test_{name}", public, hidden_names, points))
        elif public:
            nb.cells.append(read_only(f"# Public checks of `{name}`.\n{_call('check', public)}", f"check_{name}"))
    return nb


def add_remaining(nb: NotebookNode, m: Material) -> NotebookNode:
    hidden_names = place_tests(m.hidden_tests, m.reference.answers)[""]
    public = place_tests(m.public_tests, m.reference.answers)[""] if m.public_tests else []
    if hidden_names:
        nb.cells.append(markdown("## Everything together"))
        nb.cells.append(_test_cell("the whole assignment", "test_remaining", public, hidden_names, points_of_tests(m.hidden_tests)))
    elif public:
        nb.cells.append(read_only(f"# Public checks of the whole assignment.\n{_call('check', public)}", "check_remaining"))
    return nb


def add_questions(nb: NotebookNode, m: Material) -> NotebookNode:
    if not m.questions:
        return nb
    nb.cells.append(markdown("## Questions\n\nAnswer each question by setting its variable to the letter of your "
                             "choice, as a string: `answer_q1 = \"<letter>\"`.  One point each; the answers are checked when "
                             "the notebook is graded."))
    for number, q in enumerate(m.questions, start=1):
        choices = "\n".join(f"- **{letter})** {text}" for letter, text in q.choices.items())
        nb.cells.append(markdown(f"**Question {number}.** {q.prompt}\n\n{choices}", f"question_{q.id}"))
        solution = f'{q.variable} = "{m.answer_key.get(q.id, "")}"'
        nb.cells.append(answer(f'# Set {q.variable} to the letter of your choice: {q.variable} = "<letter>"\n'
                               + wrap(solution, SOLUTION), f"answer_{q.id}"))
        nb.cells.append(grade_cell(f"# Question {number} — 1 point, checked when the notebook is graded.\n"
                             + hidden(f"nnzoo.answer({q.id!r}, {q.variable!r})"), f"grade_{q.id}", 1))
    return nb


def add_kernelspec(nb: NotebookNode, m: Material) -> NotebookNode:
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


STEPS: list[Step] = [add_intro, add_provided_code, add_setup, add_hidden_setup, add_parts, add_remaining,
                     add_questions, add_kernelspec]


def build_notebook(material: Material, steps: list[Step] = STEPS) -> NotebookNode:
    nb = nbformat.v4.new_notebook()
    for step in steps:
        nb = step(nb, material)
    return nb


def data_files(assignment: str, datasets: Path) -> list[Path]:
    """The files of `datasets/` an assignment needs: `datasets/<a>/…` and files named after it."""
    if not datasets.is_dir():
        return []
    found = []
    for path in sorted(datasets.rglob("*")):
        rel = path.relative_to(datasets)
        if path.is_file() and (rel.parts[0] == assignment or assignment in path.name.split(".")[0].split("_")):
            found.append(path)
    return found
