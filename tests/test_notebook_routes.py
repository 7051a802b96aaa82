"""One notebook, two routes, one score: an nbgrader notebook full of IPython syntax —
`%matplotlib inline`, `torch.clamp?`, `!ls`, and a `%%time` cell that defines a function
the grade depends on — scores the same (full marks) handed in as a plain file (`nnzoo
grade` of a folder) and collected by the nbgrader route (`nbgrader/collect.py`).  Both
turn each cell into Python with IPython's own input transformer."""

import copy
from pathlib import Path

import nbformat
import pytest

from autograder.batch import BatchOptions, grade_class, question_results, with_counted_questions
from autograder.course.stubs import stub_source
from autograder.course.term import Term
from autograder.load import StudentSubmission, load_entry
from autograder.nbgrader import source_notebook as sn
from autograder.nbgrader.collect import SourceLayout, collect, strip_hidden

RELU_UNDER_TIME = '''%%time
def relu(x):
    return torch.clamp(x, min=0)
'''


def notebook_with_ipython_syntax() -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    """(the instructor's source notebook, a student's answered copy of the released one),
    `relu` answered only in an added `%%time` cell."""
    source = sn.build_notebook(sn.Material.load("mlp"))
    nb = copy.deepcopy(source)
    for cell in nb.cells:
        cell.source = strip_hidden(stub_source(cell.source))
    answers = {c.metadata.nbgrader["grade_id"]: "\n".join(line for line in c.source.splitlines() if "### " not in line)
               for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers and gid != "answer_relu":  # relu stays the stub here …
            cell.source = answers[gid]
        if gid == "answer_Linear":
            cell.source = "%matplotlib inline\n" + cell.source
    nb.cells += [nbformat.v4.new_code_cell("torch.clamp?"), nbformat.v4.new_code_cell("!ls"),
                 nbformat.v4.new_code_cell(RELU_UNDER_TIME)]  # … and is written under %%time
    return source, nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    source, nb = notebook_with_ipython_syntax()
    data = nbformat.writes(nb).encode()
    base = tmp_path_factory.mktemp("routes")
    (base / "plain").mkdir()
    (base / "plain" / "mlp.ipynb").write_bytes(data)
    plain = load_entry(base / "plain", ["mlp"])
    collected = collect(data, SourceLayout.from_notebook(source), "mlp.ipynb")
    nbgrader = StudentSubmission("nbgrader", sources={"mlp": collected.code}, answers={"mlp": dict(collected.answers)})
    summary = grade_class([plain, nbgrader], BatchOptions(out=base / "out", assignments=["mlp"]))
    return {r.student: r.assignments["mlp"] for r in summary.records}, plain, collected


def test_both_routes_read_the_same_code_and_give_the_same_full_score(graded):
    results, plain_submission, collected = graded
    assert plain_submission.sources["mlp"] == collected.code
    assert "def relu(x):" in collected.code and "run_cell_magic" not in collected.code  # a %%time cell: its body
    assert "get_ipython().run_line_magic('pinfo', 'torch.clamp')" in collected.code
    assert "get_ipython().system('ls')" in collected.code
    plain, nbgrader = results["plain"], results["nbgrader"]
    assert [(t.name, t.status) for t in plain.tests] == [(t.name, t.status) for t in nbgrader.tests]
    assert plain.score == nbgrader.score == plain.max_score > 0, [t.line() for t in plain.tests if not t.passed]


def test_a_notebook_without_cell_ids_is_read_without_a_warning():
    """nbformat warns about a 4.5 notebook whose cells have no ids (older Jupyter, hand
    edits); the grader reads it all the same and says nothing on the console."""
    import json
    import warnings

    from autograder.load.notebook import read_notebook

    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": "x = 1"}
    data = json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code = read_notebook(data, "mlp.ipynb").code
    namespace: dict = {}
    exec(code, namespace)
    assert namespace["x"] == 1


def test_a_notebook_scores_as_jupyter_runs_it_cell_by_cell():
    """What runs in Jupyter, cell by cell, scores there too: a `from __future__` import that
    opens a later cell, after its docstring (one module needs it first), `display()` (a
    notebook builtin), magics inside a `%%time` cell (IPython transforms the body before
    it runs), and scratch cells that fail: an error ends only its cell, as on the nbgrader
    route (one with a syntax error is left out, with a note)."""
    from autograder.judge.run import grade_source
    from autograder.load.notebook import read_notebook
    from autograder.sandbox import SandboxLimits

    reference = (Path(__file__).parent / "submissions" / "mlp" / "correct_einsum.py").read_text()
    definitions, rest = reference.split("\nclass MLP", 1)
    cells = ["%load_ext autoreload\nimport torch",
             '"""My layers."""\nfrom __future__ import annotations\n' + definitions.replace("from __future__ import annotations\n", ""),
             "%%time\n!pip list\n%config InlineBackend.figure_format = 'svg'\nclass MLP" + rest,
             "display(MLP(2, [3], 2))", "def scratch(:\n    pass", "print(not_defined_yet)"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    read = read_notebook(nbformat.writes(nb).encode(), "mlp.ipynb")
    result = grade_source(read.code, "mlp", SandboxLimits(call_seconds=60))
    assert result.score == result.max_score, [t.message for t in result.tests if not t.passed][:2]
    assert read.notes == ["code cell 5 has a syntax error (line 1: invalid syntax); it was left out, as Jupyter would run none of it"]


def test_ipython_syntax_is_transformed_within_a_budget_per_notebook():
    """IPython's transformer costs (IPython lines × characters) of a cell: an audit's notebook
    of three 20,000-character cells of magics held the batch process 112 s before any grading
    (about 16 minutes per MiB).  Past the notebook's budget a cell runs as typed — here, left
    out as Jupyter would leave out a cell it cannot read — and the cells before keep theirs."""
    from autograder.load.notebook import read_notebook

    cells = ["%matplotlib inline\nx = 1", *["%a\n" * 6663] * 3, "y = 2"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    read = read_notebook(nbformat.writes(nb).encode(), "mlp.ipynb")
    assert "run_line_magic('matplotlib', 'inline')" in read.code and "y = 2" in read.code
    assert [n.split(" has ")[0] for n in read.notes] == ["code cell 2", "code cell 3", "code cell 4"], read.notes


def test_a_notebooks_error_is_placed_in_its_cell_not_in_the_joined_code():
    """A notebook is graded as its cells joined into one module; the feedback names the
    notebook's own cell and line ("mlp.ipynb, code cell 3, line 2"), not a line of code the
    student never saw ("mlp.py, line 210")."""
    from autograder.judge.run import grade_source
    from autograder.load.notebook import read_notebook
    from autograder.sandbox import SandboxLimits

    reference = (Path(__file__).parent / "submissions" / "mlp" / "correct_einsum.py").read_text()
    broken = "def relu(x):\n    raise RuntimeError('not yet')\n"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in (reference, "x = 1", broken)])
    result = grade_source(read_notebook(nbformat.writes(nb).encode(), "mlp.ipynb").code, "mlp", SandboxLimits(call_seconds=60))
    messages = [t.message for t in result.tests if not t.passed]
    assert messages and all("mlp.ipynb, code cell 3, line 2, in relu" in m and "mlp.py" not in m for m in messages), messages


def test_the_stub_as_released_beside_a_notebook_leaves_the_notebook_graded(tmp_path):
    """The bundle's notebook route leaves `mlp.py` as it came: handed in beside the finished
    `mlp.ipynb`, the stub is not what is graded (as `nnzoo pack` packs the notebook); an
    edited `mlp.py` still is."""
    reference = (Path(__file__).parent / "submissions" / "mlp" / "correct_einsum.py").read_text()
    notebook = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(reference)]))
    stub = stub_source((Path(__file__).parent.parent / "solutions" / "mlp" / "mlp.py").read_text())
    for student, py in (("quinn", stub), ("rosa", stub.replace("\n", "\r\n")), ("sam", stub + "x = 1\n")):
        (tmp_path / student).mkdir()
        (tmp_path / student / "mlp.py").write_bytes(py.encode())
        (tmp_path / student / "mlp.ipynb").write_text(notebook)
    for student in ("quinn", "rosa"):
        loaded = load_entry(tmp_path / student, ["mlp"])
        assert "einsum" in loaded.sources["mlp"] and any("the notebook was graded" in n for n in loaded.notes), loaded.notes
    loaded = load_entry(tmp_path / "sam", ["mlp"])
    assert loaded.sources["mlp"].endswith("x = 1\n") and any("mlp.py was graded" in n for n in loaded.notes)


def test_questions_a_notebook_invents_score_nothing_and_add_no_points(tmp_path):
    """A notebook's own layout decides which cells are answers, never which questions count:
    invented `answer_z*`/`grade_z*` pairs would otherwise raise what mlp is worth — and, through
    the class's maximum, every classmate's points possible."""
    _, nb = notebook_with_ipython_syntax()
    for i in range(5):
        nb.cells += [nbformat.v4.new_code_cell(f'answer_z{i} = "a"', metadata={"nbgrader": {"grade_id": f"answer_z{i}", "solution": True}}),
                     nbformat.v4.new_code_cell("", metadata={"nbgrader": {"grade_id": f"grade_z{i}", "grade": True, "points": 1}})]
    (tmp_path / "mallory").mkdir()
    (tmp_path / "mallory" / "mlp.ipynb").write_bytes(nbformat.writes(nb).encode())
    answers = load_entry(tmp_path / "mallory", ["mlp"]).answers["mlp"]
    assert "z0" in answers  # read from the notebook, as its layout declares …
    results = question_results("mlp", answers)  # … but scored against the course's key only
    assert [t.name for t in results] == ["question_q1", "question_q2", "question_q3"]
    assert sum(t.max_score for t in results) == 3


def test_a_choice_written_with_brackets_or_quotes_is_the_choice():
    """"(b)", "B)" or "'b'." is the choice b, on both routes (an outside audit found "(a)" marked
    wrong, 2026-12-04); another letter is still wrong."""
    from autograder.course import assignment
    from autograder.nbgrader.runtime import answer_digest

    key = assignment("mlp").answer_key
    for written in (lambda c: f"({c})", lambda c: f" {c}) ", lambda c: f"'{c}'.", str.upper):
        answers = {q: written(choice) for q, choice in key.items()}
        assert [t.score for t in question_results("mlp", answers)] == [1.0] * len(key), answers
        assert all(answer_digest("mlp", q, answers[q]) == answer_digest("mlp", q, choice) for q, choice in key.items())
    wrong = {q: "(" + ("a" if choice != "a" else "b") + ")" for q, choice in key.items()}
    assert [t.score for t in question_results("mlp", wrong)] == [0.0] * len(key)


def test_the_course_decides_whether_questions_count_never_a_students_notebook(tmp_path):
    """A notebook answering the questions in a class graded on its code once raised what mlp is
    worth for everyone (its questions in the class's maximum: 23/23 read 23/26).  The questions
    count where the course says (`nnzoo.toml`'s `questions = true`; the nbgrader route) — then
    for every student, answered or not — and nowhere else, the answers left out with a note."""
    mallory = StudentSubmission("mallory", answers={"mlp": {"q1": "c", "q2": "a", "q3": "b"}})  # handed in no code: graded at once
    ann = StudentSubmission("ann")

    def records(term):
        summary = grade_class([mallory, ann], BatchOptions(out=tmp_path / str(bool(term.questions)), assignments=["mlp"], term=term))
        return {r.student: r.assignments["mlp"] for r in summary.records}

    code_only = records(Term())
    assert not any(t.kind == "question" for r in code_only.values() for t in r.tests)
    assert code_only["mallory"].max_score == code_only["ann"].max_score
    assert any("conceptual questions were not graded" in note for note in code_only["mallory"].notes), code_only["mallory"].notes
    with_questions = records(Term(questions=frozenset({"mlp"})))
    for result in with_questions.values():
        assert [t.name for t in result.tests if t.kind == "question"] == ["question_q1", "question_q2", "question_q3"]
    assert with_questions["mallory"].max_score == with_questions["ann"].max_score == code_only["ann"].max_score + 3
    assert all(t.message == "no answer given" for t in with_questions["ann"].tests if t.kind == "question")


def test_counting_the_questions_from_now_on_regrades_every_student_on_resume():
    """With `questions = true` added, a student who handed in no answers is graded anew too:
    their record needs the questions' rows ("no answer given")."""
    ann = StudentSubmission("ann", sources={"mlp": "x = 1\n"})
    assert with_counted_questions(ann, {"mlp": True}).digest(["mlp"]) != with_counted_questions(ann, {"mlp": False}).digest(["mlp"])
