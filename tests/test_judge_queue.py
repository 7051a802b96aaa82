"""How `-j N` shares a class among its judges: the last students go one assignment at a time
(so that no judge idles for most of a student at the end), their records come back in parts
and each student's record is written once whole, the spawned judges start when the batch is
entered (side by side with the preflight), not when the first student is due, and they end
with the batch however it ends."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
from pathlib import Path

import autograder.batch as batch
from autograder.batch import BatchOptions, grade_class, load_records
from autograder.batch.executors import SPLIT_TAIL_PER_JUDGE, LocalExecutor, judge_queue
from autograder.cli import run_grading
from autograder.judge.result import AssignmentResult, StudentRecord
from autograder.load import StudentSubmission, load_class

BOTH = ["tiny", "teeny"]


def names(queue) -> list[tuple[str, list[str]]]:
    return [(sub.student, assignments) for sub, assignments in queue]


def test_one_judge_takes_whole_students_in_order():
    todo = [(StudentSubmission(f"s{i}"), BOTH) for i in range(5)]
    assert names(judge_queue(todo, 1)) == [(f"s{i}", BOTH) for i in range(5)]


def test_the_last_students_of_several_judges_go_one_assignment_at_a_time():
    todo = [(StudentSubmission(f"s{i}"), BOTH) for i in range(7)]
    tail = SPLIT_TAIL_PER_JUDGE * 2
    queue = names(judge_queue(todo, 2))
    assert queue[:7 - tail] == [(f"s{i}", BOTH) for i in range(7 - tail)]
    assert queue[7 - tail:] == [(f"s{i}", [a]) for i in range(7 - tail, 7) for a in BOTH]
    small = names(judge_queue(todo[:2], 2))  # a class smaller than the tail: all of it split
    assert small == [("s0", ["tiny"]), ("s0", ["teeny"]), ("s1", ["tiny"]), ("s1", ["teeny"])]


class InParts:
    """An executor that returns every student's assignments as separate records, the later
    assignment first and students interleaved (no sandbox: only the batch is tested)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def run(self, todo, limits, prints):
        parts = [(sub, a) for sub, assignments in todo for a in reversed(assignments)]
        for sub, a in parts[::2] + parts[1::2]:
            yield StudentRecord(sub.student, {a: AssignmentResult(fingerprint=prints[a])})


def test_records_in_parts_are_written_once_whole(two_tiny_assignments, tmp_path, monkeypatch):
    subs = [StudentSubmission(f"s{i}", sources={a: "x = 1\n" for a in BOTH}) for i in range(3)]
    written: list[tuple[str, list[str]]] = []
    write = batch.write_student
    monkeypatch.setattr(batch, "write_student", lambda out, record, term=None: (
        written.append((record.student, list(record.assignments))), write(out, record, term)))
    done: list[StudentRecord] = []
    summary = grade_class(subs, BatchOptions(out=tmp_path / "out", assignments=BOTH, executor=InParts()),
                          on_done=done.append)
    assert sorted(written) == [(s, BOTH) for s in ("s0", "s1", "s2")], "each record written once, whole"
    assert sorted(r.student for r in done) == ["s0", "s1", "s2"], "one call per student"
    assert all(list(r.assignments) == BOTH for r in done), "called with the whole record, in course order"
    on_disk = load_records(tmp_path / "out")
    assert {s: list(r.assignments) for s, r in on_disk.items()} == {s: BOTH for s in ("s0", "s1", "s2")}
    assert [list(r.assignments) for r in summary.records] == [BOTH] * 3


def test_two_judges_grade_split_students_as_one_does(two_tiny_assignments, tmp_path):
    """A real `-j 2` batch whose students are all split (fewer than the tail): the gradebook
    of `-j 1`, every record whole."""
    subs = tmp_path / "subs"
    codes = ["def double(x):\n    return 2 * x\n", "def double(x):\n    return 3 * x\n", "def double(x)\n"]
    for i, code in enumerate(codes):
        for a in BOTH:
            (subs / f"s{i}").mkdir(parents=True, exist_ok=True)
            (subs / f"s{i}" / f"{a}.py").write_text(code)
    assert len(load_class(subs, BOTH)) <= SPLIT_TAIL_PER_JUDGE * 2
    for jobs in (1, 2):
        assert run_grading(subs, tmp_path / f"j{jobs}", None, jobs, resume=False) == 0
    assert (tmp_path / "j2" / "grades.csv").read_text() == (tmp_path / "j1" / "grades.csv").read_text()
    assert {s: list(r.assignments) for s, r in load_records(tmp_path / "j2").items()} == {
        f"s{i}": BOTH for i in range(3)}


def test_spawned_judges_start_on_entering_and_end_on_leaving(tiny_course):
    before = set(multiprocessing.active_children())
    with LocalExecutor(2):
        started = set(multiprocessing.active_children()) - before
        assert len(started) == 1, "the second judge starts before the preflight, not with the first student"
    assert not any(p.is_alive() for p in started)


def spawned_judges(batch: int) -> list[int]:
    """The pids of `batch`'s children that are spawned `-j` judges."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == batch and b"multiprocessing.spawn" in command:
            found.append(int(stat.parent.name))
    return found


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in "ZX"
    except OSError:
        return True


def test_a_batch_killed_with_9_leaves_no_judge_behind(tiny_course, tmp_path):
    subs = tmp_path / "subs"
    for student in ("s0", "s1", "s2"):
        (subs / student).mkdir(parents=True)
        (subs / student / "tiny.py").write_text("import time\n\ndef double(x):\n    time.sleep(20)\n    return 2 * x\n")
    batch = subprocess.Popen([sys.executable, "-m", "autograder.cli", "grade", str(subs), "--out", str(tmp_path / "out"),
                              "-j", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (judges := spawned_judges(batch.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert judges, "the batch should have spawned its second judge"
    time.sleep(1)  # well into its start
    batch.kill()
    batch.wait()
    deadline = time.monotonic() + 20
    while not all(gone(pid) for pid in judges) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(gone(pid) for pid in judges), "the spawned judge outlived its batch"
