"""Sandboxed grading against the same hidden tests run warm in this process, on every
assignment, and what the judge's reference cache saves — ratios measured in one run.

For each assignment the reference itself plays the student (every test runs to its end):

    in-process   `run_tests(hidden, GradingSession(LocalSubject(student), reference))`:
                 exactly `grade_source` without the sandbox (same pytest run, same checks)
    sandboxed    `grade_source`: a sandboxed worker per run (started from the warm fork server)
    cached       `grade_source` with the reference cache warm (a batch after its first student)

in-process and sandboxed run with the cache off (`NNZOO_REFERENCE_CACHE=off`), so their
ratio is the sandbox's cost alone.  Runs are interleaved (in, sandboxed, cached, in, …) so
that load from other users hits each mode alike; times are medians of RUNS after one
warm-up each, and the ratio is the median of each round's own ratio (sandboxed over the
in-process run just before it), so that the machine's speed, which drifts over seconds
here, cancels out within a round.
Where the sandboxed time goes: worker start (fork → module imported), waiting on probe
answers, the reference's compute, and the rest (pytest, checks, scans).  torch runs one
thread in the judge, as in the workers.

Usage: python bench/sandbox_overhead.py [RUNS] [ASSIGNMENT ...]
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

from autograder.course import assignment as course_assignment
from autograder.course import names
from autograder.judge import run as judge_run
from autograder.judge.plugin import GradingSession
from autograder.judge.subject import LocalSubject
from autograder.sandbox.client import ForkServer, SandboxedWorker
from autograder.worker.limits import SandboxLimits

SPENT: dict[str, float] = defaultdict(float)
WORKER_CPU = [0.0]  # CPU seconds of the sandboxed workers (and their children), read before each is killed
TICK = os.sysconf("SC_CLK_TCK")


def worker_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / TICK  # utime, stime, cutime, cstime


def count_worker_cpu() -> None:
    inner = SandboxedWorker.close

    def close(self):
        if self.pid is not None:
            WORKER_CPU[0] += worker_cpu_seconds(self.pid)
        inner(self)

    SandboxedWorker.close = close


def timed(owner: object, name: str, bucket: str) -> None:
    """Wrap `owner.name` so that its wall time adds to SPENT[bucket]."""
    inner = getattr(owner, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            SPENT[bucket] += time.perf_counter() - start

    setattr(owner, name, wrapper)


def in_process(a: str, student: LocalSubject) -> tuple[float, float, float]:
    """(wall s, CPU s, score) of the hidden tests with the student's module in this process."""
    reference = judge_run.reference_for(a)
    session = GradingSession(subject=student, reference=reference, source=course_assignment(a).reference.read_text())
    start, cpu = time.perf_counter(), time.process_time()
    results = judge_run.run_tests(course_assignment(a).hidden_tests, session)
    assert all(r.passed for r in results), [r.name for r in results if not r.passed]
    return time.perf_counter() - start, time.process_time() - cpu, sum(r.score for r in results)


def sandboxed(a: str) -> tuple[float, float, float]:
    """(wall s, CPU s of the judge and its workers, score) of `grade_source`."""
    WORKER_CPU[0] = 0.0
    start, cpu = time.perf_counter(), time.process_time()
    result = judge_run.grade_source(course_assignment(a).reference.read_text(), a, SandboxLimits())
    assert not result.errors and all(t.passed for t in result.tests), [t.message for t in result.tests if not t.passed]
    return time.perf_counter() - start, time.process_time() - cpu + WORKER_CPU[0], result.score


def cache(on: bool) -> None:
    os.environ[judge_run.CACHE_SWITCH] = "on" if on else "off"


def measure(a: str, runs: int, scratch: Path) -> dict:
    copy = scratch / f"student_{a}.py"
    copy.write_text(course_assignment(a).reference.read_text())
    student = LocalSubject.from_file(copy, f"student_{a}")
    timed(student, "run", "student in-process")
    times: dict[str, list[float]] = defaultdict(list)
    cpus: dict[str, list[float]] = defaultdict(list)
    scores = set()
    parts: dict[str, list[float]] = defaultdict(list)
    for i in range(runs + 1):
        cache(False)
        for mode in ("in-process", "sandboxed", "cached"):
            if mode == "cached":
                cache(True)
                before = judge_run.reference_for(a).stats.saved_seconds
            SPENT.clear()
            seconds, cpu, score = in_process(a, student) if mode == "in-process" else sandboxed(a)
            scores.add(score)
            if not i:
                continue  # the warm-up
            times[mode].append(seconds)
            cpus[mode].append(cpu)
            if mode == "sandboxed":
                for bucket in ("worker start", "waiting on the worker", "reference"):
                    parts[bucket].append(SPENT[bucket])
            if mode == "cached":
                parts["saved by the cache"].append(judge_run.reference_for(a).stats.saved_seconds - before)
    assert len(scores) == 1, f"{a}: scores differ between the modes: {scores}"
    return {"times": {m: statistics.median(t) for m, t in times.items()},
            "cpus": {m: statistics.median(t) for m, t in cpus.items()},
            "ratios": [statistics.median(s / i for s, i in zip(measured["sandboxed"], measured["in-process"]))
                       for measured in (times, cpus)],
            "parts": {k: statistics.median(v) for k, v in parts.items()}}


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    chosen = sys.argv[2:] or names(hidden=True)
    torch.set_num_threads(1)
    timed(SandboxedWorker, "_start", "worker start")
    timed(SandboxedWorker, "_answer", "waiting on the worker")  # for each answer: waited for, read, decoded
    timed(LocalSubject, "run", "reference")  # the reference's compute in the sandboxed runs
    count_worker_cpu()
    ForkServer.get()._wait_until_ready()
    load = [os.getloadavg()[0]]
    rows = {}
    with tempfile.TemporaryDirectory() as scratch:
        for a in chosen:
            rows[a] = measure(a, runs, Path(scratch))
            load.append(os.getloadavg()[0])
    print(f"sandboxed grading against warm in-process, {runs} runs each (median), load average "
          f"{min(load):.1f}-{max(load):.1f} on {os.cpu_count()} cpus")
    print("wall s (CPU s: the judge's process time + the sandboxed workers' utime+stime)")
    print("| assignment | in-process | sandboxed | ratio wall (CPU), median of the rounds' | worker start | waiting on worker | reference "
          "| cached | judge time saved by the cache, wall (CPU) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for a, row in rows.items():
        t, c, p = row["times"], row["cpus"], row["parts"]
        waiting = p["waiting on the worker"]
        wall_ratio, cpu_ratio = row["ratios"]
        print(f"| {a} | {t['in-process']:.2f} ({c['in-process']:.2f}) | {t['sandboxed']:.2f} ({c['sandboxed']:.2f}) "
              f"| {wall_ratio:.3f} ({cpu_ratio:.3f}) "
              f"| {p['worker start']:.2f} | {waiting:.2f} | {p['reference']:.2f} | {t['cached']:.2f} ({c['cached']:.2f}) "
              f"| {1 - t['cached'] / t['sandboxed']:.0%} ({1 - c['cached'] / c['sandboxed']:.0%}); "
              f"the cache's own count {p['saved by the cache']:.2f} s |")


if __name__ == "__main__":
    main()
