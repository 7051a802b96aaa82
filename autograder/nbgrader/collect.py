"""From a submitted nbgrader notebook to what nnzoo grades: the code, the conceptual
answers, and notes on anything odd about the notebook.

The code is assembled the way the notebook would run: the read-only provided cells
(always the released version), then every other code cell the student has — answer
cells, duplicates, cells they added — in the notebook's order, each turned into Python by
IPython's own input transformer (as on the plain route: `autograder.load.notebook`) and
wrapped so that an error stops only that cell (as in Jupyter).  nnzoo's own cells (set-up, tests,
questions) are left out: nnzoo runs its hidden tests itself.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
import warnings
from dataclasses import dataclass, field

import nbformat
from nbformat.warnings import DuplicateCellId, MissingIDFieldWarning

from autograder.course.regions import HIDDEN_TESTS, outside
from autograder.load.notebook import TransformBudget, cell_marker, cell_to_python

GRADER_PREFIXES = ("setup", "hidden_setup", "test_", "check_", "grade_")


@dataclass(frozen=True)
class SourceLayout:
    """The released structure of a notebook, read from the instructor's source notebook."""

    provided: dict[str, str]  # grade_id -> code, in order
    answers: list[str]  # grade_ids of the code answer cells, in order
    questions: list[str]  # question ids ("q1", ...), in order
    locked: dict[str, str]  # grade_id -> source as released (hidden tests removed)
    grade_cells: dict[str, list[str]]  # grade_id -> the hidden test functions it runs
    order: list[str]  # every grade_id, in order

    @classmethod
    def from_notebook(cls, nb: nbformat.NotebookNode) -> "SourceLayout":
        provided: dict[str, str] = {}
        answers, questions, order = [], [], []
        locked: dict[str, str] = {}
        grade_cells: dict[str, list[str]] = {}
        ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
        question_ids = {g.removeprefix("grade_") for g in ids if g and g.startswith("grade_")}
        for cell, gid in zip(nb.cells, ids):
            if not gid:
                continue
            order.append(gid)
            meta = cell.metadata["nbgrader"]
            if meta.get("locked"):
                locked[gid] = strip_hidden(cell.source)
            if gid.startswith("provided_"):
                provided[gid] = cell.source
            elif gid.startswith("answer_") and gid.removeprefix("answer_") in question_ids:
                questions.append(gid.removeprefix("answer_"))
            elif gid.startswith("answer_"):
                answers.append(gid)
            if meta.get("grade"):
                grade_cells[gid] = graded_tests(cell.source)
        return cls(provided, answers, questions, locked, grade_cells, order)


def strip_hidden(source: str) -> str:
    """A cell as nbgrader releases it: without its hidden-tests region."""
    return outside(source, HIDDEN_TESTS)


def graded_tests(source: str) -> list[str]:
    """The test names a grade cell passes to `nnzoo.grade(...)`."""
    names: list[str] = []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return names
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "grade":
            names += [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    return names


@dataclass
class CollectedNotebook:
    """What nnzoo grades in one submitted notebook."""

    code: str | None = None
    problem: str = ""  # set when nothing can be graded (then every test scores 0)
    answers: dict[str, object] = field(default_factory=dict)  # question id -> the student's choice
    notes: list[str] = field(default_factory=list)


def guarded(source: str) -> str:
    """`source` inside `try: … except BaseException: pass`: an error ends this cell only.

    Lines that continue a multi-line string keep their indentation (the string's text
    must not change).
    """
    in_string: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.STRING and tok.start[0] != tok.end[0]:
            in_string.update(range(tok.start[0] + 1, tok.end[0] + 1))
    body = [line if (number in in_string or not line.strip()) else "    " + line
            for number, line in enumerate(source.split("\n"), start=1)]
    return "\n".join(["try:", *body, "    pass", "except BaseException:  # nnzoo: as in a notebook, an error ends only this cell",
                      "    pass"])


#: A cell id shown as it is in a note; any other id (the student's notebook chooses its ids:
#: newlines, Markdown, HTML, terminal escapes, megabytes) is named without its text.
_PLAIN_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _shown(gid: str) -> str:
    """The id `gid` as a note shows it: itself when plain, else "(an unusual id)"."""
    return gid if _PLAIN_ID.fullmatch(gid) else "(an unusual id)"


def cell_code(source: str, label: str, notes: list[str], budget: TransformBudget | None = None) -> str | None:
    """A code cell's source as Python (IPython's transformer, within the notebook's `budget`),
    `guarded` so that an error ends only that cell; None, with a note, when it does not
    compile (Jupyter runs none of it)."""
    code = cell_to_python(source, budget)  # magics, `x?` and `!cmd` as IPython runs them (get_ipython() calls)
    try:
        compile(code, label, "exec", dont_inherit=True)
    except SyntaxError as exc:
        notes.append(f"{label} has a syntax error (line {exc.lineno}: {exc.msg}); it was left out, as Jupyter would "
                     "run none of it")
        return None
    try:
        wrapped = guarded(code)
        compile(wrapped, label, "exec", dont_inherit=True)
        return cell_marker(label, code) + wrapped
    except (SyntaxError, tokenize.TokenError):
        return code


def _choices(source: str) -> dict[str, object]:
    """`answer_<q> = <literal>` assignments at the top of a cell, in order, until a `raise`."""
    found: dict[str, object] = {}
    try:
        tree = ast.parse(cell_to_python(source))
    except SyntaxError:
        return found
    for node in tree.body:
        if isinstance(node, ast.Raise):
            break
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id.startswith("answer_"):
                    try:
                        found[target.id.removeprefix("answer_")] = ast.literal_eval(node.value)
                    except ValueError:
                        found[target.id.removeprefix("answer_")] = None
    return found


def read_notebook(text: str) -> nbformat.NotebookNode:
    """A notebook from its text, cell ids normalised without a word: a notebook saved by an
    older Jupyter lacks them, which is no fault of the student's (nbformat adds them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingIDFieldWarning)
        warnings.simplefilter("ignore", DuplicateCellId)
        return nbformat.reads(text, as_version=4)


def unusable(layout: SourceLayout, problem: str) -> CollectedNotebook:
    """A notebook nothing can be graded in (`problem` says why): every question unanswered,
    so its total stays the notebook's."""
    return CollectedNotebook(problem=problem, answers=dict.fromkeys(layout.questions))


def _restored(gid: str, layout: SourceLayout) -> str:
    """What grading does about a deleted cell `gid`, as the end of a note."""
    if gid in layout.provided:
        return "; the released version was used"
    if gid in layout.grade_cells:
        return "; it was added back as released and graded"
    return ""


def collect(data: bytes, layout: SourceLayout, filename: str) -> CollectedNotebook:
    """Read a submitted notebook (raw bytes) against the released `layout`."""
    result = CollectedNotebook()
    try:
        nb = read_notebook(data.decode("utf-8-sig", errors="replace"))
    except Exception as exc:  # nbformat raises several types for bad JSON / schema
        return unusable(layout, f"{filename} is not a valid notebook ({type(exc).__name__}); nothing could be graded")
    notes = result.notes
    seen: dict[str, int] = {}
    order: list[str] = []
    chunks: list[str] = []
    answered: dict[str, object] = {}
    budget = TransformBudget()
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid:
            seen[gid] = seen.get(gid, 0) + 1
            order.append(gid)
        if gid in layout.locked and cell.source.strip() != layout.locked[gid].strip():
            notes.append(f"the read-only cell {_shown(gid)} was changed; its released version was used")
        if cell.cell_type != "code" and gid not in layout.answers:
            continue
        if gid in layout.provided or (gid and gid.startswith(GRADER_PREFIXES)):
            continue
        if gid and gid.removeprefix("answer_") in layout.questions:
            answered.update(_choices(cell.source))
            continue
        if gid in layout.answers and not cell.source.strip():
            notes.append(f"the answer cell {_shown(gid)} is empty")
            continue
        code = cell_code(cell.source, _shown(gid) if gid else "a cell you added", notes, budget)
        if code and code.strip():
            chunks.append(code)
    for gid in layout.order:
        if gid not in seen and (gid in layout.answers or gid in layout.provided or gid in layout.grade_cells):
            notes.append(f"the cell {_shown(gid)} is missing (deleted?){_restored(gid, layout)}")
    for gid, count in seen.items():
        if count > 1:
            notes.append(f"the cell {_shown(gid)} appears {count} times; all copies ran, in order, the last definition wins")
    known = [g for g in dict.fromkeys(order) if g in layout.order]
    if known != [g for g in layout.order if g in known]:
        notes.append("the cells are not in their released order; the code was graded in your order")
    result.answers = {q: answered.get(q) for q in layout.questions}
    if not chunks:
        result.problem = f"{filename} holds no code in its answer cells; nothing could be graded"
        return result
    provided = "\n\n".join(layout.provided.values())
    result.code = "\n\n".join([provided, *chunks]) + "\n"
    return result
