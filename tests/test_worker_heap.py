"""Workers keep freed memory for the next training step (autograder/worker/heap.py).

A training step frees tensors together and allocates them again.  glibc's defaults give
the freed block back to the kernel and fault every page in anew on the next step; a
worker (and the judge) keeps it.  The workload below is that pattern: two 40 MiB tensors
allocated and freed together, twenty times.  40 MiB is above the largest threshold glibc
adapts its mappings to (32 MiB), so by default every step maps them afresh and faults in
all 20,480 pages, a signal far above the interpreter's own noise.

Kept, the first steps still fault while the heap grows to its working size: 3½ steps on
this machine kind, 7 on a CI run.  After that a step faults in nothing.  So the tests
compare the steady state, the last ten of twenty steps: 0 faults kept against ≈ 205,000
by default.
"""

from __future__ import annotations

import subprocess
import sys

import torch
from test_sandbox_threats import call_in_worker

PAGE_FAULTS = '''
import resource
import torch


def step():
    tensors = [torch.ones(10 * 1024, 1024) for _ in range(2)]
    return sum(float(t[0, 0]) for t in tensors)


def page_faults(steps):
    """(steps,): the page faults of each step."""
    faults = []
    for _ in range(int(steps)):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        step()
        faults.append(float(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before))
    return torch.tensor(faults)
'''

STEPS = 20
#: The steps counted: those after the heap has had half the run to grow.
STEADY = slice(STEPS // 2, None)


def steady_faults(per_step: torch.Tensor) -> float:
    return float(per_step[STEADY].sum())


def faults_in_a_fresh_interpreter(keep: bool) -> torch.Tensor:
    setting = "from autograder.worker.heap import keep_freed_memory; assert keep_freed_memory()\n" if keep else ""
    code = f"{setting}{PAGE_FAULTS}\nprint(page_faults({STEPS}).tolist())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return torch.tensor([float(n) for n in out.strip().strip("[]").split(",")])


def test_the_setting_removes_the_page_faults_of_a_training_like_workloads_steady_state() -> None:
    default, kept = faults_in_a_fresh_interpreter(keep=False), faults_in_a_fresh_interpreter(keep=True)
    assert steady_faults(kept) < steady_faults(default) / 10, (
        f"page faults per step: {kept.tolist()} kept against {default.tolist()} by default")


def test_a_worker_forked_from_the_fork_server_keeps_freed_memory() -> None:
    default = faults_in_a_fresh_interpreter(keep=False)
    in_worker = call_in_worker(PAGE_FAULTS, "page_faults", torch.tensor(float(STEPS)))
    assert steady_faults(in_worker) < steady_faults(default) / 10, (
        f"page faults per step: {in_worker.tolist()} in a worker against {default.tolist()} by default")
