"""Bad input loses only the affected points, with a clear reason; nothing else breaks."""

import warnings
import zipfile
from pathlib import Path

import pytest

from autograder.judge.run import grade_source
from autograder.load import load_entry
from autograder.sandbox import SandboxLimits

REFERENCE = (Path(__file__).parent / "submissions" / "mlp" / "correct_einsum.py").read_text()
# generous per call (a loaded CI machine must not turn slow training into a timeout);
# the hang test alone uses a short limit (its busy loop burns a core until then; mlp's
# longest call, the spirals training, takes under 0.5 s here)
LIMITS = SandboxLimits(call_seconds=60, memory_bytes=3 * 1024**3)
HANG_LIMITS = SandboxLimits(call_seconds=5, memory_bytes=3 * 1024**3)


def grade(text, limits=LIMITS):
    return grade_source(text, "mlp", limits)


def by_name(result):
    return {t.name: t for t in result.tests}


def test_missing_file_fails_every_test_with_the_reason():
    result = grade(None)
    assert result.score == 0 and result.max_score > 0
    assert all("no mlp.py" in t.message for t in result.tests)


def test_a_file_saved_with_a_bom_and_windows_line_endings_scores_as_python_runs_it(tmp_path):
    """Some Windows editors start a UTF-8 file with a byte-order mark; Python runs it, so
    the grader reads it the same way (it was a syntax error at line 1, and 0 points)."""
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "mlp.py").write_bytes(b"\xef\xbb\xbf" + REFERENCE.replace("\n", "\r\n").encode())
    result = grade(load_entry(tmp_path / "ann", ["mlp"]).sources["mlp"])
    assert result.score == result.max_score, [t.message for t in result.tests if not t.passed][:1]


def test_a_file_in_the_encoding_its_coding_line_names_scores_as_python_runs_it(tmp_path):
    """PEP 263: `# -*- coding: latin-1 -*-` makes Python read the file as Latin-1; the
    grader reads it the same way, and so does the worker's import (it was mojibake, a
    failed assertion at import, and 0 points)."""
    author = 'AUTHOR = "Zoë Ångström"\nassert AUTHOR == "Zo\\u00eb \\u00c5ngstr\\u00f6m", AUTHOR\n'
    (tmp_path / "zoe").mkdir()
    (tmp_path / "zoe" / "mlp.py").write_bytes(f"# -*- coding: latin-1 -*-\n{author}{REFERENCE}".encode("latin-1"))
    text = load_entry(tmp_path / "zoe", ["mlp"]).sources["mlp"]
    assert 'AUTHOR = "Zoë Ångström"' in text
    result = grade(text)
    assert result.score == result.max_score, [t.message for t in result.tests if not t.passed][:1]


def test_a_nearly_right_file_name_is_named_in_the_reason(tmp_path):
    """`MLP.py`, `mlp (1).py` (a second download), `mlp-2.ipynb`, `mlp.py.txt` (Windows, its
    extensions hidden), `hw1_mlp.py`, `mlp_final.py`: the grader reads `mlp.py` only, and says
    which file it found instead of "no mlp.py found" ("Not submitted" for the last three until
    an outside audit, 2026-12-04); a copied `test_mlp.py` is not taken for it."""
    assert "mlp" not in load_entry(_entry_with(tmp_path / "tests_only", "test_mlp.py"), ["mlp"]).problems
    for name in ("MLP.py", "mlp (1).py", "mlp-2.ipynb", "mlp.py.txt", "hw1_mlp.py", "mlp_final.py"):
        entry = tmp_path / name.replace(".", "_")
        (entry / "hw").mkdir(parents=True)
        (entry / "hw" / name).write_text(REFERENCE)
        problem = load_entry(entry, ["mlp"]).problems["mlp"]
        meant = "mlp.ipynb" if name.endswith(".ipynb") else "mlp.py"
        assert f"hw/{name}" in problem and f"rename it to {meant}" in problem, problem
    with zipfile.ZipFile(tmp_path / "ann.zip", "w") as zf:
        zf.writestr("MLP.py", REFERENCE)
        zf.writestr("rnn.py", "x = 1\n")
    ann = load_entry(tmp_path / "ann.zip", ["mlp", "rnn"])
    assert "MLP.py" in ann.problems["mlp"] and "rnn" not in ann.problems and ann.sources["rnn"] == "x = 1\n"


def _entry_with(entry, name, text=REFERENCE):
    entry.mkdir(parents=True)
    (entry / name).write_text(text)
    return entry


def test_a_notebook_saved_as_a_py_file_is_graded_as_the_notebook(tmp_path):
    """A notebook saved under `mlp.py` (its JSON) was graded as Python: "name 'null' is not
    defined" and 0 points.  It is the notebook: graded as one, with a note."""
    import nbformat

    notebook = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(REFERENCE)]))
    sub = load_entry(_entry_with(tmp_path / "yara", "mlp.py", notebook), ["mlp"])
    assert "class MLP" in sub.sources["mlp"] and "null" not in sub.sources["mlp"]
    assert any("holds a Jupyter notebook" in note and "mlp.ipynb" in note for note in sub.notes), sub.notes


def test_an_upper_case_zip_is_graded_and_a_loose_file_is_named(tmp_path):
    """`Frank.ZIP` (Windows) was skipped without a word, and so was `victor.tar.gz`; a class
    folder of loose files (an LMS's flat download) was refused without saying why."""
    from autograder.load import NothingToGrade, entries, loose_files

    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "andersonalice_12345_67890_mlp.py").write_text(REFERENCE)
    with pytest.raises(NothingToGrade, match="only 1 file.*andersonalice_12345_67890_mlp.py.*one folder \\(or .zip\\) per student"):
        entries(flat)
    with zipfile.ZipFile(tmp_path / "Frank.ZIP", "w") as zf:
        zf.writestr("mlp.py", REFERENCE)
    (tmp_path / "victor.tar.gz").write_bytes(b"\x1f\x8b")
    (tmp_path / "Frank.timestamp.txt").write_text("2026-10-20 22:00:00 UTC")  # the instructor's: not a loose file
    assert [e.name for e in entries(tmp_path)] == ["Frank.ZIP", "flat"] and loose_files(tmp_path) == ["victor.tar.gz"]
    frank = load_entry(tmp_path / "Frank.ZIP", ["mlp"])
    assert frank.student == "Frank" and frank.sources["mlp"] == REFERENCE


def test_a_notebook_handed_in_beside_the_py_file_is_said_to_be_left_out(tmp_path):
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "mlp.py").write_text("x = 1\n")
    (tmp_path / "ann" / "mlp.ipynb").write_text("{}")
    ann = load_entry(tmp_path / "ann", ["mlp"])
    assert ann.sources["mlp"] == "x = 1\n" and "mlp.py was graded, the notebook was not" in " ".join(ann.notes)


def test_a_zip_inside_the_submission_is_named_in_the_reason(tmp_path):
    """A zip of a zip (an LMS download zipped again), or a folder holding the zip: the grader
    opens no zip inside a submission, and says which one it found instead of "not submitted"."""
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("mlp.py", REFERENCE)
    with zipfile.ZipFile(tmp_path / "ann.zip", "w") as zf:
        zf.write(inner, "hw/inner.zip")
        zf.writestr("__MACOSX/._inner.zip", "")
    (tmp_path / "bob" / "week3").mkdir(parents=True)
    (tmp_path / "bob" / "week3" / "bob_mlp.ZIP").write_bytes(inner.read_bytes())
    for entry, path in (("ann.zip", "hw/inner.zip"), ("bob", "week3/bob_mlp.ZIP")):
        problem = load_entry(tmp_path / entry, ["mlp"]).problems["mlp"]
        assert f"but {path} — a zip inside the submission is not opened" in problem, problem


def test_a_zip_says_which_copy_it_read_and_why_a_file_it_found_was_not(tmp_path):
    """A draft and its update in one zip: the copy added last is graded, and the feedback
    says so; a file too large to read is named as such, not "no mlp.py"; macOS's
    `__MACOSX/` folder is never the student's file."""
    with zipfile.ZipFile(tmp_path / "ann.zip", "w") as zf:
        zf.writestr("__MACOSX/mlp.py", "junk = 1\n")
        zf.writestr("hw/mlp.py", "draft = 1\n")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns of the duplicate name
            zf.writestr("hw/mlp.py", "final = 1\n")
        zf.writestr("rnn.py", "#" * (3 * 2**20))
    ann = load_entry(tmp_path / "ann.zip", ["mlp", "rnn"])
    assert ann.sources["mlp"] == "final = 1\n"
    assert any("hw/mlp.py is in the zip 2 times" in note for note in ann.notes), ann.notes
    assert "rnn" not in ann.sources and "rnn.py inflates to more than 2 MiB" in ann.problems["rnn"]


def test_two_files_of_one_name_at_one_depth_are_both_named(tmp_path):
    """`final/mlp.py` and `backup/mlp.py` (a folder, a zip): nnzoo cannot tell which the student
    meant; it grades one (the first by path, the same every time) and the feedback names the
    other, where an outside audit found the backup graded without a word."""
    for folder in ("final", "backup"):
        (tmp_path / "kim" / folder).mkdir(parents=True)
        (tmp_path / "kim" / folder / "mlp.py").write_text(f"{folder} = 1\n")
    with zipfile.ZipFile(tmp_path / "lee.zip", "w") as zf:
        zf.writestr("final/mlp.py", "final = 1\n")
        zf.writestr("backup/mlp.py", "backup = 1\n")
    for entry in ("kim", "lee.zip"):
        loaded = load_entry(tmp_path / entry, ["mlp"])
        assert loaded.sources["mlp"] == "backup = 1\n"
        assert any("2 files named mlp.py at the same depth: backup/mlp.py was graded, not final/mlp.py" in note
                   for note in loaded.notes), loaded.notes


def test_paths_from_a_zip_are_shown_escaped_short_and_few(tmp_path):
    """A member's path reaches the instructor's terminal and the feedback: control characters
    there rewrote the console (a forged "23/23" line, an erased heading, a new window title)
    and 9,000 rival files made a 2.2 MB note (an audit, 2026-12-04)."""
    forged = "\r\x1b[2K\x1b[1A\x1b]0;all good\x07  mallory  mlp  23/23\n\x1b[8m/mlp_final.py"
    with zipfile.ZipFile(tmp_path / "mallory.zip", "w") as zf:
        zf.writestr(forged, "x = 1\n")
    problem = load_entry(tmp_path / "mallory.zip", ["mlp"]).problems["mlp"]
    assert "\x1b" not in problem and "\r" not in problem and "\n" not in problem and "\\x1b[2K" in problem, problem
    with zipfile.ZipFile(tmp_path / "nina.zip", "w") as zf:
        zf.writestr("a/mlp.py", "x = 1\n")
        for i in range(300):
            zf.writestr(f"{'b' * 200}{i:03d}/mlp.py", "")
    note = next(n for n in load_entry(tmp_path / "nina.zip", ["mlp"]).notes if "same depth" in n)
    assert note.startswith("301 files named mlp.py at the same depth: a/mlp.py was graded") and "and 295 more" in note
    assert len(note) < 1000, len(note)


def test_an_empty_zip_or_folder_is_named_as_such_not_as_missing(tmp_path):
    """The student uploaded something, which held nothing: "Not submitted." was wrong."""
    zipfile.ZipFile(tmp_path / "dora.zip", "w").close()
    (tmp_path / "eli").mkdir()
    for entry, kind in (("dora.zip", "zip"), ("eli", "folder")):
        loaded = load_entry(tmp_path / entry, ["mlp"])
        assert loaded.problems["mlp"] == f"the submission holds no file at all (an empty {kind})"


def test_a_file_that_is_not_utf8_is_read_with_a_note(tmp_path):
    """A file saved as cp1252 (an accent in a comment): Python refuses it, the grader reads
    the byte as "�" — and now says so, where it used to say nothing."""
    (tmp_path / "fay").mkdir()
    (tmp_path / "fay" / "mlp.py").write_bytes("# Schritt für Schritt\nx = 1\n".encode("cp1252"))
    loaded = load_entry(tmp_path / "fay", ["mlp"])
    assert loaded.sources["mlp"] == "# Schritt f\ufffdr Schritt\nx = 1\n"
    assert any("mlp.py is not valid utf-8 (byte 12" in note and "save it as UTF-8" in note for note in loaded.notes), loaded.notes
    (tmp_path / "gil").mkdir()
    (tmp_path / "gil" / "mlp.py").write_bytes("# -*- coding: latin-1 -*-\n# für\n".encode("latin-1"))
    assert not load_entry(tmp_path / "gil", ["mlp"]).notes


def test_syntax_error_names_the_line():
    result = grade("def f(:\n    pass\n")
    assert result.score == 0
    assert all("syntax error (line 1" in t.message for t in result.tests)


def test_exception_at_import_is_reported():
    result = grade("raise RuntimeError('boom')\n")
    assert result.score == 0
    assert "RuntimeError when importing it: boom" in result.tests[0].message


def test_keyboard_input_is_named_as_such_at_import_and_in_a_call():
    """Graded code has no keyboard: `input()` meets the end of the input at once, and the
    message says so (it said only "EOFError: EOF when reading a line")."""
    at_import = grade("name = input('your name: ')\n")
    assert at_import.score == 0
    assert all("EOFError when importing it" in t.message and "(mlp.py, line 1" in t.message
               and "no keyboard input" in t.message for t in at_import.tests), at_import.tests[0].message
    in_a_call = by_name(grade(REFERENCE.replace("def relu(x):", "def relu(x):\n    input('continue?')")))
    message = in_a_call["test_relu_matches_reference"].message
    assert "raised EOFError" in message and "no keyboard input" in message, message


def test_exit_at_import_is_reported():
    result = grade("import os\nos._exit(0)\n")
    assert result.score == 0
    assert "worker process ended" in result.tests[0].message


def test_missing_function_costs_only_its_tests():
    result = grade(REFERENCE.replace("def accuracy(", "def _accuracy("))
    failed = {n for n, t in by_name(result).items() if t.status != "passed"}
    assert failed == {"test_accuracy_is_argmax_fraction"}
    assert "defines no `accuracy`" in by_name(result)["test_accuracy_is_argmax_fraction"].message


def test_wrong_signature_is_explained():
    result = grade(REFERENCE.replace("def relu(x):", "def relu(x, inplace):"))
    assert by_name(result)["test_relu_matches_reference"].status == "failed"
    assert "TypeError" in by_name(result)["test_relu_matches_reference"].message


def test_non_tensor_output_is_named():
    result = grade(REFERENCE.replace("    return torch.where(x > 0, x, torch.zeros_like(x))", "    return x.tolist()"))
    message = by_name(result)["test_relu_matches_reference"].message
    assert "should be a torch.Tensor, got a list" in message


def test_a_hang_times_out_and_the_other_tests_still_run():
    hang = REFERENCE.replace("def relu(x):\n", "def relu(x):\n    while True:\n        pass\n")
    result = grade(hang, HANG_LIMITS)
    relu = by_name(result)["test_relu_matches_reference"]
    assert relu.reason == "timeout" and "within 5 s" in relu.message
    assert result.score == result.max_score - relu.max_score


def test_a_hang_at_import_fails_every_test_after_one_wait():
    """An import that does not finish would not finish the next time either: each of the 17
    tests waited its own call limit for it (8.5 minutes a student at 30 s, an outside audit,
    2026-12-04).  The first wait decides for every test, and the message points at the
    top-level code."""
    import time

    start = time.monotonic()
    result = grade(REFERENCE + "\nwhile True:\n    pass\n", HANG_LIMITS)
    assert time.monotonic() - start < 3 * HANG_LIMITS.call_seconds
    assert {t.reason for t in result.tests} == {"timeout"} and result.score == 0
    assert all("importing your module did not finish" in t.message and "__main__" in t.message for t in result.tests)


def test_memory_blow_up_is_contained():
    hog = REFERENCE.replace("def relu(x):\n", "def relu(x):\n    hog = torch.ones(2**33, dtype=torch.uint8)\n")
    result = grade(hog)
    relu = by_name(result)["test_relu_matches_reference"]
    assert relu.status == "failed" and "memory" in relu.message.lower()
    assert result.score == result.max_score - relu.max_score


def test_same_submission_same_result():
    first, second = grade(REFERENCE), grade(REFERENCE)
    assert first.tests == second.tests
