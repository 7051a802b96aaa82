"""The judge's side of a worker: start it, send probes, enforce the wall clock, kill it."""

from __future__ import annotations

import os
import pickle
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from autograder.errors import GraderError, StudentCodeError, SubmissionFailure
from autograder.judge.shown import without_data
from autograder.sandbox.channel import (
    Channel,
    ChannelClosed,
    ChannelTimeout,
    FrameTooLong,
)
from autograder.sandbox.reap import reap_later, take_uid_lock, wait_reaped
from autograder.worker.encoding import WireError, WireLimits, decode
from autograder.worker.isolation import worker_paths
from autograder.worker.limits import SandboxLimits
from autograder.worker.preflight import Reachability
from autograder.worker.probes.core import describe
from autograder.worker.serve import WorkerSpec
from autograder.worker.spec import ProbeRequest, request_bytes

#: What the fork server, and so every worker, keeps of the judge's environment: where the
#: course's shipped data and the system's programs and libraries are, the locale, the time
#: zone, the temporary folder.
KEPT_VARIABLES = frozenset({"NNZOO_ROOT", "PATH", "LD_LIBRARY_PATH", "LANG", "LANGUAGE", "TZ", "TMPDIR"})


def fork_server_environment(judge: dict[str, str]) -> dict[str, str]:
    """The environment the fork server starts with, given the judge's own (`judge`): its
    `KEPT_VARIABLES` and `LC_*`, and one thread for OpenMP and MKL; nothing else.

    Student code can print `os.environ` into its own feedback, so the instructor's tokens
    must not be there; and what a library set in the judge's process must not slow the
    workers down: a Dask worker, and any process that started a `LocalCluster`, carries
    Dask's `MALLOC_TRIM_THRESHOLD_=65536`, under which gnn's gradings took 1.8–2.0× as long.
    """
    kept = {name: value for name, value in judge.items() if name in KEPT_VARIABLES or name.startswith("LC_")}
    return {**kept, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class ForkServer:
    """The judge's handle on its fork server process (started once, on first use).

    Starting it does not wait: the server imports torch while the judge imports its own
    side (pytest, the reference, the hidden tests); the first `fork` waits until it is ready.
    Its workers inherit its environment (`fork_server_environment`), except `NNZOO_ROOT`
    (where they find the course's shipped data), which comes with each fork: a judge whose
    course changed keeps its server, unless the files the workers' root binds changed with
    it (`worker_paths`: a course shipping its own weights), which only a new server binds.
    """

    _instance: "ForkServer | None" = None

    def __init__(self) -> None:
        judge_end, server_end = socket.socketpair()
        self.worker_paths = worker_paths()
        self.process = subprocess.Popen(
            # -I: no current folder on sys.path, no PYTHON* variables, no user site
            [sys.executable, "-I", "-m", "autograder.worker.forkserver", str(server_end.fileno())],
            pass_fds=[server_end.fileno()],
            env=fork_server_environment(dict(os.environ)),
            stdin=subprocess.DEVNULL,
            process_group=0,  # Ctrl-C in the terminal reaches the judge only: the server ends with it
        )
        server_end.close()
        self.control = judge_end
        self._ready = False
        self._asked = 0  # forks asked for, numbered from 1: a fork's ticket
        self._answered = 0
        self._pids: dict[int, int] = {}  # ticket → pid: answers read but not yet claimed

    def ready_now(self) -> bool:
        """Whether the server is ready to fork, without waiting for it."""
        if not self._ready and select.select([self.control], [], [], 0)[0]:
            self._wait_until_ready()
        return self._ready

    def _wait_until_ready(self) -> None:
        if not self._ready:
            if self.control.recv(1) != b"R":
                raise GraderError("the sandbox fork server did not start (is torch installed? its error, if any, is above)")
            self._ready = True

    @classmethod
    def get(cls) -> "ForkServer":
        held = cls._instance
        if held is not None and held.process.poll() is None and held.worker_paths != worker_paths():
            held.stop()
            held = None
        if held is None or held.process.poll() is not None:
            held = cls._instance = cls()
        return held

    def stop(self) -> None:
        """End the server (its running workers are reaped by their own handles)."""
        self.control.close()
        self.process.kill()
        self.process.wait()

    def fork(self, spec: WorkerSpec) -> tuple[int, socket.socket]:
        """Ask for a worker for `spec` and return without waiting for the fork (≈ 8 ms): a
        ticket for its pid (see `pid`) and the judge's end of its pipe."""
        self._wait_until_ready()
        judge_end, worker_end = socket.socketpair()
        try:
            data = pickle.dumps(spec)
            # the length (with the worker's end and the uid's lock attached), then the spec:
            # a stream socket may split a large spec over several reads
            fds = [worker_end.fileno(), *claimed_uid_lock(spec.limits.worker_uid)]
            socket.send_fds(self.control, [len(data).to_bytes(8, "little")], fds)
            self.control.sendall(data)
        finally:
            worker_end.close()
        self._asked += 1
        return self._asked, judge_end

    def pid(self, ticket: int) -> int:
        """The pid of the worker forked for `ticket` (the server answers in the order asked)."""
        while ticket not in self._pids:
            answer = b""
            while len(answer) < 8:
                chunk = self.control.recv(8 - len(answer))
                if not chunk:
                    raise GraderError("the sandbox fork server ended before it said which worker it forked")
                answer += chunk
            self._answered += 1
            self._pids[self._answered] = int.from_bytes(answer, "little")
        pid = self._pids.pop(ticket)
        if pid <= 0:
            raise GraderError("the sandbox fork server failed to fork a worker")
        return pid


class MalformedReply(SubmissionFailure):
    """A check looked for a part of a probe's result that the worker's reply lacks, or
    found it of another structure than the probe sends (a list where it sends a dict)."""

    def __init__(self, what: str, found: str = "") -> None:
        detail = f" ({found})" if found else ""
        super().__init__("crash", f"the worker's reply lacks {what}{detail}: it was not what the grader's probe sends")


def _entry(key: Any) -> str:
    """How a message names the entry `key` of a reply (bounded: the key may be the worker's)."""
    return f"the entry {str(key)[:40]!r}"


class ReplyDict(dict):
    """A dict from a worker's reply: a missing key is the reply's fault, not the grader's."""

    def __missing__(self, key: Any) -> Any:
        raise MalformedReply(_entry(key))

    def __reduce__(self) -> tuple:  # sent back to a worker (e.g. weights), it is a plain dict
        return (dict, (dict(self),))


class _ReplySequence:
    """What a list or tuple of a worker's reply does when a check reads it as the probe's
    structure and the reply has another: an index past its end, a string key or a dict's
    method (the reply sent a list where the probe sends a dict) is the reply's fault."""

    kind = "sequence"

    def _not_a_dict(self, what: str) -> MalformedReply:
        return MalformedReply(what, f"it sent a {self.kind} where the probe sends a dict")

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, str):
            raise self._not_a_dict(_entry(index))
        try:
            item = super().__getitem__(index)
        except IndexError:
            raise MalformedReply(f"item {index}", f"it sent a {self.kind} of {len(self)}") from None
        return type(self)(item) if isinstance(index, slice) else item

    def get(self, key: Any, default: Any = None) -> Any:
        raise self._not_a_dict(_entry(key))

    def items(self) -> Any:
        raise self._not_a_dict("named entries")

    keys = values = items


class ReplyList(_ReplySequence, list):
    """A list from a worker's reply (see `_ReplySequence`)."""

    kind = "list"

    def __reduce__(self) -> tuple:  # sent back to a worker, it is a plain list
        return (list, (list(self),))


class ReplyTuple(_ReplySequence, tuple):
    """A tuple from a worker's reply (see `_ReplySequence`)."""

    kind = "tuple"

    def __reduce__(self) -> tuple:  # sent back to a worker, it is a plain tuple
        return (tuple, (tuple(self),))


def as_reply(value: Any) -> Any:
    """`value` with every dict, list and tuple inside made a `ReplyDict`/`ReplyList`/`ReplyTuple`."""
    if isinstance(value, dict):
        return ReplyDict({k: as_reply(v) for k, v in value.items()})
    if isinstance(value, list):
        return ReplyList(as_reply(v) for v in value)
    if isinstance(value, tuple):
        return ReplyTuple(as_reply(v) for v in value)
    return value


#: The entries of the core probes' results that the generic checks read as containers
#: (`checks.modules`: `.items()`, `.get`, `zip`), by probe; each is checked, where the
#: reply has it, before any check sees the result.
CONTAINERS: dict[str, dict[str, type]] = {
    "run": {"input_grads": list, "param_grads": dict, "param_shapes": dict},
    "state_dict": {"param_shapes": dict},
}


def probe_result(probe: str, body: Any) -> dict:
    """The result the worker sent for probe `probe`, checked to have the probe's structure
    where the checks rely on it: a dict (every probe returns one), whose entries in
    `CONTAINERS` are of their type, and whose `param_shapes` are lists of sizes.  Anything
    else raises `MalformedReply`: only a worker whose probe was replaced sends it."""
    if not isinstance(body, dict):
        raise MalformedReply(f"a dict as the result of probe {probe[:40]!r}", f"it sent {describe(body)}")
    for key, kind in CONTAINERS.get(probe, {}).items():
        if key in body and not isinstance(body[key], kind):
            raise MalformedReply(_entry(key) + f" as {describe(kind())}", f"it sent {describe(body[key])}")
    shapes = body.get("param_shapes", {})
    for name, shape in shapes.items() if isinstance(shapes, dict) else ():
        if not (isinstance(shape, list) and all(type(size) is int and size >= 0 for size in shape)):
            raise MalformedReply(f"the shape of parameter {str(name)[:40]!r} as a list of sizes", f"it sent {describe(shape)}")
    return body


#: What a student reads when the worker's reply is not a reply of the protocol.
MALFORMED = ("the worker sent a malformed reply — a process your code forked that keeps running the worker's loop, or code "
             "that writes to file descriptors it did not open, garbles the replies")


def load_reply(data: bytes, limits: WireLimits) -> dict:
    """A worker's reply, decoded as bounded data: `{kind: body}` with one key."""
    try:
        reply = decode(data, limits)
    except WireError as exc:
        raise SubmissionFailure("crash", f"the worker sent a reply the grader refuses: {exc}") from None
    if not isinstance(reply, dict) or len(reply) != 1:
        raise SubmissionFailure("crash", MALFORMED)
    return as_reply(reply)


def _text(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: How much of the message of a student's exception is shown, in the feedback of hidden
#: tests too: the student's code wrote it, and could write the grader's hidden inputs into
#: it.  Long runs of numbers (a tensor's repr) and of characters without a space (base64,
#: base85, a long path) are left out, and what remains is bounded: a few hundred characters
#: per failed test, where an honest message keeps its words and shapes.
MESSAGE_CHARS = 240


def shown_message(value: Any) -> str:
    """`value`, a worker's exception message, as feedback may show it (`MESSAGE_CHARS`).

    Example:
        >>> shown_message("bad input tensor([1., 2., 3., 4., 5., 6., 7., 8., 9., 10.])")
        'bad input tensor([…'
    """
    return without_data(value if isinstance(value, str) else "", chars=MESSAGE_CHARS, longest_word=48, most_numbers=9)


def student_error(body: Any, during: str = "") -> StudentCodeError:
    """The exception a worker reported, with every string bounded (the worker chose them)."""
    body = body if isinstance(body, dict) else {}
    types = body.get("types") if isinstance(body.get("types"), list) else []
    names = [_text(t, 100) for t in types[:8] if isinstance(t, str)] or ["Exception"]
    return StudentCodeError(names, shown_message(body.get("message")), _text(body.get("where"), 200), during)


#: A request sent ahead, while the worker still computes the one before, must fit the
#: pipe's buffer (208 KiB by default on Linux) so that the judge never blocks on it while
#: the worker blocks on its answer; a larger one waits until that answer is read.
AHEAD_BYTES = 64 * 1024

#: How many worker uids a judge claims.  Its workers take them in turn: a worker's uid is
#: swept in the background when the worker ends (≈ 15 ms: the kernel tears the killed worker
#: down, then the world-writable folders are scanned), and the next worker starts under the
#: other uid meanwhile, instead of waiting for that sweep.
UIDS_PER_JUDGE = 2

_CLAIMED_UIDS: list[tuple[int, int]] = []  # (uid, fd of its lock file), per judge process
_TURN = [-1]  # index into _CLAIMED_UIDS of the uid the last worker took


def claim_worker_uids(base: int, span: int = 1000) -> tuple[int, ...]:
    """This judge's worker uids, which no other judge on this machine uses: the first
    `UIDS_PER_JUDGE` free locks from `base`.

    Every process of a worker's uid is killed when the worker ends, so two judges (parallel
    jobs, or two graders at once) must never share one.  The locks live as long as this
    process.  What an earlier holder of a uid left (a judge killed with `kill -9` before its
    fork server could sweep) is removed before this judge's first worker under it starts:
    that worker waits for the sweep started here.
    """
    if _CLAIMED_UIDS and _CLAIMED_UIDS[0][0] >= base:
        return tuple(uid for uid, _ in _CLAIMED_UIDS)
    claimed = []
    for uid in range(base, base + span):
        fd = take_uid_lock(uid)
        if fd is None:
            continue
        claimed.append((uid, fd))
        if len(claimed) == UIDS_PER_JUDGE:
            break
    else:
        for _, fd in claimed:
            os.close(fd)
        raise GraderError(f"no {UIDS_PER_JUDGE} free worker uids in {base}..{base + span - 1}")
    _CLAIMED_UIDS[:] = claimed
    _TURN[0] = -1
    for uid, _ in claimed:
        reap_later(uid)
    return tuple(uid for uid, _ in claimed)


def next_worker_uid(base: int) -> int:
    """The uid of this judge's next worker: its claimed uids in turn (see `UIDS_PER_JUDGE`)."""
    uids = claim_worker_uids(base)
    _TURN[0] = (_TURN[0] + 1) % len(uids)
    return uids[_TURN[0]]


def worker_cpu(base: int) -> int | None:
    """The CPU this judge's workers run on (`isolation.pin_to_cpu`): judges on one machine
    take the CPUs in turn, by the worker uids they claimed, so that a student's code that
    starts forty busy threads slows its own grading only, not a classmate's in the same
    batch.  None (any CPU) where the judge claims no uids (not root)."""
    if os.getuid() != 0:
        return None
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[(claim_worker_uids(base)[0] - base) // UIDS_PER_JUDGE % len(cpus)]


def claimed_uid_lock(uid: int) -> list[int]:
    """The descriptor of this judge's lock on worker uid `uid`, in a list ([] when this judge
    claimed no such uid).  The judge sends it to its fork server with each fork: the lock is
    then held until the server too has ended and swept the uid, so that no other judge can
    claim the uid, however this one ended, before what its workers left is gone."""
    return [fd for claimed, fd in _CLAIMED_UIDS if claimed == uid]


#: A worker's scratch folder is `<temporary folder>/nnzoo-worker-<its judge's pid>-<random>`.
SCRATCH_PREFIX = "nnzoo-worker-"
_SWEPT = [False]  # this judge removed the scratch folders of judges that are gone


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def sweep_orphaned_scratch() -> None:
    """Remove the scratch folders of judges that are gone, once per judge: a judge killed
    with -9 runs none of its clean-up, and its workers died with its fork server."""
    if _SWEPT[0]:
        return
    _SWEPT[0] = True
    for folder in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*-*"):
        pid = folder.name[len(SCRATCH_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)  # never follows a link


class SandboxedWorker:
    """One worker process for one student's module, restarted after a timeout or crash.

    Args:
        source: the student's code (written into the worker's scratch).
        module_name: the name it is imported as (e.g. "mlp").
        limits: the `SandboxLimits` in force.
        preflight: run no student code; find out what the worker can reach instead
            (see `reachability`).
    """

    def __init__(self, source: str, module_name: str, limits: SandboxLimits,
                 preflight: Reachability | None = None) -> None:
        self.source = source
        self.module_name = module_name
        self.preflight = preflight
        self._reachability: dict | None = None
        self._uid_base = limits.worker_uid
        if os.getuid() == 0:
            limits = replace(limits, worker_uid=claim_worker_uids(self._uid_base)[0])  # each launch takes its own
        self.limits = limits
        self.wire = WireLimits(frame_bytes=limits.result_bytes)
        self.levels: dict[str, str] = {}
        self.deadline = time.monotonic() + limits.submission_seconds
        self._import_error: StudentCodeError | SubmissionFailure | None = None
        self._server: ForkServer | None = None
        self._ticket: int | None = None  # of a launched worker (see `ForkServer.fork`)
        self._known_pid: int | None = None
        self._greeted = False  # the worker said it imported the module
        self._in_flight = 0  # requests sent whose answers were not read yet
        self._launches = 0
        self._channel: Channel | None = None
        self._scratch: Path | None = None

    # -- lifecycle -------------------------------------------------------------------
    def launch(self) -> None:
        """Fork the worker now, if the fork server is ready, and return at once: the worker
        isolates itself and imports the student's module while the judge prepares its
        tests.  The first request waits for it — or starts it, when it was not launched or
        its launch failed (that request then says why)."""
        if self._ticket is not None or self.unrunnable is not None:
            return
        try:
            if ForkServer.get().ready_now():
                self._launch()
        except Exception:  # noqa: BLE001 — retried, and reported, by the first request
            pass

    def _launch(self) -> None:
        """Fork the worker; it starts isolating itself and importing the module at once."""
        sweep_orphaned_scratch()
        self._scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))
        # removed by `close`, and at the latest when this handle is collected or the judge exits
        self._forget_scratch = weakref.finalize(self, shutil.rmtree, str(self._scratch), True)
        os.chmod(self._scratch, 0o711)
        self._greeted = False
        self._launches += 1
        try:
            if os.getuid() == 0:
                self.limits = replace(self.limits, worker_uid=next_worker_uid(self._uid_base))
                wait_reaped(self.limits.worker_uid)  # nothing of the uid's last worker may be left
            # a worker without a private root (the fallback) works in this folder's `work/`
            spec = WorkerSpec(self.module_name, str(self._scratch / "work"), self.limits, self.preflight,
                              course_root=os.environ.get("NNZOO_ROOT"), cpu=worker_cpu(self._uid_base))
            try:
                self._server = ForkServer.get()
                self._ticket, sock = self._server.fork(spec)
                self._channel = Channel(sock, self._alive)
            except OSError as exc:  # the fork server itself failed: not the student's fault
                raise GraderError(f"could not start a sandboxed worker: {exc}") from exc
            # the source goes to the worker alone, never through the fork server (see `serve`)
            try:
                self._channel.send(self.source.encode("utf-8", "surrogatepass"), self._call_deadline()[0])
            except (ChannelClosed, ChannelTimeout):  # the worker ended while isolating: its greeting says so
                pass
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        """Launch the worker (unless `launch` did) and wait until it imported the module."""
        if self._ticket is None:
            self._launch()
        try:
            self._greet()
        except BaseException:
            self.close()
            raise

    def _greet(self) -> None:
        # the levels come before the student's module is imported: no student code wrote them
        try:
            first = self._receive("while starting")
        except SubmissionFailure as exc:  # no student code has run yet: the sandbox failed
            raise GraderError(f"the sandboxed worker did not start: {exc}") from None
        if "isolation_error" in first:
            self.close()
            raise GraderError(f"the sandbox could not isolate a worker: {_text(first['isolation_error'], 500)}")
        levels = first.get("levels")
        self.levels = {_text(k, 40): _text(v, 200) for k, v in levels.items()} if isinstance(levels, dict) else {}
        if self.preflight is not None:  # no student code in this worker: any failure is the sandbox's
            try:
                self._reachability = self._receive("while inspecting the sandbox").get("reachability")
            except SubmissionFailure as exc:
                raise GraderError(f"the preflight worker failed: {exc}") from None
            finally:
                self.close()
            return
        try:
            greeting = self._receive("while importing your module")
        except SubmissionFailure as exc:
            # an import that hangs or ends the process would do so again: every later test fails at once,
            # where each had waited its own call limit (17 × 30 s for a `while True:` at the top level)
            if exc.reason == "timeout":
                exc = SubmissionFailure("timeout", f"importing your module did not finish within {self.limits.call_seconds:.0f} s — "
                                                   "code at the top level of your file runs on import: keep experiments and "
                                                   "training under `if __name__ == \"__main__\":`")
            if exc.reason in ("timeout", "exit"):
                self._import_error = exc
            raise exc from None
        if "import_error" in greeting:
            self._import_error = student_error(greeting["import_error"], "when importing it")
            self.close()
            raise self._import_error
        if "ready" not in greeting:
            self.close()
            raise SubmissionFailure("crash", MALFORMED.replace("reply", "reply while importing your module", 1))
        self._greeted = True

    def close(self) -> None:
        """Kill the worker's whole process tree and remove its scratch space.  What else its
        uid left (processes it started, IPC objects, files) is removed in the background:
        `autograder.sandbox.reap.wait_reaped` waits for that, and so does the uid's next
        worker before it starts."""
        if self._ticket is not None:
            try:
                pid = self.pid
            except (GraderError, OSError):  # the server is gone: the uid's reap below kills the worker
                pid = None
            for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
                try:
                    kill()
                except (ProcessLookupError, PermissionError, TypeError):
                    pass
            if os.getuid() == 0:
                reap_later(self.limits.worker_uid)
            self._ticket = self._known_pid = None
        self._in_flight = 0
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self._scratch is not None:
            self._forget_scratch()
            self._scratch = None

    # -- requests --------------------------------------------------------------------
    def _call_deadline(self) -> tuple[float, str]:
        """The deadline of the current call, and the failure reason when it passes."""
        call_end = time.monotonic() + self.limits.call_seconds
        return (call_end, "timeout") if call_end < self.deadline else (self.deadline, "budget")

    def _failure(self, reason: str, what: str) -> SubmissionFailure | GraderError:
        server_gone = self._server is not None and self._server.process.poll() is not None
        self.close()
        if reason == "exit" and server_gone:  # its workers die with it (`isolation.die_with_the_server`)
            return GraderError(f"the sandbox fork server ended, and with it the worker {what}")
        if reason == "budget":
            return SubmissionFailure("budget", f"the submission used up its {self.limits.submission_seconds:.0f} s time budget")
        if reason == "timeout":
            return SubmissionFailure("timeout", f"no answer {what} within {self.limits.call_seconds:.0f} s (an endless loop, or far too slow?)")
        return SubmissionFailure("exit", f"the worker process ended {what}: your code exited, crashed or was killed for memory")

    def _send(self, data: bytes, what: str) -> None:
        deadline, reason = self._call_deadline()
        try:
            self._channel.send(data, deadline)
        except ChannelTimeout:
            raise self._failure(reason, what) from None
        except ChannelClosed:
            raise self._failure("exit", what) from None

    def _receive(self, what: str, deadline: tuple[float, str] | None = None) -> dict:
        """The next reply, complete before `deadline` (a `_call_deadline()`; by default one
        from now)."""
        deadline, reason = deadline or self._call_deadline()
        state = self._channel.wait(deadline)
        if state != "ready":
            raise self._failure(reason if state == "timeout" else "exit", what)
        try:
            data = self._channel.receive(self.limits.result_bytes, deadline)
        except ChannelTimeout:
            raise self._failure(reason, what) from None
        except ChannelClosed:
            raise self._failure("exit", what) from None
        except FrameTooLong:
            self.close()
            raise SubmissionFailure("crash", f"the worker sent a reply {what} over the grader's "
                                    f"{self.limits.result_bytes // 2**20} MiB limit") from None
        try:
            return load_reply(data, self.wire)
        except BaseException:
            self.close()
            raise

    @property
    def pid(self) -> int | None:
        """The worker's pid (the fork server's answer, waited for the first time), or None
        when no worker is running."""
        if self._ticket is not None and self._known_pid is None:
            self._known_pid = self._server.pid(self._ticket)
        return self._known_pid

    def _alive(self) -> bool:
        if self._ticket is None:
            return False
        try:
            os.kill(self.pid, 0)  # the fork server reaps its children: a dead pid is gone
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True

    @property
    def unrunnable(self) -> Exception | None:
        """Why no probe can run any more (the module failed to import, the time budget is
        spent), or None."""
        if self._import_error is not None:
            return self._import_error
        if time.monotonic() >= self.deadline:
            return SubmissionFailure("budget", f"the submission used up its {self.limits.submission_seconds:.0f} s time budget")
        return None

    def reachability(self) -> dict:
        """For a preflight worker: what it could reach (`worker.preflight.reachability`)
        and, in `levels`, how it was isolated."""
        if self.preflight is None:
            raise ValueError("not a preflight worker")
        if self._reachability is None:
            self._start()
        if not isinstance(self._reachability, dict):
            raise GraderError("the preflight worker sent no answer")
        return self._reachability

    def request(self, request: ProbeRequest) -> dict:
        """Run one probe; return its result or raise `StudentCodeError`/`SubmissionFailure`."""
        return next(self.request_each([request]))

    def submit(self, request: ProbeRequest) -> Callable[[], dict]:
        """Send one probe now and return a function that waits for its answer (returns
        what `request` would, or raises it), so that the judge works while the worker
        computes.  The answer must be read before any other request: a request sent in
        between restarts the worker, and the answer then raises `GraderError`.  One never
        read is left in flight, and the worker's next request restarts it."""
        launch = self._ready()
        what = f"to probe {request.name!r}"
        deadline = self._call_deadline()  # the call's time runs from now, as with `request`
        self._send(request_bytes(request), what)
        self._in_flight += 1

        def answer() -> dict:
            if self._launches != launch or self._ticket is None or self._in_flight != 1:
                raise GraderError("a check sent a request to the worker before reading the answer it submitted")
            return self._answer(request.name, deadline)

        return answer

    def request_each(self, requests: Sequence[ProbeRequest]) -> Iterator[dict]:
        """Run `requests` in order, yielding each result as its answer comes (or raising, at
        that request, what `request` would raise).  Each request is sent before the answer
        to the one before it is read, so the worker computes while the judge decodes and
        checks.  A consumer that stops early leaves an answer in flight: the worker's next
        request then restarts it rather than read that stale answer."""
        launch = self._ready()
        ahead: bytes | None = None  # the next request, when it was too large to send ahead
        for i, request in enumerate(requests):
            if self._launches != launch or self._ticket is None:
                raise GraderError("a check sent requests to the worker while reading the answers of a pipeline")
            what = f"to probe {request.name!r}"
            if i == 0 or ahead is not None:
                self._send(ahead if ahead is not None else request_bytes(request), what)
                self._in_flight += 1
                ahead = None
            if i + 1 < len(requests):
                data = request_bytes(requests[i + 1])
                if len(data) <= AHEAD_BYTES:
                    self._send(data, f"to probe {requests[i + 1].name!r}")
                    self._in_flight += 1
                else:
                    ahead = data
            yield self._answer(request.name)

    def _ready(self) -> int:
        """Make the worker ready for a new request (started, no answer in flight) and
        return its launch count; or raise why no probe can run."""
        failure = self.unrunnable
        if failure is not None:
            raise failure
        if self._in_flight:
            self.close()
        if self._ticket is None or not self._greeted:
            self._start()
        return self._launches

    def _answer(self, probe: str, deadline: tuple[float, str] | None = None) -> dict:
        """The result of the oldest request in flight (a request for `probe`), checked to
        have the probe's structure (`probe_result`), or what the worker raised for it."""
        reply = self._receive(f"to probe {probe!r}", deadline)
        self._in_flight -= 1
        if "raised" in reply:
            raise student_error(reply["raised"])
        if "ok" not in reply:
            self.close()
            raise SubmissionFailure("crash", MALFORMED)
        return probe_result(probe, reply["ok"])
