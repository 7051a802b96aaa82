"""What a notebook's cells call, run here in-process (no kernel): grading mode reads the
reference, the hidden tests and the answer key from the grader's own course, and no cell
nnzoo owns raises or prints grader code — what it prints becomes the student's feedback."""

import sys
import traceback

import pytest

from autograder import course
from autograder.bundle.leaks import code_part, is_trivial
from autograder.nbgrader.runtime import HiddenTestsMissing, NotebookGrader

MLP = course.assignment("mlp")
KEY = MLP.answer_key


def grader(code="import torch\n"):
    namespace = {}
    exec(code, namespace)
    return NotebookGrader("mlp", namespace, ["Linear", "relu", "MLP", "train_classifier", "accuracy"]), namespace


def hidden_lines():
    return {code_part(line) for line in MLP.hidden_tests.read_text().splitlines() if not is_trivial(line)}


def test_load_hidden_reads_reference_hidden_tests_and_answer_key_from_the_graders_course():
    nnzoo, namespace = grader()
    assert not nnzoo.grading
    nnzoo.load_hidden()
    assert nnzoo.grading and nnzoo.reference is not None
    assert nnzoo.hidden_tests.read_text() == MLP.hidden_tests.read_text()
    namespace["answer_q1"] = f" {KEY['q1'].upper()} "
    namespace["answer_q2"] = next(c for c in "abcd" if c != KEY["q2"])
    assert nnzoo.answer("q1", "answer_q1") == 1.0 and nnzoo.answer("q2", "answer_q2") == 0.0


def test_without_the_course_load_hidden_says_where_it_looked_and_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("NNZOO_ROOT", str(tmp_path))
    nnzoo, _ = grader()
    with pytest.raises(HiddenTestsMissing, match=f"{tmp_path}.*NNZOO_ROOT"):
        nnzoo.load_hidden()
    assert not nnzoo.grading


def test_notebooks_released_with_the_material_inline_still_grade():
    nnzoo, namespace = grader("def relu(x):\n    return x.clamp(min=0)\n")
    nnzoo.load_hidden(reference=MLP.reference.read_text(), tests=MLP.hidden_tests.read_text(), answers={})
    assert nnzoo.grade("test_relu_matches_reference") == 1.0


def test_an_interrupt_in_the_students_code_costs_the_cell_and_prints_one_line(capsys):
    # nbgrader's cell time limit interrupts the kernel, most likely inside the student's loop
    nnzoo, _ = grader("def relu(x):\n    raise KeyboardInterrupt\n")
    nnzoo.load_hidden()
    assert nnzoo.grade("test_relu_matches_reference") == 0.0
    out, err = capsys.readouterr()
    assert out == "Graded checks:\nthe hidden tests were interrupted (the cell's time limit?): 0 points\n" and not err


def test_a_grader_failure_costs_the_cell_and_prints_no_grader_text(monkeypatch, capsys):
    nnzoo, _ = grader()
    nnzoo.load_hidden()
    nnzoo.load_public("def test_x():\n    pass\n")
    secret = sorted(hidden_lines())[0]

    def broken(tests, names):
        raise ValueError(secret)

    monkeypatch.setattr(nnzoo, "_run", broken)
    assert nnzoo.grade("test_relu_matches_reference") == 0.0
    nnzoo.check("test_x")
    out, err = capsys.readouterr()
    assert "could not run (ValueError)" in out and secret not in out and not err


def test_a_traceback_through_the_reference_cannot_quote_it():
    assert "return torch.clamp(x, min=0)" in MLP.reference.read_text()
    nnzoo, _ = grader()
    nnzoo.load_hidden()
    try:
        sys.modules["nnzoo_reference_mlp"].relu("not a tensor")
    except TypeError:
        shown = traceback.format_exc()
    assert "<nnzoo reference mlp>" in shown and "return torch.clamp(x, min=0)" not in shown


def test_a_bare_assert_in_a_hidden_test_shows_its_message_and_no_expected_value(tiny_course, capsys, monkeypatch):
    """pytest's assertion rewriting would print `assert 2.0 == 8.125` and the expression's
    source; a verdict shows only what the test's author wrote for students."""
    # as in the kernel or the judge: no pytest session around this one rewrites its imports
    monkeypatch.setattr(sys, "meta_path", [f for f in sys.meta_path if type(f).__name__ != "AssertionRewritingHook"])
    (tiny_course / "solutions" / "tiny" / "test_hidden.py").write_text(
        "import pytest\nimport torch\n\n\n@pytest.mark.points(1)\ndef test_secret(submission):\n"
        "    out = submission.run('run', call='double', args=(torch.tensor([1.0]),), backward=False)['output']\n"
        "    secret_expected = 8.125\n"
        "    assert float(out.sum()) == secret_expected\n\n\n"
        "@pytest.mark.points(1)\ndef test_secret_with_message(submission):\n"
        "    assert 1 + 1 == 8.125, 'double the input'\n")
    namespace = {}
    exec("def double(x):\n    return 2 * x\n", namespace)
    nnzoo = NotebookGrader("tiny", namespace, ["double"])
    nnzoo.load_hidden()
    assert nnzoo.grade("test_secret", "test_secret_with_message") == 0.0
    out = capsys.readouterr().out
    assert "a check failed" in out and "double the input" in out
    assert "8.125" not in out and "secret_expected" not in out
