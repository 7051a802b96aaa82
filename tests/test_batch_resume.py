"""A batch that never loses a grade: kill -9 mid-run, resume, nothing lost or duplicated,
a changed submission regraded.  (-j 2 against -j 1: tests/test_cli.py.)"""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from test_gradebook_term import nnzoo

SUBS = Path(__file__).parent / "submissions" / "mlp"
CLASS = {"a1": "correct_einsum", "a2": "broken_bias_ignored", "a3": "broken_no_value_error"}


def make_class(root: Path) -> Path:
    for student, variant in CLASS.items():
        (root / "subs" / student).mkdir(parents=True)
        shutil.copy(SUBS / f"{variant}.py", root / "subs" / student / "mlp.py")
    return root / "subs"


def grade(subs: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    """`nnzoo grade` in this process (its fork server and reference warm): the runs to kill are the subprocesses."""
    return nnzoo("grade", str(subs), "--out", str(out), "-a", "mlp", *extra)


def scores(out: Path) -> dict:
    data = json.loads((out / "grades.json").read_text())
    return {s["student"]: s["total"] for s in data["students"]}


def recorded_total(out: Path, student: str) -> float:
    record = json.loads((out / "students" / f"{student}.json").read_text())
    return sum(a["score"] for a in record["assignments"].values())


def test_kill_9_then_resume_loses_and_duplicates_nothing(tmp_path):
    subs = make_class(tmp_path)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "autograder.cli", "grade", str(subs), "--out", str(out), "-a", "mlp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list((out / "students").glob("*.json"))) < 1:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.name: p.stat().st_mtime_ns for p in (out / "students").glob("*.json")}
    assert 1 <= len(done_before) < len(CLASS), "the kill should land mid-batch"
    recorded = {name[:-5] for name in done_before}
    listed = set(scores(out)) if (out / "grades.json").exists() else set()
    newest = max(done_before, key=done_before.get)[:-5]
    # the class files are written right after each record: the kill may land in between
    assert listed in (recorded, recorded - {newest}), "grades.json is a consistent view of the records"

    # a graded student changes their submission before the resume: it must be regraded
    changed = sorted(done_before)[0][:-5]
    before = recorded_total(out, changed)
    other = "broken_bias_ignored" if CLASS[changed] == "correct_einsum" else "correct_einsum"
    shutil.copy(SUBS / f"{other}.py", subs / changed / "mlp.py")
    del done_before[f"{changed}.json"]
    result = grade(subs, out, "--resume")
    assert result.returncode == 0, result.stderr
    assert sorted(scores(out)) == sorted(CLASS)
    lines = (out / "grades.csv").read_text().splitlines()
    assert len(lines) == 1 + len(CLASS)
    for name, mtime in done_before.items():  # unchanged students were not regraded
        assert (out / "students" / name).stat().st_mtime_ns == mtime
    assert scores(out)[changed] != before


def as_a_terminals_foreground_job() -> None:
    """SIGINT at its default, as a shell gives the command it runs in the foreground: a
    test run started in the background of a script (`pytest … &`) ignores SIGINT, and its
    children would inherit that and never see the press."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_the_batch_at_once_and_resume_grades_the_rest(tmp_path):
    """Ctrl-C (SIGINT to the terminal's whole process group, spawned judges included) stops
    `nnzoo grade -j 2` with exit 130 and a one-line message: no traceback, no student
    recorded as a grader error for being interrupted (each press used to zero one student
    and the batch went on); `--resume` grades the rest."""
    subs = make_class(tmp_path)
    copies = ("a4", "a5", "a6", "a7", "a8", "a9")  # the press lands after the first record, with seconds of grading left
    for student in copies:
        shutil.copytree(subs / "a1", subs / student)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "autograder.cli", "grade", str(subs), "--out", str(out), "-a", "mlp",
                             "-j", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=as_a_terminals_foreground_job)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list((out / "students").glob("*.json"))) < 1:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)
    pressed = time.monotonic()
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert time.monotonic() - pressed < 15, "the batch went on after Ctrl-C"
    assert "interrupted" in stderr and "--resume" in stderr and "Traceback" not in stderr, stderr
    written = list((out / "students").glob("*.json"))
    assert 1 <= len(written) < 3 + len(copies), "Ctrl-C should land mid-batch"
    for path in written:
        assert '"error"' not in path.read_text(), f"{path.name} was recorded as a grader error"
    result = grade(subs, out, "--resume")
    assert result.returncode == 0, result.stderr
    assert sorted(scores(out)) == sorted([*CLASS, *copies])
    assert scores(out)["a4"] == scores(out)["a1"] == 23


PRESSED_WHILE_TORCH_LOADS = """
import os, signal, sys

class PressWhenNumpyLoads:  # torch's C start imports numpy: Ctrl-C lands inside it
    def find_spec(self, name, path=None, target=None):
        if name == "numpy":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)

sys.meta_path.insert(0, PressWhenNumpyLoads())
from autograder.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_ctrl_c_while_torch_is_first_imported_stops_the_batch(tmp_path):
    """torch's C start clears any error of its numpy import: a press landing there was lost
    and the batch graded the whole class (exit 0), or numpy was left half imported (exit 1).
    It is held until torch is imported, then stops the batch like any other press."""
    subs = make_class(tmp_path)
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-c", PRESSED_WHILE_TORCH_LOADS, "grade", str(subs), "--out", str(out),
                             "-a", "mlp"], capture_output=True, text=True, timeout=120,
                            preexec_fn=as_a_terminals_foreground_job)
    assert result.returncode == 130, result.stderr
    assert "interrupted — 0 of 3 students" in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not list((out / "students").glob("*.json"))


def test_a_ctrl_c_while_torch_is_first_imported_stops_nnzoo_test(tmp_path):
    """The student's loop too: `nnzoo test` stops with exit 130 instead of running the tests."""
    result = subprocess.run([sys.executable, "-c", PRESSED_WHILE_TORCH_LOADS, "test", "mlp"], capture_output=True,
                            text=True, timeout=120, preexec_fn=as_a_terminals_foreground_job)
    assert result.returncode == 130 and "nnzoo: interrupted" in result.stderr, result.stdout + result.stderr


class DroppedCtrlC:
    """An object whose destructor meets Ctrl-C: what happened when SIGINT landed in one of
    matplotlib's weakref callbacks (Python prints "Exception ignored" and goes on)."""

    def __del__(self) -> None:
        raise KeyboardInterrupt


def test_a_ctrl_c_dropped_in_a_destructor_still_stops_the_batch(tmp_path, monkeypatch, capsys):
    """The press is remembered and the batch stops after the student it landed on, quietly:
    exit 130, no traceback, the other students left to `--resume`."""
    from autograder.cli import run_grading
    from autograder.report import progress

    shown = progress.grading_progress

    def progress_meeting_ctrl_c(students: int):
        with shown(students) as advance:
            def advance_and_drop(record) -> None:
                advance(record)
                DroppedCtrlC()  # dropped at once: its KeyboardInterrupt cannot be raised
            yield advance_and_drop

    monkeypatch.setattr(progress, "grading_progress", contextlib.contextmanager(progress_meeting_ctrl_c))
    out = tmp_path / "out"
    assert run_grading(make_class(tmp_path), out, ["mlp"], 1, resume=False) == 130
    stderr = capsys.readouterr().err
    assert "interrupted — 1 of 3 students" in stderr and "Traceback" not in stderr, stderr
    assert len(list((out / "students").glob("*.json"))) == 1
