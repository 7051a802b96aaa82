"""Where the sandbox's CPU goes, per assignment: one student's hidden tests in process
against the same tests sandboxed, in CPU seconds (load from other users changes wall time,
much less the work done):

    in-process   the judge's CPU: probes of the student and the reference, and the rest
                 (pytest, checks, scans)
    sandboxed    the judge's CPU (pytest, checks, the reference, pickling requests, decoding
                 replies, starting and killing the worker), the sandboxed worker's
                 (utime+stime, read before it is killed), the fork server's (one fork)

and the number of probes sent.  The reference cache is off, so both sides compute the same.
Medians of RUNS after one warm-up run; the reference plays the student.

Usage: RUNS=5 python bench/sandbox_cpu.py [ASSIGNMENT ...]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sandbox_overhead as overhead  # noqa: E402 — the bench next to this one

from autograder.course import assignment as course_assignment  # noqa: E402
from autograder.course import names  # noqa: E402
from autograder.judge import run as judge_run  # noqa: E402
from autograder.judge.subject import LocalSubject  # noqa: E402
from autograder.sandbox.client import ForkServer, SandboxedWorker  # noqa: E402
from autograder.worker.limits import SandboxLimits  # noqa: E402

CPU: dict[str, float] = defaultdict(float)
PROBES = [0]


def cpu_timed(owner: object, name: str, bucket: str) -> None:
    """Wrap `owner.name` so that its CPU time adds to CPU[bucket]."""
    inner = getattr(owner, name)

    def wrapper(*args, **kwargs):
        start = time.process_time()
        try:
            return inner(*args, **kwargs)
        finally:
            CPU[bucket] += time.process_time() - start

    setattr(owner, name, wrapper)


def count_probes() -> None:
    inner = SandboxedWorker.request

    def request(self, probe):
        PROBES[0] += 1
        return inner(self, probe)

    SandboxedWorker.request = request


def one_assignment(a: str, runs: int, scratch: Path, server_pid: int) -> dict[str, float]:
    copy = scratch / f"student_{a}.py"
    copy.write_text(course_assignment(a).reference.read_text())
    student = LocalSubject.from_file(copy, f"student_{a}")
    rows: dict[str, list[float]] = defaultdict(list)
    for i in range(runs + 1):
        CPU.clear()
        start = time.process_time()
        overhead.in_process(a, student)
        in_total, in_probes = time.process_time() - start, CPU["probes"]
        CPU.clear()
        overhead.WORKER_CPU[0], PROBES[0] = 0.0, 0
        server, start = overhead.worker_cpu_seconds(server_pid), time.process_time()
        judge_run.grade_source(course_assignment(a).reference.read_text(), a, SandboxLimits())
        judge = time.process_time() - start
        server = overhead.worker_cpu_seconds(server_pid) - server
        if not i:
            continue
        worker = overhead.WORKER_CPU[0]
        rows["in-process: total"].append(in_total)
        rows["in-process: probes (student and reference)"].append(in_probes)
        rows["in-process: rest (pytest, checks, scans)"].append(in_total - in_probes)
        rows["sandboxed: judge"].append(judge)
        rows["sandboxed: judge, reference probes"].append(CPU["probes"])
        rows["sandboxed: judge, starting and killing the worker"].append(CPU["start"] + CPU["close"])
        rows["sandboxed: sandboxed worker"].append(worker)
        rows["sandboxed: fork server"].append(server)
        rows["sandboxed: total"].append(judge + worker + server)
        rows["probes sent to the worker"].append(PROBES[0])
        rows["ratio sandboxed / in-process"].append((judge + worker + server) / in_total)
    return {k: statistics.median(v) for k, v in rows.items()}


def main() -> None:
    runs = int(os.environ.get("RUNS", "3"))
    torch.set_num_threads(1)
    overhead.count_worker_cpu()
    cpu_timed(SandboxedWorker, "_start", "start")
    cpu_timed(SandboxedWorker, "close", "close")
    cpu_timed(LocalSubject, "run", "probes")
    count_probes()
    server = ForkServer.get()
    server._wait_until_ready()
    os.environ[judge_run.CACHE_SWITCH] = "off"
    with tempfile.TemporaryDirectory() as scratch:
        for a in sys.argv[1:] or names(hidden=True):
            row = one_assignment(a, runs, Path(scratch), server.process.pid)
            print(f"== {a}: CPU s, median of {runs} (load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus)")
            for name, value in row.items():
                print(f"  {name:52s} {value:7.3f}")


if __name__ == "__main__":
    main()
