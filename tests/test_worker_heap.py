"""Workers keep freed memory for the next training step (autograder/worker/heap.py).

A training step frees tensors together and allocates them again.  glibc's defaults give
the freed block back to the kernel and fault every page in anew on the next step; a
worker (and the judge) keeps it.  The workload below is that pattern: two 40 MiB tensors
allocated and freed together, twenty times.  40 MiB is above the largest threshold glibc
adapts its mappings to (32 MiB), so by default every step maps them afresh and faults in
all 20,480 pages (≈ 410,000 faults in all), a signal far above the interpreter's own noise;
kept, the measured count is 10,240 or 71,680 (≥ 5.7× fewer) on this machine kind.
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
    step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(int(steps)):
        step()
    return torch.tensor(float(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before))
'''

STEPS = 20


def faults_in_a_fresh_interpreter(keep: bool) -> float:
    setting = "from autograder.worker.heap import keep_freed_memory; assert keep_freed_memory()\n" if keep else ""
    code = f"{setting}{PAGE_FAULTS}\nprint(float(page_faults({STEPS})))"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def test_the_setting_removes_most_page_faults_of_a_training_like_workload() -> None:
    default, kept = faults_in_a_fresh_interpreter(keep=False), faults_in_a_fresh_interpreter(keep=True)
    assert kept < default / 3, f"page faults: {kept:.0f} kept against {default:.0f} by default"


def test_a_worker_forked_from_the_fork_server_keeps_freed_memory() -> None:
    default = faults_in_a_fresh_interpreter(keep=False)
    in_worker = float(call_in_worker(PAGE_FAULTS, "page_faults", torch.tensor(float(STEPS))))
    assert in_worker < default / 3, f"page faults: {in_worker:.0f} in a worker against {default:.0f} by default"
