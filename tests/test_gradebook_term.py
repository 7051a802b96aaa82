"""The output folder is the gradebook, across a whole term: it never loses a grade, never
goes stale, and refuses what would mix students up — with one line, not a traceback.

Every test runs the real `nnzoo` command (its `main`, in this process) on throwaway
assignments (tests/conftest.py: `tiny`, and `teeny` beside it): a class grades in seconds.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from autograder import __version__
from autograder.cli import main

CORRECT = "import torch\n\ndef double(x):\n    return x + x\n"
BROKEN = "import torch\n\ndef double(x):\n    return x * 3\n"


def nnzoo(*args: str) -> subprocess.CompletedProcess:
    """`nnzoo ARGS` run in this process (the fork server stays warm between calls)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse: --version, usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    return subprocess.CompletedProcess(["nnzoo", *args], code, out.getvalue(), err.getvalue())


def make_class(root: Path, students: dict[str, dict[str, str]]) -> Path:
    subs = root / "subs"
    for student, files in students.items():
        (subs / student).mkdir(parents=True, exist_ok=True)
        for name, source in files.items():
            (subs / student / name).write_text(source)
    return subs


def rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "grades.csv").open() as fh:
        return {row["student"]: row for row in csv.DictReader(fh)}


def record(out: Path, student: str) -> dict:
    return json.loads((out / "students" / f"{student}.json").read_text())


def one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    message = result.stderr.strip()
    assert message.count("\n") == 0 and "Traceback" not in message, message
    assert all(w in message for w in words), message


def test_grading_some_assignments_keeps_the_others(two_tiny_assignments, tmp_path):
    subs = make_class(tmp_path, {"ann": {"tiny.py": CORRECT, "teeny.py": CORRECT}, "bob": {"tiny.py": BROKEN, "teeny.py": CORRECT}})
    out = tmp_path / "out"
    assert nnzoo("grade", str(subs), "--out", str(out), "-a", "tiny", "-a", "teeny").returncode == 0
    again = nnzoo("grade", str(subs), "--out", str(out), "-a", "tiny", "--resume")
    assert again.returncode == 0, again.stderr
    assert set(record(out, "ann")["assignments"]) == {"tiny", "teeny"}
    assert rows(out)["ann"] == {"student": "ann", "tiny": "3", "teeny": "3", "total": "6"}
    assert "## teeny" in (out / "feedback" / "ann.md").read_text()
    assert "kept 2" in again.stdout


def test_resume_regrades_what_a_changed_grader_or_a_grader_error_left_stale(tiny_course, tmp_path):
    subs = make_class(tmp_path, {"ann": {"tiny.py": CORRECT}, "bob": {"tiny.py": BROKEN}})
    out = tmp_path / "out"
    assert nnzoo("grade", str(subs), "--out", str(out)).returncode == 0
    # a grader error recorded for bob (as a crash of the grader would leave it)
    bob = record(out, "bob")
    bob["assignments"]["tiny"]["tests"][0]["status"] = "error"
    (out / "students" / "bob.json").write_text(json.dumps(bob))
    resumed = nnzoo("grade", str(subs), "--out", str(out), "--resume")
    assert "kept 1, graded 1 (1 grader error before)" in resumed.stdout, resumed.stdout
    # the instructor changes a hidden test's points: every grade is stale
    hidden = tiny_course / "solutions" / "tiny" / "test_hidden.py"
    hidden.write_text(hidden.read_text().replace("@pytest.mark.points(2)", "@pytest.mark.points(5)"))
    resumed = nnzoo("grade", str(subs), "--out", str(out), "--resume")
    assert "kept 0, graded 2 (2 grader changed)" in resumed.stdout, resumed.stdout
    data = json.loads((out / "grades.json").read_text())
    assert data["assignments"]["tiny"]["max_score"] == 6 and rows(out)["ann"]["tiny"] == "6"


def test_one_student_can_be_regraded_alone(tiny_course, tmp_path):
    subs = make_class(tmp_path, {"ann": {"tiny.py": CORRECT}, "bob": {"tiny.py": BROKEN}})
    out = tmp_path / "out"
    assert nnzoo("grade", str(subs), "--out", str(out)).returncode == 0
    ann_before = (out / "students" / "ann.json").read_text()
    (subs / "bob" / "tiny.py").write_text(CORRECT)
    result = nnzoo("grade", str(subs), "--out", str(out), "--student", "bob")
    assert result.returncode == 0, result.stderr
    assert rows(out)["bob"]["tiny"] == "3" and (out / "students" / "ann.json").read_text() == ann_before
    one_line_error(nnzoo("grade", str(subs), "--out", str(out), "--student", "zed"), "zed")


def test_grades_json_says_when_with_what_and_by_which_grader(tiny_course, tmp_path):
    subs = make_class(tmp_path, {"ann": {"tiny.py": CORRECT}})
    out = tmp_path / "out"
    assert nnzoo("grade", str(subs), "--out", str(out)).returncode == 0
    data = json.loads((out / "grades.json").read_text())
    assert data["generated"] and data["nnzoo"] == __version__ and len(data["fingerprints"]["tiny"]) == 16
    assert data["students"][0]["assignments"]["tiny"]["fingerprint"] == data["fingerprints"]["tiny"]
    version = nnzoo("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"nnzoo {__version__}"


@pytest.mark.parametrize("entries, named", [
    ({"Ana Lee": "folder", "Ana_Lee": "folder"}, ("Ana Lee", "Ana_Lee")),
    ({"bob": "folder", "bob.zip": "zip"}, ("bob", "bob.zip")),
    ({"dup": "folder", "Dup.zip": "zip"}, ("'Dup.zip'", "'dup'", "ignores case")),  # one file on macOS's disk
])
def test_two_entries_that_would_be_one_student_are_refused(entries, named, tiny_course, tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    for name, kind in entries.items():
        if kind == "zip":
            with zipfile.ZipFile(subs / name, "w") as zf:
                zf.writestr("tiny.py", CORRECT)
        else:
            (subs / name).mkdir()
            (subs / name / "tiny.py").write_text(CORRECT)
    result = nnzoo("grade", str(subs), "--out", str(tmp_path / "out"))
    one_line_error(result, *named)
    assert not (tmp_path / "out").exists()


def test_what_is_not_graded_or_no_longer_handed_in_is_said(tiny_course, tmp_path):
    """A folder hidden by its leading dot is named, not skipped in silence; macOS's
    __MACOSX/ is never a student; a student graded before whose folder is gone stays in
    grades.csv (nothing lost), and the run says so."""
    subs = make_class(tmp_path, {"ann": {"tiny.py": CORRECT}, "bob": {"tiny.py": CORRECT}, ".cid": {"tiny.py": CORRECT},
                                 "__MACOSX": {"tiny.py": BROKEN}})
    out = tmp_path / "out"
    first = nnzoo("grade", str(subs), "--out", str(out))
    assert first.returncode == 0 and set(rows(out)) == {"ann", "bob"}, first.stderr
    assert f"not graded: {subs / '.cid'}" in first.stdout and "MACOSX" not in first.stdout
    shutil.rmtree(subs / "bob")
    again = nnzoo("grade", str(subs), "--out", str(out), "--resume")
    assert set(rows(out)) == {"ann", "bob"} and "grades.csv still lists 1 student(s)" in again.stdout, again.stdout
    assert "bob" in again.stdout.split("still lists")[1]


def test_hidden_tests_that_cannot_be_collected_are_a_grader_error_not_an_interrupt(tiny_course, tmp_path):
    """pytest answers a collection error with the exit code of Ctrl-C: the batch must not
    take it for one (and stop, exit 130), but record a grader error and go on."""
    (tiny_course / "solutions" / "tiny" / "test_hidden.py").write_text("def test_(:\n")
    subs = make_class(tmp_path, {"ann": {"tiny.py": CORRECT}, "bob": {"tiny.py": CORRECT}})
    result = nnzoo("grade", str(subs), "--out", str(tmp_path / "out"))
    assert result.returncode == 1 and "grader error" in result.stderr and "interrupted" not in result.stderr, result.stderr
    assert set(rows(tmp_path / "out")) == {"ann", "bob"}


def test_names_in_any_script_keep_their_letters_and_stay_apart(tiny_course, tmp_path):
    """Ids keep letters of every script: "名前" and "学生" were both "student", and "José"
    and "Josè" one id, so the whole class was refused."""
    subs = make_class(tmp_path, {"José": {"tiny.py": CORRECT}, "Josè": {"tiny.py": BROKEN}, "名前": {"tiny.py": CORRECT},
                                 "学生": {"tiny.py": CORRECT}, "Zoë Ångström": {"tiny.py": CORRECT}})
    out = tmp_path / "out"
    result = nnzoo("grade", str(subs), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert set(rows(out)) == {"José", "Josè", "名前", "学生", "Zoë_Ångström"}
    assert rows(out)["José"]["tiny"] != rows(out)["Josè"]["tiny"]
    assert (out / "feedback" / "名前.md").exists()


def test_an_output_folder_inside_the_class_or_on_a_file_and_zero_jobs_are_refused(tiny_course, tmp_path):
    subs = make_class(tmp_path, {"ann": {"tiny.py": CORRECT}})
    one_line_error(nnzoo("grade", str(subs), "--out", str(subs / "grades")), "inside the submissions folder")
    one_line_error(nnzoo("grade", str(subs), "--out", str(subs)), "inside the submissions folder")
    (tmp_path / "a_file").write_text("x")
    one_line_error(nnzoo("grade", str(subs), "--out", str(tmp_path / "a_file")), "is a file")
    one_line_error(nnzoo("grade", str(subs), "--out", str(tmp_path / "a_file" / "grades")), "a_file is a file")
    mine = tmp_path / "my_marks"  # a folder of the instructor's own: its grades.csv is not overwritten
    mine.mkdir()
    (mine / "grades.csv").write_text("student,mark\nann,A\n")
    one_line_error(nnzoo("grade", str(subs), "--out", str(mine)), "holds files nnzoo did not write (grades.csv)")
    assert (mine / "grades.csv").read_text() == "student,mark\nann,A\n"
    finder = tmp_path / "from_a_mac"  # a folder holding only the Finder's .DS_Store is as good as empty
    finder.mkdir()
    (finder / ".DS_Store").write_bytes(b"\0")
    assert nnzoo("grade", str(subs), "--out", str(finder)).returncode == 0
    one_line_error(nnzoo("grade", str(subs), "--out", str(tmp_path / "out"), "-j", "0"), "-j must be at least 1")


def test_an_unreadable_entry_does_not_pull_every_assignment_into_the_run(two_tiny_assignments, tmp_path):
    """The class handed in `tiny` only: a corrupt zip beside them is that student's zero in
    `tiny`, not a reason to grade (and show as "not submitted") `teeny` for everyone."""
    subs = make_class(tmp_path, {"ann": {"tiny.py": CORRECT}})
    (subs / "bob.zip").write_bytes(b"not a zip at all")
    out = tmp_path / "out"
    result = nnzoo("grade", str(subs), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert (out / "grades.csv").read_text().splitlines()[0] == "student,tiny,total"
    assert "not a zip file" in (out / "feedback" / "bob.md").read_text()


def test_a_student_who_handed_nothing_in_is_not_submitted_and_out_of_the_pass_rates(two_tiny_assignments, tmp_path):
    subs = make_class(tmp_path, {"ann": {"tiny.py": CORRECT, "teeny.py": CORRECT}, "bob": {"tiny.py": BROKEN}})
    out = tmp_path / "out"
    assert nnzoo("grade", str(subs), "--out", str(out), "-a", "tiny", "-a", "teeny").returncode == 0
    assert record(out, "bob")["assignments"]["teeny"]["submitted"] is False
    overview = (out / "overview.md").read_text()
    assert "| teeny | 3 | 1/2 |" in overview
    assert "| test_doubles | doubling | 1/1 |" in overview.split("## teeny")[1]
    assert "Not submitted." in (out / "feedback" / "bob.md").read_text().split("## teeny")[1]
