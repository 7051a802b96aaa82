"""Workers keep freed memory for the next training step (autograder/worker/heap.py).

A training step frees tensors together and allocates them again.  glibc's defaults give
the freed block back to the kernel and fault every page in anew on the next step; a
worker (and the judge) keeps it.  The workload below is that pattern: sixteen 1 MiB
tensors allocated and freed together, fifty times.
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
    tensors = [torch.ones(256, 1024) for _ in range(16)]
    return sum(float(t[0, 0]) for t in tensors)


def page_faults(steps):
    step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(int(steps)):
        step()
    return torch.tensor(float(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before))
'''

STEPS = 50


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
