"""`nnzoo grade --executor dask` on a real `distributed.LocalCluster` (2 processes × 1 thread):
the same gradebook as `-j 1`, nothing lost or duplicated when a worker is killed mid-batch or
the client is killed and resumed, and a cluster that must not grade refused before any
student is graded.  The class is the throwaway `tiny` assignment (about a second a student)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import distributed
import pytest
from conftest import write_tiny_course

from autograder.batch import BatchOptions, grade_class, grader_errors, load_records
from autograder.batch.cluster import DaskExecutor
from autograder.cli import main, run_grading
from autograder.load import load_class

#: one student per kind of outcome
CLASS = {
    "ada": "import torch\n\ndef double(x):\n    return 2 * x\n",
    "ben": "def double(x):\n    return 3 * x\n",
    "cy": "def double(x)\n    return 2 * x\n",
    "dee": "def double(x):\n    return (2 * x).detach()\n",
    "eve": "def double(x):\n    raise RuntimeError('not yet')\n",
    "fay": "import torch\n\ndef double(x):\n    return x + x\n",
}


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory):
    """The tiny course, in NNZOO_ROOT before the cluster starts (its workers inherit it).

    The module leaves this process's environment as it found it: Dask's nanny writes its
    `pre-spawn-environ` (`MALLOC_TRIM_THRESHOLD_=65536`, one thread for OpenMP and MKL)
    into the environment of the process that starts a LocalCluster, and every test run
    after these in this pytest worker would inherit it (gnn's gradings took 1.8–2.0× as long)."""
    saved = dict(os.environ)
    root = write_tiny_course(tmp_path_factory.mktemp("dask") / "course")
    os.environ["NNZOO_ROOT"] = str(root)
    try:
        yield root
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def cluster(course: Path):
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=logging.ERROR) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def subs(course: Path) -> Path:
    folder = course.parent / "subs"
    for student, code in CLASS.items():
        (folder / student).mkdir(parents=True)
        (folder / student / "tiny.py").write_text(code)
    (folder / "gus").mkdir()
    (folder / "gus" / "notes.txt").write_text("no code handed in")
    return folder


@pytest.fixture(scope="module")
def expected(subs: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The gradebook of `-j 1`, in this process."""
    out = tmp_path_factory.mktemp("j1") / "out"
    assert run_grading(subs, out, None, 1, resume=False) == 0
    return (out / "grades.csv").read_text()


def graded_on(cluster, subs: Path, out: Path, on_done=lambda record: None):
    """`grade_class` on the cluster (preflight first), as `nnzoo grade --scheduler` runs it."""
    with DaskExecutor(cluster.scheduler_address) as executor:
        assert executor.refusal(["tiny"], subs, out) == ""
        return grade_class(load_class(subs, ["tiny"]), BatchOptions(out=out, assignments=["tiny"], executor=executor),
                           on_done=on_done)


def test_dask_gives_the_gradebook_of_j1(cluster, subs, expected, tmp_path):
    out = tmp_path / "out"
    assert run_grading(subs, out, None, 1, resume=False, executor=DaskExecutor(cluster.scheduler_address)) == 0
    assert (out / "grades.csv").read_text() == expected
    assert not grader_errors(load_records(out).values())


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(cluster, subs, expected, tmp_path):
    client = distributed.Client(cluster.scheduler_address)
    pids = client.run(os.getpid)
    done: list[str] = []

    def kill_a_busy_worker(record) -> None:
        done.append(record.student)
        if len(done) == 1:
            busy = [w for w, tasks in client.processing().items() if tasks] or list(pids)
            os.kill(pids[busy[0]], signal.SIGKILL)

    try:
        summary = graded_on(cluster, subs, tmp_path / "out", kill_a_busy_worker)
        client.wait_for_workers(2, timeout=120)  # the nanny restarts the killed one
        assert set(client.run(os.getpid).values()) != set(pids.values()), "a worker process should have been killed"
    finally:
        client.close()
    assert sorted(done) == sorted([*CLASS, "gus"]), "every student recorded exactly once"
    assert (tmp_path / "out" / "grades.csv").read_text() == expected
    assert not grader_errors(summary.records)


def test_resume_after_killing_the_client(cluster, subs, expected, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "autograder.cli", "grade", str(subs), "--out", str(out),
               "--executor", "dask", "--scheduler", cluster.scheduler_address]
    log = tmp_path / "first-run.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and not list((out / "students").glob("*.json")):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p.name: p.stat().st_mtime_ns for p in (out / "students").glob("*.json")}
    assert 1 <= len(before) < len(CLASS) + 1, f"the kill should land mid-batch; the run said: {log.read_text()[-3000:]}"

    result = subprocess.run([*command, "--resume"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert (out / "grades.csv").read_text() == expected
    for name, mtime in before.items():  # graded before the kill: kept, not regraded
        assert (out / "students" / name).stat().st_mtime_ns == mtime


def test_workers_with_another_grader_are_refused_by_name(cluster, subs, course, tmp_path, monkeypatch):
    """The client's hidden tests differ from the workers': every worker is named, nothing graded."""
    other = write_tiny_course(tmp_path / "client-course")
    hidden = other / "solutions" / "tiny" / "test_hidden.py"
    hidden.write_text(hidden.read_text() + "\n# changed on the client only\n")
    monkeypatch.setenv("NNZOO_ROOT", str(other))
    with DaskExecutor(cluster.scheduler_address) as executor:
        refusal = executor.refusal(["tiny"], subs, tmp_path / "out")
    assert refusal.count("the grader of tiny differs from the client's") == 2
    for worker in cluster.scheduler_info["workers"]:
        assert worker in refusal
    assert not (tmp_path / "out" / "students").exists()


def test_workers_with_more_than_one_thread_are_refused_in_one_line(tmp_path):
    class TwoThreads:  # what `scheduler_info` says of `dask worker --nthreads 2`
        def scheduler_info(self, n_workers: int = -1) -> dict:
            return {"workers": {"tcp://10.0.0.7:40001": {"nthreads": 2}}}

    executor = DaskExecutor("tcp://10.0.0.7:8786")
    executor.client = TwoThreads()
    refusal = executor.refusal(["tiny"], None, tmp_path / "out")
    assert "tcp://10.0.0.7:40001 (2 threads)" in refusal and "--nthreads 1" in refusal and "\n" not in refusal


def test_scheduler_without_dask_executor_is_a_one_line_error(subs, tmp_path, capsys):
    assert main(["grade", str(subs), "--out", str(tmp_path / "o"), "--scheduler", "tcp://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "--executor dask" in err and len(err.strip().splitlines()) == 1
