"""Grading speed, reported as ratios measured in one run (issue: the grading core).

1. Wall time to grade N copies of the mlp reference through `nnzoo grade` machinery
   (sandboxed worker per student), per submission, against the pure compute time of
   the same hidden tests run in one warm process on the reference (no sandbox).
2. Worker start-up (fork from the torch-preloaded server, isolation, import of the
   student module, first answer) against a bare unsandboxed fork and a cold
   `python -c "import torch"`.

Usage: python bench/grading_speed.py [N]
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

from autograder.batch import BatchOptions, grade_class
from autograder.course import assignment as course_assignment
from autograder.judge.subject import SandboxSubject
from autograder.load import StudentSubmission
from autograder.sandbox import SandboxLimits
from autograder.sandbox.client import ForkServer
from autograder.worker.probes import Build


def warm_in_process_seconds(repeats: int = 3) -> float:
    """The hidden tests on the reference, in this process (pytest's own overhead included)."""
    tests = course_assignment("mlp").hidden_tests
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            code = pytest.main([str(tests), "-q", "-p", "no:cacheprovider", "--no-header"])
        times.append(time.perf_counter() - start)
        assert code == pytest.ExitCode.OK, "the reference should pass its own hidden tests"
    return statistics.median(times)


def sandboxed_seconds_per_submission(n: int) -> float:
    source = course_assignment("mlp").reference.read_text()
    class_ = [StudentSubmission(f"s{i:03d}", sources={"mlp": source}) for i in range(n)]
    with tempfile.TemporaryDirectory() as out:
        ForkServer.get()  # started once per grading run; not part of the per-student cost
        start = time.perf_counter()
        grade_class(class_, BatchOptions(out=Path(out), assignments=["mlp"]))
        return (time.perf_counter() - start) / n


def worker_startup_seconds(repeats: int = 10) -> float:
    source = "import torch\n"
    times = []
    ForkServer.get()
    for _ in range(repeats):
        subject = SandboxSubject(source, "mlp", SandboxLimits())
        start = time.perf_counter()
        subject.run("run", model=Build("torch.nn:Linear", 3, 2), args=(torch.randn(2, 3),))
        times.append(time.perf_counter() - start)
        subject.close()
    return statistics.median(times)


def unsandboxed_fork_seconds(repeats: int = 10) -> float:
    """A bare worker: os.fork() from this torch-loaded process, the same probe, a pipe back —
    no isolation, no fork server, no safe serialisation."""
    from autograder.worker.probes import ProbeRequest, run_probe

    times = []
    request = ProbeRequest("run", {"model": Build("torch.nn:Linear", 3, 2), "args": (torch.randn(2, 3),)})
    for _ in range(repeats):
        start = time.perf_counter()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            run_probe(None, request)
            os.write(write, b"x")
            os._exit(0)
        os.read(read, 1)
        os.waitpid(pid, 0)
        times.append(time.perf_counter() - start)
        os.close(read)
        os.close(write)
    return statistics.median(times)


def cold_import_torch_seconds(repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    torch.set_num_threads(1)  # the workers use one thread too: compare like with like
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    warm = warm_in_process_seconds()
    graded = sandboxed_seconds_per_submission(n)
    startup = worker_startup_seconds()
    bare = unsandboxed_fork_seconds()
    cold = cold_import_torch_seconds()
    print(f"hidden mlp tests, warm in-process (no sandbox): {warm:.2f} s")
    print(f"grading per submission, sandboxed ({n} copies of the reference): {graded:.2f} s")
    print(f"  ratio sandboxed / in-process: {graded / warm:.2f}")
    print(f"worker start-up to first probe answer: {startup * 1000:.0f} ms")
    print(f"unsandboxed fork worker to first answer: {bare * 1000:.0f} ms")
    print(f"  sandbox overhead (sandboxed - unsandboxed): {(startup - bare) * 1000:.0f} ms")
    print(f"cold `python -c 'import torch'`: {cold * 1000:.0f} ms")
    print(f"  ratio worker start-up / cold import: {startup / cold:.3f}")


if __name__ == "__main__":
    main()
