"""Worker start-up with the allow-list root against a bare fork, measured in one run.

This process plays the fork server: it imports torch, warms it up, preloads what the
server preloads and prepares the sandbox (`Sandbox.prepare`: the root's plan, the seccomp
filters) exactly as `autograder.worker.forkserver` does.  Then, interleaved, it forks
children that signal "ready" over a pipe:

    bare             os.fork(), nothing else
    allow-list root  fork into a new PID namespace, namespaces, new root + pivot_root,
                     closed descriptors, uid, rlimits, seccomp (`Sandbox.isolate`)
    fallback         fork, uid, rlimits, seccomp, as without CAP_SYS_ADMIN

and reports the median fork → ready time (p10–p90) and the teardown (ready → reaped), in
ms and as ratios to the bare fork.  Last, the judge's own path: `SandboxedWorker` start
(fork server round trip, isolation, the levels message, importing a one-line module).

Usage (root, for the namespaces): python bench/worker_startup.py [RUNS]
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time

import torch

from autograder.sandbox.client import SandboxedWorker, claim_worker_uids
from autograder.sandbox.reap import reap_uid, wait_reaped
from autograder.worker.isolation import Sandbox
from autograder.worker.limits import SandboxLimits
from autograder.worker.spec import ProbeRequest
from autograder.worker.warmup import warm_up


def fork_ready(sandbox: Sandbox, mode: str, limits: SandboxLimits) -> tuple[float, float]:
    """One child in `mode`: (fork → "ready" over the pipe, "ready" → reaped) in seconds.
    `sandbox` is the allow-list root's for that mode, a plan-less one for the fallback."""
    scratch = tempfile.mkdtemp(prefix="nnzoo-bench-")
    os.chmod(scratch, 0o711)
    read, write = os.pipe()
    start = time.perf_counter()
    pid = sandbox.fork() if mode == "allow-list root" else os.fork()
    if pid == 0:
        try:
            os.close(read)
            if mode != "bare":
                sandbox.isolate(limits, os.path.join(scratch, "work"), keep_fds=[write])
            os.write(write, b"R")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    ready = time.perf_counter()
    os.close(read)
    os.waitpid(pid, 0)
    done = time.perf_counter()
    shutil.rmtree(scratch, ignore_errors=True)
    if answer != b"R":
        raise RuntimeError(f"the {mode} child did not get ready")
    return ready - start, done - ready


def judge_start_ms(limits: SandboxLimits, runs: int) -> float:
    """The judge's whole path to a worker that answered its first probe."""
    source = "import torch\n\ndef relu(x):\n    return torch.clamp(x, min=0)\n"
    request = ProbeRequest("run", {"call": "relu", "args": (torch.ones(2),), "backward": False})
    times = []
    for _ in range(runs + 1):
        worker = SandboxedWorker(source, "mlp", limits)
        start = time.perf_counter()
        worker.request(request)
        times.append(time.perf_counter() - start)
        worker.close()
        wait_reaped()  # reaped in the background while grading goes on: not part of a start
    return statistics.median(times[1:]) * 1e3  # the first one waits for the fork server


def main(runs: int) -> None:
    torch.set_num_threads(1)
    warm_up()
    sandbox = Sandbox.prepare()
    fallback = Sandbox(None, sandbox.filters)  # as without CAP_SYS_ADMIN
    sandboxes = {"bare": fallback, "fallback": fallback, "allow-list root": sandbox}
    limits = SandboxLimits(worker_uid=claim_worker_uids(SandboxLimits().worker_uid)[0]) if os.geteuid() == 0 \
        else SandboxLimits()
    modes = ["bare", "fallback"] + (["allow-list root"] if sandbox.namespaces else [])
    samples: dict[str, list[tuple[float, float]]] = {m: [] for m in modes}
    for mode in modes:  # one unmeasured start each (page cache, first mounts)
        fork_ready(sandboxes[mode], mode, limits)
    for _ in range(runs):
        for mode in modes:
            samples[mode].append(fork_ready(sandboxes[mode], mode, limits))
            if os.geteuid() == 0:
                reap_uid(limits.worker_uid)
    bare = statistics.median(r for r, _ in samples["bare"])
    print(f"worker start-up: fork -> ready, {runs} runs each, median [p10-p90] (teardown median)")
    for mode in modes:
        ready = sorted(r * 1e3 for r, _ in samples[mode])
        median = statistics.median(ready)
        p10, p90 = ready[len(ready) // 10], ready[len(ready) * 9 // 10]
        teardown = statistics.median(t for _, t in samples[mode]) * 1e3
        print(f"  {mode:16s} {median:6.2f} ms [{p10:5.2f}-{p90:6.2f}]  x{median / (bare * 1e3):4.2f} of bare"
              f"   (teardown {teardown:5.2f} ms)")
    if not sandbox.namespaces:
        print("  (no allow-list root here: not root, or no CAP_SYS_ADMIN)")
    print(f"judge's path to a first answer (fork server, isolation, levels, import, one probe): "
          f"{judge_start_ms(limits, min(runs, 20)):.1f} ms median")
    print(f"machine: {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
