"""The nbgrader source notebook, built from the single source in small steps (no kernel)."""

import hashlib
import re
from pathlib import Path

import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator

from autograder import course
from autograder.bundle.leaks import code_part, is_trivial, leaking_lines, solution_lines
from autograder.course.regions import HIDDEN_TESTS, SOLUTION, inside, outside
from autograder.nbgrader import source_notebook as sn
from autograder.nbgrader.collect import SourceLayout, strip_hidden
from autograder.nbgrader.runtime import answer_digest
from autograder.nbgrader.segments import named_tests, place_tests, split_reference

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = course.names(hidden=True)
ANSWER_KEY = {a.name: a.answer_key for a in course.assignments(hidden=True)}

REFERENCE = '''"""The task."""

from __future__ import annotations

import torch

SCALE = 2


def helper(x):
    return x * SCALE


# Part one.
def first(x):
    # Hint: double it.
    ### BEGIN SOLUTION
    return helper(x)
    ### END SOLUTION


class Second:
    def f(self):
        ### BEGIN SOLUTION
        return first(1)
        ### END SOLUTION
'''


def ids(nb):
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]


def nbg(cell):
    return cell.metadata.get("nbgrader", {})


@pytest.fixture(scope="module")
def mlp():
    return sn.Material.load("mlp")


@pytest.fixture(scope="module")
def mlp_nb(mlp):
    return sn.build_notebook(mlp)


# -- splitting the reference --------------------------------------------------------------

def test_reference_splits_into_provided_code_and_answers():
    ref = split_reference(REFERENCE)
    assert ref.docstring == "The task."
    assert [(s.kind, s.name) for s in ref.segments] == [("provided", ""), ("answer", "first"), ("answer", "Second")]
    assert "SCALE = 2" in ref.segments[0].source and "def helper" in ref.segments[0].source


def test_comment_above_a_definition_and_its_closing_marker_travel_with_it():
    first = split_reference(REFERENCE).segments[1].source
    assert first.startswith("# Part one.\ndef first") and first.endswith("### END SOLUTION")


def test_a_test_goes_after_the_last_answer_it_mentions():
    tests = '''
SIZES = Build("Second")

def test_a(submission):
    submission.run("run", call="first")

def test_b(submission):
    submission.run("run", model=SIZES, call="first")

def test_c(submission):
    pass
'''
    assert place_tests(tests, ["first", "Second"]) == {"first": ["test_a"], "Second": ["test_b"], "": ["test_c"]}


def test_attribute_access_is_not_a_mention():
    assert place_tests("def test_x():\n    nn.Linear(2, 3)\n", ["Linear"]) == {"Linear": [], "": ["test_x"]}


# -- each step alone ----------------------------------------------------------------------

def test_intro_teaches_the_lecture_idea_of_the_assignment(mlp):
    nb = sn.add_intro(nbformat.v4.new_notebook(), mlp)
    text = nb.cells[0].source.lower()
    assert text.startswith("# mlp") and "fixed size" in text and "space or time" in text and "building block" in text
    assert "24 points" in text


def test_every_assignment_has_its_own_intro_and_questions():
    found = course.assignments(hidden=True)
    assert [a.name for a in found] == ["mlp", "attention", "rnn", "gnn", "transfer"]
    for a in found:
        assert a.title != a.name and 2 <= len(a.questions) <= 4
        assert all(q.answer in q.choices for q in a.questions)
    assert len({a.intro for a in found}) == 5


def test_provided_code_is_read_only(mlp):
    nb = sn.add_provided_code(nbformat.v4.new_notebook(), mlp)
    assert ids(nb) == ["provided_1"] and nbg(nb.cells[0])["locked"] and "import torch" in nb.cells[0].source


def test_parts_have_one_answer_cell_per_solution_bearing_definition(mlp):
    nb = sn.add_parts(nbformat.v4.new_notebook(), mlp)
    answers = [nbg(c)["grade_id"] for c in nb.cells if nbg(c).get("solution")]
    assert answers == ["answer_Linear", "answer_relu", "answer_MLP", "answer_train_classifier", "answer_accuracy"]
    for cell in nb.cells:
        if nbg(cell).get("solution"):
            assert "### BEGIN SOLUTION" in cell.source and not nbg(cell)["locked"]


def test_each_hidden_test_is_graded_in_exactly_one_cell_with_its_points(mlp, mlp_nb):
    points = sn.points_of_tests(mlp.hidden_tests)
    layout = SourceLayout.from_notebook(mlp_nb)
    graded = [n for names in layout.grade_cells.values() for n in names]
    assert sorted(graded) == sorted(points)
    for cell in mlp_nb.cells:
        if nbg(cell).get("grade") and nbg(cell)["grade_id"].startswith("test_"):
            assert nbg(cell)["points"] == sum(points[n] for n in layout.grade_cells[nbg(cell)["grade_id"]])


def test_notebook_total_is_hidden_points_plus_one_per_question(mlp, mlp_nb):
    total = sum(nbg(c).get("points", 0) for c in mlp_nb.cells)
    assert total == sum(sn.points_of_tests(mlp.hidden_tests).values()) + len(mlp.questions) == 24


def test_test_cells_run_public_checks_visibly_and_hidden_tests_hidden(mlp_nb):
    cell = next(c for c in mlp_nb.cells if nbg(c).get("grade_id") == "test_Linear")
    assert nbg(cell)["locked"] and nbg(cell)["grade"]
    visible = strip_hidden(cell.source)
    assert "nnzoo.check('test_linear_has_weight_and_bias_like_nn_linear')" in visible and "nnzoo.grade" not in visible
    assert "nnzoo.grade('test_linear_parameters_match_nn_linear'" in cell.source


def test_questions_are_graded_by_the_grader_and_their_key_is_only_in_solution_regions(mlp):
    nb = sn.add_questions(nbformat.v4.new_notebook(), mlp)
    grade_ids = ids(nb)
    assert {"question_q1", "answer_q1", "grade_q1", "grade_q3"} <= set(grade_ids)
    answer = next(c for c in nb.cells if nbg(c).get("grade_id") == "answer_q2")
    assert nbg(answer)["solution"] and f'answer_q2 = "{ANSWER_KEY["mlp"]["q2"]}"' in answer.source
    outside_solutions = "\n".join(outside(c.source, SOLUTION) for c in nb.cells)
    for q, letter in ANSWER_KEY["mlp"].items():
        assert f'"{letter}"' not in outside_solutions and answer_digest("mlp", q, letter) not in outside_solutions
    grade = next(c for c in nb.cells if nbg(c).get("grade_id") == "grade_q1")
    assert "nnzoo.answer('q1', 'answer_q1')" in grade.source


def test_answer_digest_ignores_case_and_blanks():
    assert answer_digest("mlp", "q1", " C ") == answer_digest("mlp", "q1", "c") != answer_digest("mlp", "q1", "b")
    assert answer_digest("mlp", "q1", "c") == hashlib.sha256(b"nnzoo:mlp:q1:c").hexdigest()


def test_hidden_setup_only_switches_to_grading(mlp):
    cell = sn.add_hidden_setup(nbformat.v4.new_notebook(), mlp).cells[0]
    assert nbg(cell)["grade"] and nbg(cell)["points"] == 0
    assert inside(cell.source, HIDDEN_TESTS) == ["nnzoo.load_hidden()"]


def test_kernelspec_is_python3(mlp):
    assert sn.add_kernelspec(nbformat.v4.new_notebook(), mlp).metadata.kernelspec.name == "python3"


# -- the whole notebook, every assignment ---------------------------------------------------

@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_notebook_is_valid_nbgrader(assignment):
    nb = sn.build_notebook(sn.Material.load(assignment))
    nbformat.validate(nb)
    MetadataValidator().validate_nb(nb)
    grade_ids = ids(nb)
    assert len(grade_ids) == len(set(grade_ids)) and all(re.fullmatch(r"[a-zA-Z0-9_-]+", g) for g in grade_ids)
    for cell in nb.cells:
        if "### BEGIN SOLUTION" in cell.source:
            assert nbg(cell).get("solution"), nbg(cell).get("grade_id")
        if "### BEGIN HIDDEN TESTS" in cell.source:
            assert nbg(cell).get("grade"), nbg(cell).get("grade_id")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_nothing_hidden_is_visible_once_hidden_tests_and_solutions_are_stripped(assignment):
    from autograder.course.stubs import stub_source

    nb = sn.build_notebook(sn.Material.load(assignment))
    visible = "\n".join(stub_source(strip_hidden(c.source)) for c in nb.cells)
    assert "load_hidden" not in visible and "nnzoo.grade(" not in visible


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_graded_notebook_carries_no_hidden_test_no_reference_and_no_key(assignment):
    """Hidden blocks come back when nbgrader grades, and the graded notebook becomes the
    student's feedback: only the answer cells' solution regions (which nbgrader stubs on
    release, and the student's own answer replaces) may hold the reference or the key."""
    a = course.assignment(assignment)
    nb = sn.build_notebook(sn.Material.load(assignment))
    graded = "\n".join(outside(c.source, SOLUTION) for c in nb.cells)
    public = a.public_tests.read_text() + a.stub.read_text()
    reference = {line for line in solution_lines(ROOT / "solutions") if line not in public}
    assert len(reference) > 50 and not leaking_lines(graded, reference)
    for test in named_tests(a.hidden_tests.read_text()):
        body = {code_part(l) for l in test.source.splitlines() if not is_trivial(l)}
        assert not [line for line in body if line in graded and line not in public], test.name
    for q, choice in ANSWER_KEY[assignment].items():
        assert answer_digest(assignment, q, choice) not in graded and f'"{choice}"' not in graded


def test_course_gets_a_config_once_and_the_notebook(tmp_path):
    from autograder.nbgrader.course import write_source

    written = write_source(tmp_path, ["mlp"])
    assert tmp_path / "nbgrader_config.py" in written and (tmp_path / "source" / "mlp" / "mlp.ipynb").is_file()
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n# mine\n")
    write_source(tmp_path, ["mlp"])
    assert "# mine" in (tmp_path / "nbgrader_config.py").read_text()


def test_data_files_of_an_assignment_are_the_ones_named_after_it(tmp_path):
    for name in ("transfer_pretrained.pt", "pretrain_transfer.py", "mlp_notes.txt", "README.md"):
        (tmp_path / name).write_text("x")
    (tmp_path / "gnn").mkdir()
    (tmp_path / "gnn" / "karate.csv").write_text("x")
    assert [p.name for p in sn.data_files("transfer", tmp_path)] == ["pretrain_transfer.py", "transfer_pretrained.pt"]
    assert [p.name for p in sn.data_files("gnn", tmp_path)] == ["karate.csv"]
