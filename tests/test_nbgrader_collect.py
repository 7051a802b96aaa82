"""From a submitted notebook to what nnzoo grades: code, answers, and a note on anything odd
(no kernel, no sandbox: these run in well under a second)."""

import copy
import json

import nbformat
import pytest

from autograder.course.stubs import stub_source
from autograder.nbgrader import source_notebook as sn
from autograder.nbgrader.collect import SourceLayout, collect, guarded, strip_hidden


@pytest.fixture(scope="module")
def source():
    return sn.build_notebook(sn.Material.load("mlp"))


@pytest.fixture(scope="module")
def layout(source):
    return SourceLayout.from_notebook(source)


@pytest.fixture(scope="module")
def released(source):
    """What nbgrader releases: solution regions stubbed, hidden tests removed."""
    nb = copy.deepcopy(source)
    for cell in nb.cells:
        cell.source = strip_hidden(stub_source(cell.source))
    return nb


def solutions(source):
    return {c.metadata.nbgrader["grade_id"]: "\n".join(l for l in c.source.splitlines() if "### " not in l)
            for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")}


def cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def submit(nb):
    return nbformat.writes(nb).encode()


@pytest.fixture
def correct(source, released):
    nb = copy.deepcopy(released)
    for gid, code in solutions(source).items():
        cell(nb, gid).source = code
    return nb


def test_a_correct_notebook_gives_provided_code_then_answers_and_its_choices(correct, layout):
    got = collect(submit(correct), layout, "mlp.ipynb")
    assert got.problem == "" and got.notes == []
    assert got.code.startswith("from __future__ import annotations")
    assert "class Linear" in got.code and "def accuracy" in got.code
    assert "NotebookGrader" not in got.code and "nnzoo.check" not in got.code and "answer_q1" not in got.code  # nnzoo's own cells and the questions stay out
    compile(got.code, "mlp.py", "exec")
    assert got.answers == {"q1": "c", "q2": "a", "q3": "d"}


def test_unanswered_questions_and_a_raise_before_the_answer_give_no_choice(released, layout):
    nb = copy.deepcopy(released)
    cell(nb, "answer_q2").source = 'raise NotImplementedError()\nanswer_q2 = "a"'
    cell(nb, "answer_q3").source = 'answer_q3 = "B"'
    got = collect(submit(nb), layout, "mlp.ipynb")
    assert got.answers == {"q1": None, "q2": None, "q3": "B"}


def test_a_cell_is_guarded_so_an_error_ends_only_that_cell():
    namespace = {}
    exec(guarded('x = 1\nraise ValueError("boom")\ny = 2') + "\n" + guarded("z = 3"), namespace)
    assert namespace["x"] == 1 and "y" not in namespace and namespace["z"] == 3


def test_guarding_keeps_multi_line_strings_unchanged():
    namespace = {}
    exec(guarded('s = """a\nb\n  c"""\ndef f():\n    return s'), namespace)
    assert namespace["f"]() == "a\nb\n  c"


def test_not_json_is_a_problem_not_a_crash(layout):
    got = collect(b"{ not json", layout, "mlp.ipynb")
    assert got.code is None and "not a valid notebook" in got.problem


def test_no_code_at_all_is_a_problem(released, layout):
    nb = copy.deepcopy(released)
    nb.cells = [c for c in nb.cells if c.cell_type == "markdown"]
    got = collect(submit(nb), layout, "mlp.ipynb")
    assert got.code is None and "no code" in got.problem


def test_a_syntax_error_leaves_out_only_that_cell(correct, layout):
    cell(correct, "answer_MLP").source = "class MLP(nn.Module)\n    pass"
    got = collect(submit(correct), layout, "mlp.ipynb")
    assert "class MLP" not in got.code and "class Linear" in got.code
    assert any("answer_MLP has a syntax error" in n for n in got.notes)


def test_an_empty_answer_cell_is_noted(correct, layout):
    cell(correct, "answer_relu").source = "  \n"
    got = collect(submit(correct), layout, "mlp.ipynb")
    assert "def relu" not in got.code and "the answer cell answer_relu is empty" in got.notes


def test_a_deleted_cell_is_noted_and_a_deleted_read_only_cell_restored(correct, layout):
    correct.cells = [c for c in correct.cells
                     if c.metadata.get("nbgrader", {}).get("grade_id") not in ("answer_relu", "provided_1", "test_MLP")]
    got = collect(submit(correct), layout, "mlp.ipynb")
    notes = " | ".join(got.notes)
    assert "answer_relu is missing" in notes and "test_MLP is missing" in notes
    assert "provided_1 is missing (deleted?); the released version was used" in notes
    assert got.code.startswith("from __future__ import annotations")


def test_duplicated_cells_all_run_in_order(correct, layout):
    twin = copy.deepcopy(cell(correct, "answer_relu"))
    twin.source = "def relu(x):\n    return x.clamp(min=0) * 1"
    twin.id = "relu-twin"
    correct.cells.insert(correct.cells.index(cell(correct, "answer_relu")) + 1, twin)
    got = collect(submit(correct), layout, "mlp.ipynb")
    assert got.code.index("torch.clamp(x, min=0)") < got.code.index("x.clamp(min=0) * 1")
    assert any("answer_relu appears 2 times" in n for n in got.notes)


def test_a_cell_id_of_the_students_own_is_never_copied_into_a_note(correct, layout):
    """The notes reach the feedback pages (Markdown): an id with a newline, a table row, HTML
    and a terminal escape is named, not shown."""
    odd = "x\n| fake | 2/2 |\n<script>alert(1)</script>\x1b[31m" + "y" * 10_000
    for twin_id in ("twin-1", "twin-2"):
        twin = nbformat.v4.new_code_cell("y = 1", metadata={"nbgrader": {"grade_id": odd}})
        twin.id = twin_id
        correct.cells.append(twin)
    notes = collect(submit(correct), layout, "mlp.ipynb").notes
    assert "the cell (an unusual id) appears 2 times; all copies ran, in order, the last definition wins" in notes
    assert not any(c in note for note in notes for c in ("<script>", "\x1b", "\n", "| fake")), notes


def test_reordered_cells_are_graded_in_the_students_order_and_noted(correct, layout):
    mlp, linear = cell(correct, "answer_MLP"), cell(correct, "answer_Linear")
    i, j = correct.cells.index(mlp), correct.cells.index(linear)
    correct.cells[i], correct.cells[j] = linear, mlp
    got = collect(submit(correct), layout, "mlp.ipynb")
    assert got.code.index("class MLP") < got.code.index("class Linear")
    assert any("not in their released order" in n for n in got.notes)


def test_a_changed_read_only_test_cell_is_noted_and_ignored(correct, layout):
    cell(correct, "test_Linear").source = "pass  # all good"
    cell(correct, "provided_1").source = "import torch\nnn = None"
    got = collect(submit(correct), layout, "mlp.ipynb")
    assert "the read-only cell test_Linear was changed; its released version was used" in got.notes
    assert "nn = None" not in got.code and "all good" not in got.code


def test_cells_the_student_added_run_too(correct, layout):
    correct.cells.append(nbformat.v4.new_code_cell("%matplotlib inline\nEXTRA = 1"))
    got = collect(submit(correct), layout, "mlp.ipynb")
    assert "EXTRA = 1" in got.code and "get_ipython().run_line_magic('matplotlib', 'inline')" in got.code


def test_layout_reads_the_released_structure(layout):
    assert layout.answers[0] == "answer_Linear" and layout.questions == ["q1", "q2", "q3"]
    assert layout.grade_cells["test_relu"] == ["test_relu_matches_reference"]
    assert json.dumps(layout.grade_cells["hidden_setup"]) == "[]"
