"""A fork server: a clean interpreter that imports torch once and forks workers on demand.

A cold `import torch` costs ≈ 1 s; a fork of this pre-imported process ≈ 10 ms.  The
server never imports the reference solutions or hidden tests, so a worker forked from it
has nothing of the judge's in its memory.  Run as
`python -m autograder.worker.forkserver FD`, where FD is a Unix socket to the judge.

Protocol on the control socket: the judge sends a pickled `WorkerSpec` together with one
file descriptor (the worker's end of its pipe); the server forks, and answers the
child's pid as 8 bytes.  Children, and orphans of children, are reaped automatically
(a child subreaper with SIGCHLD ignored).
"""

from __future__ import annotations

import ctypes
import os
import pickle
import signal
import socket
import sys
from multiprocessing.connection import Connection

import torch

from autograder.worker.serve import WorkerSpec, serve

PR_SET_CHILD_SUBREAPER = 36


def _fork_worker(control: socket.socket, spec: WorkerSpec, fd: int) -> int:
    pid = os.fork()
    if pid == 0:
        control.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        code = 0
        try:
            serve(Connection(fd), spec)
        except BaseException:  # noqa: BLE001 — the worker must never return into the server loop
            code = 70
        os._exit(code)
    os.close(fd)
    return pid


def _warm_up() -> None:
    """Run the lazily imported parts of torch once, so that no worker pays for them."""
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = torch.nn.functional.cross_entropy(model(torch.randn(5, 3)), torch.tensor([0, 1, 0, 1, 0]))
    loss.backward()
    optimizer.step()


def main(control_fd: int) -> None:
    torch.set_num_threads(1)
    _warm_up()
    # Orphans of workers (daemons, fork bombs) are re-parented here instead of to init,
    # and with SIGCHLD ignored they are reaped at once: no zombie keeps counting
    # against the next worker's process limit.
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    control = socket.socket(fileno=control_fd)
    control.sendall(b"R")
    while True:
        data, fds, _, _ = socket.recv_fds(control, 1 << 20, 1)
        if not data:
            return
        spec = pickle.loads(data)
        pid = _fork_worker(control, spec, fds[0])
        control.sendall(pid.to_bytes(8, "little"))


if __name__ == "__main__":
    main(int(sys.argv[1]))
