"""Every limit the sandbox enforces, as one settings record with documented defaults."""

from __future__ import annotations

from dataclasses import dataclass

GiB = 1024**3
MiB = 1024**2


@dataclass(frozen=True)
class SandboxLimits:
    """Limits for one worker (one student, one assignment).

    Attributes:
        call_seconds: wall-clock limit of one probe call (docs/spec.md §2: 30 s by default), enforced by
            the judge, which then kills the worker's whole process tree.
        submission_seconds: wall-clock budget of one submission and assignment (10 min).
        memory_bytes: address-space limit (RLIMIT_AS); torch alone maps ≈ 0.7 GiB.
        cpu_seconds: CPU-time limit of one worker process (RLIMIT_CPU).
        file_bytes: largest file the worker may write (RLIMIT_FSIZE); output is capped too.
        scratch_bytes: size of the worker's private tmpfs (its /tmp and /dev/shm together;
            the fallback without mount namespaces has no size cap).
        open_files: RLIMIT_NOFILE.
        processes: RLIMIT_NPROC (threads count), effective once the worker runs as its own uid.
        child_processes: whether the worker may fork processes of its own (`DataLoader`
            workers, `multiprocessing`).  Off by default: seccomp then denies every new
            process (threads stay allowed), as each child would have an address-space limit
            of its own and could compute where the watch on forbidden built-ins reports to
            no one.  Starting another program is denied either way.
        result_bytes: largest reply (one probe's result) the judge accepts; it is also the
            decoded size, as replies are never compressed (see `worker.encoding`).
        worker_uid: first uid the worker may drop to when the judge runs as root; each
            judge process claims the first two free ones from here, its workers take them
            in turn, and every process of a worker's uid is killed (and what it leaves
            behind removed) when the worker ends.
    """

    call_seconds: float = 30.0
    submission_seconds: float = 600.0
    memory_bytes: int = 4 * GiB
    cpu_seconds: int = 600
    file_bytes: int = 64 * MiB
    scratch_bytes: int = 256 * MiB
    open_files: int = 256
    processes: int = 64
    child_processes: bool = False
    result_bytes: int = 16 * MiB
    worker_uid: int = 61000
