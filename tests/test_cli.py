"""The `nnzoo` command as instructors and students use it."""

import csv
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from test_gradebook_term import nnzoo  # in this process: torch imported once, the fork server warm

ROOT = Path(__file__).resolve().parent.parent
CORRECT = ROOT / "tests" / "submissions" / "mlp" / "correct_einsum.py"
BROKEN = ROOT / "tests" / "submissions" / "mlp" / "broken_no_value_error.py"


def nnzoo_process(*args):
    """`nnzoo ARGS` as a process of its own, as a user starts it."""
    return subprocess.run([sys.executable, "-m", "autograder.cli", *args], capture_output=True, text=True)


@pytest.mark.parametrize("command", ["test", "grade", "demo", "stubs", "feedback", "export", "gradescope"])
def test_every_command_has_help(command):
    result = nnzoo_process(command, "--help")
    assert result.returncode == 0 and "usage: nnzoo" in result.stdout


def test_missing_submissions_path_is_a_one_line_error(tmp_path):
    result = nnzoo("grade", str(tmp_path / "nope"), "--out", str(tmp_path / "out"))
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "does not exist" in result.stderr


def test_folder_with_nothing_gradable_is_a_one_line_error(tmp_path):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "notes.txt").write_text("hello")
    result = nnzoo("grade", str(tmp_path / "subs"), "--out", str(tmp_path / "out"))
    assert result.returncode != 0 and "holds no student" in result.stderr


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """A class: a folder, a zip with odd paths, a notebook, a broken notebook, an empty folder."""
    base = tmp_path_factory.mktemp("class")
    subs = base / "subs"
    (subs / "ann").mkdir(parents=True)
    shutil.copy(CORRECT, subs / "ann" / "mlp.py")
    with zipfile.ZipFile(subs / "ben.zip", "w") as zf:
        zf.writestr("../../escaped.py", "print('should never be written')")
        zf.writestr("/abs/mlp_notes.txt", "x")
        zf.writestr("ben/mlp.py", BROKEN.read_text())
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# my mlp"), nbformat.v4.new_code_cell("%matplotlib inline\n" + CORRECT.read_text())]
    (subs / "cleo").mkdir()
    nbformat.write(nb, subs / "cleo" / "mlp.ipynb")
    (subs / "dan").mkdir()
    (subs / "dan" / "mlp.ipynb").write_text("{ not json")
    (subs / "eve").mkdir()
    out = base / "out"
    result = nnzoo("grade", str(subs), "--out", str(out), "-a", "mlp")
    return base, out, result


def test_grade_writes_the_spec_files(graded_class):
    base, out, result = graded_class
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader((out / "grades.csv").open()))
    assert rows[0] == ["student", "mlp", "total"]
    scores = {r[0]: float(r[1]) for r in rows[1:]}
    data = json.loads((out / "grades.json").read_text())
    maximum = data["assignments"]["mlp"]["max_score"]
    assert scores["ann"] == maximum and scores["cleo"] == maximum
    assert 0 < scores["ben"] < maximum and scores["dan"] == 0 and scores["eve"] == 0
    student = data["students"][0]
    assert set(student) >= {"student", "total", "assignments"}
    test = student["assignments"]["mlp"]["tests"][0]
    assert set(test) >= {"name", "property", "score", "max_score", "status", "message"}
    assert {p.stem for p in (out / "feedback").iterdir()} == {"ann", "ben", "cleo", "dan", "eve"}


def test_bad_notebook_gets_a_clear_message(graded_class):
    _, out, _ = graded_class
    feedback = (out / "feedback" / "dan.md").read_text()
    assert "mlp.ipynb could not be read: not a valid notebook" in feedback


def test_zip_with_odd_paths_writes_nothing_outside(graded_class):
    base, _, _ = graded_class
    assert not list(base.parent.glob("escaped.py")) and not Path("/escaped.py").exists()


def test_regrading_in_parallel_gives_identical_grades(graded_class, tmp_path):
    """Regrading the class, now with `-j 2` (two judges, each its own fork server and uid),
    gives a byte-identical grades.json."""
    base, out, _ = graded_class
    again = nnzoo("grade", str(base / "subs"), "--out", str(tmp_path / "again"), "-a", "mlp", "-j", "2")
    assert again.returncode == 0, again.stderr
    first, second = (json.loads((folder / "grades.json").read_text()) for folder in (out, tmp_path / "again"))
    assert first.pop("generated") and second.pop("generated")  # when: the only field that may differ
    assert first == second
    assert (tmp_path / "again" / "grades.csv").read_text() == (out / "grades.csv").read_text()


def test_nnzoo_test_scores_the_stubs_zero_and_shows_hints():
    result = nnzoo("test", "mlp")
    assert result.returncode != 0
    assert "total" in result.stdout and "0/15" in result.stdout and "Hint:" in result.stdout


GOLDEN = ROOT / "tests" / "golden" / "demo_grades.json"


def test_demo_grades_the_bundled_class(tmp_path):
    """The sample class gets exactly the recorded grades: every test's status, points and
    message, byte for byte (a refactoring changes none of them). After a deliberate change
    of the hidden tests or messages, rewrite tests/golden/demo_grades.json from `nnzoo demo`."""
    result = nnzoo("demo", "--out", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    rows = {r[0]: r for r in csv.reader((tmp_path / "demo" / "grades.csv").open())}
    assert set(rows) == {"student", "alice", "bob", "carol"}
    assert float(rows["alice"][-1]) > float(rows["bob"][-1]) > float(rows["carol"][-1]) == 0
    graded = json.loads((tmp_path / "demo" / "grades.json").read_text())
    seen = {s["student"]: {a: [[t["name"], t["status"], t["score"], t["message"]] for t in r["tests"]]
                           for a, r in s["assignments"].items()} for s in graded["students"]}
    assert json.dumps(seen, indent=1, ensure_ascii=False) + "\n" == GOLDEN.read_text()


def test_a_second_grading_into_one_folder_is_refused_while_the_first_writes(tmp_path):
    """Two batches into one --out would each overwrite the other's records (a grade lost
    without a word); the second is refused, and a holder killed with -9 frees the folder."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    (subs / "ann").mkdir(parents=True)
    shutil.copy(CORRECT, subs / "ann" / "mlp.py")
    hold = ("import sys, time\nfrom pathlib import Path\nfrom autograder.atomic import sole_writer\n"
            "with sole_writer(Path(sys.argv[1])):\n    print('held', flush=True)\n    time.sleep(600)\n")
    holder = subprocess.Popen([sys.executable, "-c", hold, str(out)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline() == "held\n"
        refused = nnzoo("grade", str(subs), "--out", str(out), "-a", "mlp")
        assert refused.returncode == 2, refused.stderr
        assert f"another nnzoo run (process {holder.pid}) is writing into {out}" in refused.stderr
        assert refused.stderr.strip().count("\n") == 0 and not (out / "students").exists()
    finally:
        holder.kill()
        holder.wait()
    graded = nnzoo("grade", str(subs), "--out", str(out), "-a", "mlp")
    assert graded.returncode == 0, graded.stderr
    assert (out / "students" / "ann.json").is_file()


def test_two_writers_of_one_file_never_lose_their_temporary_file(tmp_path):
    """`write_atomic` from two threads at once: each write replaces the file whole (a fixed
    temporary name made one writer's `os.replace` find its file gone)."""
    from concurrent.futures import ThreadPoolExecutor

    from autograder.atomic import write_atomic

    path = tmp_path / "grades.json"
    versions = [f"{n}\n" * 1000 for n in range(2)]
    with ThreadPoolExecutor(2) as pool:
        for done in [pool.submit(lambda v=v: [write_atomic(path, v) for _ in range(300)]) for v in versions]:
            done.result()
    assert path.read_text() in versions and [p.name for p in tmp_path.iterdir()] == ["grades.json"]


def test_an_output_folder_that_cannot_be_written_is_one_line(tmp_path):
    """Before grading (a folder no one may make) and mid-batch (a feedback page that cannot
    be replaced): one line naming the file, exit 2, never a traceback."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    (subs / "eve").mkdir(parents=True)  # nothing handed in: graded without a worker
    unmakeable = nnzoo("grade", str(subs), "--out", "/sys/nnzoo-grades", "-a", "mlp")
    assert unmakeable.returncode == 2 and "cannot write into /sys/nnzoo-grades" in unmakeable.stderr
    assert unmakeable.stderr.strip().count("\n") == 0, unmakeable.stderr
    (out / "students").mkdir(parents=True)
    (out / "feedback" / "eve.md").mkdir(parents=True)  # in the way of eve's page
    blocked = nnzoo("grade", str(subs), "--out", str(out), "-a", "mlp")
    assert blocked.returncode == 2 and f"cannot write into {out}: Is a directory" in blocked.stderr
    assert "feedback/eve.md" in blocked.stderr and "Traceback" not in blocked.stderr


def test_a_record_that_cannot_be_read_is_named_not_dropped_silently(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    for student in ("eve", "fay"):
        (subs / student).mkdir(parents=True)  # nothing handed in: graded without a worker
    assert nnzoo("grade", str(subs), "--out", str(out), "-a", "mlp").returncode == 0
    (out / "students" / "eve.json").write_text('{"student": "eve", "assi')  # truncated by hand
    result = nnzoo("feedback", str(out))
    assert result.returncode == 0
    assert f"{out / 'students' / 'eve.json'} cannot be read" in result.stderr and "fay" not in result.stderr


@pytest.mark.parametrize("command", [["release", "--out", "{file}/bundle"], ["release", "--nbgrader", "{file}"],
                                     ["pack", "--student", "ann", "--no-tests", "--path", "{folder}", "--out", "{file}"]])
def test_an_output_path_with_a_file_in_the_way_is_one_line(tmp_path, command):
    (tmp_path / "mlp").mkdir()
    (tmp_path / "mlp" / "mlp.py").write_text("def f():\n    return 1\n")
    (tmp_path / "afile").write_text("mine")
    words = [w.format(file=tmp_path / "afile", folder=tmp_path) for w in command]
    result = nnzoo_process(*words, "-a", "mlp")
    assert result.returncode == 2, result.stderr
    assert f"cannot write into {tmp_path / 'afile'}" in result.stderr and "a file is where a folder must be" in result.stderr
    assert "Traceback" not in result.stderr and (tmp_path / "afile").read_text() == "mine"


def test_a_student_is_named_by_the_folder_name_or_the_id(tmp_path):
    """`--student "Zoë Ångström"` (the folder's name) and `--student Zoë_Ångström` (the id in
    grades.csv) pick the same student."""
    subs = tmp_path / "subs"
    for name in ("Zoë Ångström", "ann"):
        (subs / name).mkdir(parents=True)  # nothing handed in: graded without a worker
    result = nnzoo("grade", str(subs), "--out", str(tmp_path / "out"), "-a", "mlp", "--student", "Zoë Ångström")
    assert result.returncode == 0, result.stderr
    assert [p.name for p in (tmp_path / "out" / "students").iterdir()] == ["Zoë_Ångström.json"]


def test_nnzoo_test_with_the_path_of_one_assignment_runs_that_one():
    result = nnzoo_process("test", "--path", str(ROOT / "assignments" / "rnn"), "--quick")
    assert "== rnn: public tests" in result.stdout and "== mlp" not in result.stdout, result.stdout + result.stderr


def test_nnzoo_test_in_a_students_own_folder_tests_the_file_there(tmp_path):
    """Standing in a folder that holds mlp.py and test_mlp.py, `nnzoo test mlp` (or `nnzoo test`)
    tests that mlp.py, and only that; with mlp.py alone there, it says that what it tests is another file; with `mlp (1).py`
    instead, it names that file to rename."""
    (tmp_path / "mlp.py").write_text((ROOT / "solutions" / "mlp" / "mlp.py").read_text())
    alone = subprocess.run([sys.executable, "-m", "autograder.cli", "test", "mlp", "--quick"], cwd=tmp_path,
                           capture_output=True, text=True)
    assert "note: this tests" in alone.stderr and "not ./mlp.py" in alone.stderr, alone.stderr
    shutil.copy(ROOT / "assignments" / "mlp" / "test_mlp.py", tmp_path)
    beside = subprocess.run([sys.executable, "-m", "autograder.cli", "test", "mlp", "--quick"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert beside.returncode == 0 and f"public tests in {tmp_path}" in beside.stdout, beside.stdout + beside.stderr
    assert "note:" not in beside.stderr
    unnamed = subprocess.run([sys.executable, "-m", "autograder.cli", "test", "--quick"], cwd=tmp_path,
                             capture_output=True, text=True)  # `cd assignments/mlp && nnzoo test`: mlp alone
    assert unnamed.returncode == 0 and re.findall(r"^== (\w+):", unnamed.stdout, re.M) == ["mlp"], unnamed.stdout
    (tmp_path / "mlp.py").rename(tmp_path / "mlp (1).py")  # as a browser saves a second download
    misnamed = subprocess.run([sys.executable, "-m", "autograder.cli", "test", "mlp", "--quick"], cwd=tmp_path,
                              capture_output=True, text=True)
    assert "mlp.py not found next to the tests in" in misnamed.stdout and "but mlp (1).py is there: rename it to mlp.py" \
        in misnamed.stdout, misnamed.stdout


def test_a_c_call_that_never_returns_ends_a_public_run_at_the_students_line(tmp_path):
    """pytest-timeout's alarm cannot cut a long C call short (`sum(range(10**12))`): `nnzoo
    test` hung for ever (an outside audit waited 200 s).  Past twice the test's limit and a
    grace, the process ends, printing where it was."""
    (tmp_path / "stuck.py").write_text("def relu(x):\n    return sum(range(10**12))\n")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from autograder.judge.public import last_resort; import stuck\n"
            "with last_resort(0.2, grace=0.5):\n    stuck.relu(1)\n")
    ended = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert ended.returncode != 0 and "Timeout" in ended.stderr and "stuck.py\", line 2 in relu" in ended.stderr, ended.stderr


def test_the_console_names_each_submission_that_could_not_be_graded(capsys):
    """A misnamed file or an empty zip scores 0: the console says why, one line each (the
    feedback says it to the student), where it used to show only the zero."""
    from autograder import cli
    from autograder.load import StudentSubmission

    many = [StudentSubmission(f"s{i:02}", problems={"mlp": "the submission holds no file at all (an empty zip)"})
            for i in range(cli.MOST_PROBLEMS_SHOWN + 2)]
    cli._print_problems([StudentSubmission("ana", sources={"mlp": "x = 1"}), *many], ["mlp", "rnn"])
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "  s00, mlp: the submission holds no file at all (an empty zip)" and "ana" not in "".join(out)
    assert len(out) == 1 + cli.MOST_PROBLEMS_SHOWN + 1 and out[-1] == "  … and 2 more: see the feedback files"


def test_nnzoo_test_says_when_it_tests_the_stub_beside_a_notebook(tmp_path):
    """The bundle's notebook route leaves mlp.py as it came: `nnzoo test` then shows the stub's
    points ("not written yet"), and says that the work in mlp.ipynb is not what it tested."""
    import hashlib
    import json

    from autograder import cli
    from autograder.bundle import MARKER

    folder = tmp_path / "assignments" / "mlp"  # a bundle: the student edits the released stub in place
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "assignments" / "mlp" / "mlp.py", folder)
    (folder / "mlp.ipynb").write_text("{}")
    assert cli._notebook_note("mlp", folder) is None  # outside a bundle nothing tells the stub as released
    stub = hashlib.sha256((folder / "mlp.py").read_bytes()).hexdigest()
    (tmp_path / MARKER).write_text(json.dumps({"stubs_sha256": {"mlp": stub}}))
    assert "mlp.py is the stub as released and mlp.ipynb is beside it" in cli._notebook_note("mlp", folder)
    (folder / "mlp.py").write_text((folder / "mlp.py").read_text() + "x = 1\n")
    assert cli._notebook_note("mlp", folder) is None

