"""Grading on a Dask cluster: `nnzoo grade --executor dask [--scheduler ADDR]`.

One Dask task per student (all of the student's assignments due), records streamed back
as they finish and written by the client exactly as with `-j N` (`batch.grade_class`).
Without `--scheduler`, a `LocalCluster` of `-j` worker processes × 1 thread.

What the judge needs from a Dask worker (docs/cluster.md):

- one judging thread per worker process: the judge is not thread-safe (pytest's module
  table, the process-wide fork server, the claimed worker uid).  A cluster whose workers
  have more threads is refused before grading; a second task entering the judge of a
  process at once is refused too (`WorkerRefused`), never graded;
- the same nnzoo, `solutions/` and grader as the client: every task carries the client's
  grader fingerprints; a worker whose own differ is refused, and the judge's reference
  cache is keyed on them (`judge.run.reference_for`), so a long-lived worker never grades
  with a stale reference;
- a sandbox that passes the preflight there (`sandbox.preflight`).

A preflight task runs on every worker before any student is graded (and again in the
first grading task of a worker that joined or restarted later): a worker that fails it
stops the batch with a message naming the worker and what to fix — never a zero for a
student.  A worker that dies mid-task (kill -9, a lost host) costs nothing: Dask runs the
task again elsewhere; a task that killed workers `distributed.scheduler.allowed-failures`
times is recorded as a grader error for that student (`--resume` regrades it).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Iterator

from autograder import __version__
from autograder.batch.executors import Task
from autograder.judge.result import StudentRecord
from autograder.worker.limits import SandboxLimits

#: How long to wait for the first worker of an external scheduler.
WORKER_WAIT_SECONDS = 60


class WorkerRefused(RuntimeError):
    """A Dask worker that must not grade: the message names it and what to fix."""

    def batch_stopped(self) -> str:
        """The one line `nnzoo grade` ends with when a worker is refused midway."""
        return f"{self} — the students graded so far are recorded; rerun with --resume"


# -- on the worker ----------------------------------------------------------------------------

_JUDGE = threading.Lock()  # one judging thread per process
_FIT: dict[tuple, str] = {}  # per worker process: batch key -> refusal ("" = fit)


def _where() -> str:
    try:
        from distributed import get_worker

        address = get_worker().address
    except (ImportError, ValueError):
        address = "?"
    return f"worker {address} (host {socket.gethostname()}, pid {os.getpid()})"


def _threads() -> int:
    try:
        from distributed import get_worker

        return int(get_worker().state.nthreads)
    except (ImportError, ValueError, AttributeError):
        return 1


def worker_refusal(prints: dict[str, str], version: str, allow_weak: bool, secret_paths: tuple) -> tuple[str, str]:
    """Why this worker process must not grade the batch (one line), or ""; and what a weak
    sandbox leaves readable ("" when nothing, or when refused).

    `secret_paths`: the submissions, output and nbgrader course folders as the client
    names them (checked where they exist on this host: a LocalCluster's workers)."""
    from autograder.batch.fingerprint import fingerprint
    from autograder.course import names, project_root

    problems = []
    if version != __version__:
        problems.append(f"nnzoo {__version__} here, {version} on the client — install the client's nnzoo on every host")
    if not any(ep.name == "nnzoo" for ep in entry_points(group="pytest11")):
        problems.append("nnzoo is importable but not installed (its pytest plugin is missing: PYTHONPATH is not enough, "
                        "the sandbox runs Python with -I) — `pip install nnzoo[dask]` in the workers' environment")
    if _threads() != 1:
        problems.append(f"{_threads()} threads in this worker process; the judge needs one — `dask worker --nthreads 1`")
    known = set(names(hidden=True))
    missing = [a for a in prints if a not in known]
    if missing:
        problems.append(f"no solutions/ of {', '.join(missing)} under {project_root()} — copy the course folder here "
                        "and point NNZOO_ROOT at it in the workers' environment")
    differ = [a for a in prints if a in known and fingerprint(a) != prints[a]]
    if differ:
        problems.append(f"the grader of {', '.join(differ)} differs from the client's (solutions/, datasets/ or nnzoo "
                        "changed) — make them equal to the client's, then restart the workers")
    if problems:
        return "; ".join(problems), ""
    from autograder.sandbox.preflight import class_secrets, grader_secrets, preflight

    submissions, out, course_dir = (Path(p) if p else None for p in secret_paths)
    found = preflight(grader_secrets() + class_secrets(submissions, out, course_dir), cached=False)
    return found.refusal(allow_weak), found.leak()


def preflight_worker(prints: dict[str, str], version: str, allow_weak: bool, secret_paths: tuple) -> dict:
    """The preflight task: where it ran, why the worker must not grade ("" if fit), the leak."""
    refusal, leak = worker_refusal(prints, version, allow_weak, secret_paths)
    _FIT[_batch_key(prints, version, allow_weak, secret_paths)] = refusal
    return {"where": _where(), "refusal": refusal, "leak": leak}


def _batch_key(prints: dict[str, str], version: str, allow_weak: bool, secret_paths: tuple) -> tuple:
    return tuple(sorted(prints.items())), version, allow_weak, tuple(secret_paths)


def grade_on_worker(sub: Any, assignments: list[str], limits: SandboxLimits, prints: dict[str, str],
                    checked: tuple) -> StudentRecord:
    """One grading task: `batch.grade_student` in this worker's judge, after making sure the
    worker is fit (`checked`: the arguments of its preflight)."""
    from autograder.batch import grade_student
    from autograder.batch.fingerprint import fingerprint

    if not _JUDGE.acquire(blocking=False):
        raise WorkerRefused(f"{_where()}: a second thread entered the judge — start workers with `--nthreads 1`")
    try:
        key = _batch_key(*checked)
        if key not in _FIT:  # a worker that joined or restarted after the batch's preflight
            _FIT[key] = worker_refusal(*checked)[0]
        if _FIT[key]:
            raise WorkerRefused(f"{_where()}: {_FIT[key]}")
        changed = [a for a in assignments if fingerprint(a) != prints[a]]
        if changed:
            raise WorkerRefused(f"{_where()}: the grader of {', '.join(changed)} changed during the batch — "
                                "make it equal to the client's, restart the workers, then rerun with --resume")
        return grade_student(sub, assignments, limits, prints)
    finally:
        _JUDGE.release()


# -- on the client ----------------------------------------------------------------------------

class DaskExecutor:
    """Students graded on a Dask cluster: the scheduler at `scheduler`, or a LocalCluster of
    `jobs` worker processes × 1 thread started (and stopped) here."""

    def __init__(self, scheduler: str | None = None, jobs: int = 1) -> None:
        self.scheduler = scheduler
        self.jobs = jobs
        self.client: Any = None
        self.cluster: Any = None
        self._checked: tuple = ()

    def __enter__(self) -> "DaskExecutor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> str:
        """Start the LocalCluster or connect to the scheduler; why not, or ""."""
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            return "--executor dask needs Dask: pip install 'nnzoo[dask]'"
        if self.client is not None:
            return ""
        if self.scheduler is None:
            self.cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1, processes=True,
                                        dashboard_address=":0", silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
            return ""
        try:
            self.client = Client(self.scheduler, timeout=30)
        except (OSError, TimeoutError) as exc:
            return f"cannot reach the Dask scheduler at {self.scheduler} ({exc}) — is `dask scheduler` running there?"
        try:
            self.client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
        except TimeoutError:
            return (f"no Dask worker joined the scheduler at {self.scheduler} within {WORKER_WAIT_SECONDS} s — "
                    f"start `dask worker {self.scheduler} --nthreads 1` on each host")
        return ""

    def refusal(self, assignments: list[str], submissions: Path | None, out: Path, course_dir: Path | None = None,
                allow_weak: bool = False) -> str:
        """Connect, then fail closed: workers with more than one thread, and every worker's
        preflight (nnzoo installed, the same solutions/ and grader, the sandbox)."""
        import sys

        from autograder.batch.fingerprint import fingerprint

        problem = self._connect()
        if problem:
            return problem
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        threaded = sorted(f"{addr} ({w['nthreads']} threads)" for addr, w in workers.items() if w["nthreads"] != 1)
        if threaded:
            return (f"the judge runs one thread per process, and these Dask workers have more: {', '.join(threaded)} — "
                    "start them with `dask worker ADDR --nthreads 1 --nworkers N`")
        out.mkdir(parents=True, exist_ok=True, mode=0o700)
        prints = {a: fingerprint(a) for a in assignments}
        paths = tuple(str(Path(p).resolve()) if p else "" for p in (submissions, out, course_dir))
        self._checked = (prints, __version__, allow_weak, paths)
        futures = {addr: self.client.submit(preflight_worker, *self._checked, workers=[addr], allow_other_workers=False,
                                            pure=False, key=f"nnzoo-preflight-{uuid.uuid4().hex[:8]}")
                   for addr in sorted(workers)}
        refusals, leaks = [], {}
        for addr, future in futures.items():
            try:
                found = future.result()
            except Exception as exc:
                refusals.append(f"worker {addr}: cannot run nnzoo's preflight ({type(exc).__name__}: {str(exc)[:200]}) — "
                                "install nnzoo there with `pip install 'nnzoo[dask]'`")
                continue
            if found["refusal"]:
                refusals.append(f"{found['where']}: {found['refusal']}")
            elif found["leak"]:
                leaks.setdefault(found["leak"], []).append(addr)
        for leak, addrs in leaks.items():
            print(f"nnzoo grade: weak sandbox (--allow-weak-sandbox) on {', '.join(addrs)}: {leak}", file=sys.stderr)
        return "\n  ".join(refusals)

    def run(self, todo: list[Task], limits: SandboxLimits, prints: dict[str, str]) -> Iterator[StudentRecord]:
        """One task per student; records as they finish.  Raises `WorkerRefused` (after
        cancelling what is left) when a worker turns out unfit mid-batch."""
        from distributed import KilledWorker, as_completed

        from autograder.batch import unfinished_record

        if not todo:
            return
        if self._connect():
            raise WorkerRefused(self._connect())
        checked = self._checked or (prints, __version__, False, ("", "", ""))
        batch = uuid.uuid4().hex[:8]
        futures = {self.client.submit(grade_on_worker, sub, assignments, limits, prints, checked, pure=False,
                                      key=f"nnzoo-grade-{sub.student}-{batch}"): (sub, assignments)
                   for sub, assignments in todo}
        try:
            for future in as_completed(futures):
                sub, assignments = futures[future]
                try:
                    record = future.result()
                except KilledWorker as exc:  # the task killed every worker it ran on
                    record = unfinished_record(sub, assignments, prints, exc)
                future.release()
                yield record
        finally:
            pending = [f for f in futures if not f.done()]
            if pending:
                self.client.cancel(pending)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None
