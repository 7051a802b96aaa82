"""A fork server: a clean interpreter that imports torch once and forks workers on demand.

A cold `import torch` costs ≈ 1 s; a fork of this pre-imported process ≈ 10 ms.  The
server never imports the reference solutions or hidden tests, so a worker forked from it
has nothing of the judge's in its memory.  It plans the workers' allow-list root and
compiles their seccomp filter once (`isolation.Sandbox.prepare`), and forks each worker
straight into a new PID namespace where the kernel allows it.  Run as
`python -m autograder.worker.forkserver FD`, where FD is a Unix socket to the judge.

Protocol on the control socket: the judge sends the length of a pickled `WorkerSpec` (8
bytes) together with one file descriptor (the worker's end of its pipe), then the spec;
the server forks, and answers the child's pid as 8 bytes.  A judge that claimed a worker uid
attaches its lock on that uid as a second descriptor: the server holds it until its own
end, so the uid stays claimed until the server has swept it (`reap.reap_unclaimed`).  Children, and orphans of children, are reaped automatically
(a child subreaper with SIGCHLD ignored).
"""

from __future__ import annotations

import ctypes
import gc
import os
import pickle
import signal
import socket
import sys
from multiprocessing.connection import Connection
from typing import Iterable

import torch

from autograder.worker.heap import keep_freed_memory
from autograder.worker.isolation import Sandbox
from autograder.worker.serve import WorkerSpec, serve
from autograder.worker.warmup import warm_up

PR_SET_CHILD_SUBREAPER = 36

def _fork_worker(control: socket.socket, spec: WorkerSpec, fd: int, sandbox: Sandbox, locks: Iterable[int]) -> int:
    pid = sandbox.fork()
    if pid == 0:
        control.close()
        for lock in locks:  # a judge's uid lock is never the student's to hold
            os.close(lock)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        code = 0
        try:
            serve(Connection(fd), spec, sandbox)
        except BaseException:  # noqa: BLE001 — the worker must never return into the server loop
            code = 70
        os._exit(code)
    os.close(fd)
    return pid


def _read_exactly(control: socket.socket, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = control.recv(min(size - got, 1 << 20))
        if not chunk:
            raise EOFError("the judge closed the control socket mid-request")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def main(control_fd: int) -> None:
    torch.set_num_threads(1)
    keep_freed_memory()  # before the warm-up, whose heap every worker inherits
    warm_up()
    sandbox = Sandbox.prepare()
    # Orphans of workers (daemons, fork bombs) are re-parented here instead of to init,
    # and with SIGCHLD ignored they are reaped at once: no zombie keeps counting
    # against the next worker's process limit.
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    # what the server holds now stays out of every worker's garbage collections: a
    # collection would write to each object's header, copying the pages it sits on
    gc.collect()
    gc.freeze()
    control = socket.socket(fileno=control_fd)
    try:
        control.sendall(b"R")
    except OSError:  # the judge ended while this server started (e.g. a batch refused at once)
        return
    uids: set[int] = set()
    locks: dict[int, int] = {}  # uid → the judge's lock on it, held here until the sweep below
    try:
        while True:
            try:
                header, fds, _, _ = socket.recv_fds(control, 8, 2)
            except ConnectionResetError:  # the judge was killed (e.g. Ctrl-C, kill -9) with a request unread
                return
            if len(header) < 8 or not fds:
                return
            spec = pickle.loads(_read_exactly(control, int.from_bytes(header, "little")))
            uid = spec.limits.worker_uid
            uids.add(uid)
            for lock in fds[1:]:
                if locks.setdefault(uid, lock) != lock:  # sent with every fork: one is kept
                    os.close(lock)
            pid = _fork_worker(control, spec, fds[0], sandbox, locks.values())
            control.sendall(pid.to_bytes(8, "little"))
    finally:  # the judge is gone (its end closed), however it ended
        # imported only now, so that no worker has the judge's half of nnzoo in memory
        from autograder.sandbox.reap import reap_unclaimed

        reap_unclaimed(sorted(uids), locks)


if __name__ == "__main__":
    main(int(sys.argv[1]))
