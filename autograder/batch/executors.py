"""Where students are graded: in this process (`-j 1`), in N judge processes (`-j N`), or
on a Dask cluster (`--executor dask`, `batch.cluster`).

Every executor speaks the same protocol, so the batch around it — records written
atomically as they come, `--resume`, the progress bar, the reports — is one code path:

    with executor:                       # start (a pool, a cluster) … stop
        refusal = executor.refusal(...)  # fail closed before any student is graded
        for record in executor.run(todo, limits, prints):   # in order of completion
            ...

Each judge process grades one task at a time (a student; near the end of a `-j N` batch one
assignment of a student) and claims its own worker uid and fork server; records come back as
they finish, and the caller writes each student's record atomically once all of it is back.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import queue
import signal
import threading
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Iterator, Protocol

from autograder.judge.result import StudentRecord
from autograder.load import StudentSubmission
from autograder.worker.limits import SandboxLimits
from autograder.worker.seccomp import PR_SET_PDEATHSIG

Task = tuple[StudentSubmission, list[str]]


class Executor(Protocol):
    """Grades `(submission, assignments)` tasks somewhere; see the module docstring."""

    def __enter__(self) -> "Executor": ...

    def __exit__(self, *exc: object) -> None: ...

    def refusal(self, assignments: list[str], submissions: Path | None, out: Path, course_dir: Path | None = None,
                allow_weak: bool = False) -> str:
        """Why grading must not start here (one line per problem), or ""."""
        ...

    def run(self, todo: list[Task], limits: SandboxLimits, prints: dict[str, str]) -> Iterator[StudentRecord]:
        """Grade each task; records in order of completion, one per task or per part of
        one (`judge_queue`: the caller merges a student's parts)."""
        ...


#: The last this-many students per judge are graded one assignment at a time, so that a
#: batch ends with no judge idle for most of a student while another grades one.
SPLIT_TAIL_PER_JUDGE = 2


def judge_queue(todo: list[Task], jobs: int) -> deque[Task]:
    """`todo` in order, for `jobs` judges taking the next task as they come free; with more
    than one judge, the last `SPLIT_TAIL_PER_JUDGE × jobs` tasks split into one task per
    assignment (their records come back in parts, merged by the caller)."""
    if jobs <= 1:
        return deque(todo)
    cut = max(0, len(todo) - SPLIT_TAIL_PER_JUDGE * jobs)
    return deque([*todo[:cut], *((sub, [a]) for sub, assignments in todo[cut:] for a in assignments)])


def run_local(todo: list[Task], limits: SandboxLimits, prints: dict[str, str], jobs: int,
              pool: ProcessPoolExecutor | None = None) -> Iterator[StudentRecord]:
    """Grade each `(submission, assignments)` of `todo`; records in order of completion.

    With `jobs` N > 1 this process is one of the N judges, `pool` the N - 1 others
    (`spawn_judges`; one for this run when not given): all take the next task of one queue
    (`judge_queue`) the moment they are free — a feeder thread hands a spawned judge its
    next task as soon as it sends a record back (this process may be in the middle of a
    student), and no task waits in a busy judge's queue while another judge idles.  One
    judge start-up (imports, a fork server) fewer than N spawned ones, on a machine where
    every core counts.
    """
    from autograder.batch import grade_student

    if jobs <= 1:
        for sub, assignments in todo:
            yield grade_student(sub, assignments, limits, prints)
        return
    if pool is None:
        with spawn_judges(jobs - 1) as pool:
            yield from run_local(todo, limits, prints, jobs, pool)
        return
    import torch

    own_threads = torch.get_num_threads()
    pending = judge_queue(todo, jobs)
    finished: queue.Queue[Future | None] = queue.Queue()
    threading.Thread(target=_feed, args=(pool, jobs - 1, pending, finished, limits, prints), daemon=True).start()
    torch.set_num_threads(judge_threads(jobs))
    try:
        while pending:
            yield from _finished_so_far(finished)
            try:
                sub, assignments = pending.popleft()
            except IndexError:
                break
            yield grade_student(sub, assignments, limits, prints)
        while (future := finished.get()) is not None:  # nothing left here: wait for the spawned judges
            yield future.result()
    finally:
        pending.clear()
        torch.set_num_threads(own_threads)


def _finished_so_far(finished: "queue.Queue[Future | None]") -> Iterator[StudentRecord]:
    """The records of the spawned judges' finished tasks, without waiting (the feeder's final
    None is put back for the wait at the end)."""
    while True:
        try:
            future = finished.get_nowait()
        except queue.Empty:
            return
        if future is None:
            finished.put(None)
            return
        yield future.result()


def _feed(pool: ProcessPoolExecutor, slots: int, pending: deque, finished: "queue.Queue[Future | None]",
          limits: SandboxLimits, prints: dict[str, str]) -> None:
    """Keep `slots` tasks of `pending` running in `pool` (one per spawned judge, none queued
    behind it); put each finished future in `finished`, then None when all have finished."""
    from autograder.batch import grade_student

    running: set[Future] = set()
    try:
        while True:
            while len(running) < slots:
                try:
                    sub, assignments = pending.popleft()
                except IndexError:
                    break
                running.add(pool.submit(grade_student, sub, assignments, limits, prints))
            if not running:
                return
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                running.discard(future)
                finished.put(future)
    except BaseException as exc:  # noqa: BLE001 — e.g. a broken pool: raised by the caller's next read
        failed: Future = Future()
        failed.set_exception(exc)
        finished.put(failed)
    finally:
        finished.put(None)


def judge_threads(jobs: int) -> int:
    """Each of `jobs` judges' share of the cores for the reference's torch (`jobs` judges of
    the machine's threads each would oversubscribe it)."""
    return max(1, (os.cpu_count() or 1) // jobs)


def spawn_judges(count: int) -> ProcessPoolExecutor:
    """`count` judge processes for `-j count + 1`, started now: each imports torch and the
    judge and starts its fork server while the caller goes on (a preflight, its own
    first student)."""
    pool = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"), initializer=start_judge,
                               initargs=(judge_threads(count + 1), os.getpid()))
    for _ in range(count):
        pool.submit(int)  # a process starts per task submitted while none is idle
    return pool


def start_judge(threads: int, batch: int) -> None:
    """A `-j N` judge process of the batch process `batch`: it ends with that process, and
    takes its share of the cores and starts its fork server at once."""
    end_with(batch)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the batch process's to handle (`LocalExecutor`)
    import torch

    torch.set_num_threads(threads)
    warm_judge()


def end_with(batch: int) -> None:
    """Be killed when the batch process `batch` (this one's parent) ends, however it ends: a
    batch killed with `kill -9` leaves no judge behind waiting for work (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != batch:  # it ended before the line above
        os._exit(1)


def warm_judge() -> None:
    """Start what this process's first grading waits for: its fork server (which imports
    torch) and, meanwhile, the judge's own imports (pytest, the plugin, the checks)."""
    from autograder.batch.interrupt import import_torch_whole

    import_torch_whole()
    from autograder.sandbox.client import ForkServer

    with contextlib.suppress(OSError):  # a failing start is reported by the first probe
        ForkServer.get()
    import autograder.judge.run  # noqa: F401


class LocalExecutor:
    """This machine: `jobs` judge processes (this one and `jobs - 1` spawned), preflighted here.

    Entering starts, side by side, everything the batch would otherwise wait for in turn:
    the spawned judges (`spawn_judges`), this process's fork server and its imports — the
    preflight's worker then waits only for what is left of the fork server's start.  The
    spawned judges are told to end as soon as the last task is back, so that they exit
    while the caller writes the batch's last files; leaving waits for them.
    """

    def __init__(self, jobs: int = 1) -> None:
        self.jobs = jobs
        self.pool: ProcessPoolExecutor | None = None
        self.ending: list[ProcessPoolExecutor] = []

    def __enter__(self) -> "LocalExecutor":
        if self.jobs > 1:
            self.pool = spawn_judges(self.jobs - 1)
        warm_judge()
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        interrupted = kind is not None and issubclass(kind, KeyboardInterrupt)
        if interrupted:  # Ctrl-C: the spawned judges' students are not waited for (`--resume` grades them)
            for judge in multiprocessing.active_children():
                judge.kill()
        for pool in [*self.ending, *([self.pool] if self.pool else [])]:
            pool.shutdown(wait=not interrupted, cancel_futures=True)
        self.pool, self.ending = None, []

    def refusal(self, assignments: list[str], submissions: Path | None, out: Path, course_dir: Path | None = None,
                allow_weak: bool = False) -> str:
        from autograder.sandbox.preflight import grading_refusal

        return grading_refusal(submissions, out, course_dir, allow_weak=allow_weak)

    def run(self, todo: list[Task], limits: SandboxLimits, prints: dict[str, str]) -> Iterator[StudentRecord]:
        pool, self.pool = self.pool, None  # one batch: a later run spawns its own
        try:
            yield from run_local(todo, limits, prints, self.jobs, pool)
        finally:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
                self.ending.append(pool)


def executor_for(name: str, jobs: int = 1, scheduler: str | None = None) -> Executor:
    """The executor `nnzoo grade --executor NAME [-j N] [--scheduler ADDR]` asks for."""
    if name == "dask":
        from autograder.batch.cluster import DaskExecutor

        return DaskExecutor(scheduler, jobs)
    return LocalExecutor(jobs)
