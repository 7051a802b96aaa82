"""The threat model (docs/threat-model.md), one test per line: what a hostile submission
tries, and that it gains nothing, harms no one and is reported with a reason.

The file runs in whichever sandbox mode this machine gives (autograder/worker/isolation.py):
the allow-list root as root with CAP_SYS_ADMIN, else the fallback (another uid, rlimits,
seccomp, reaping by uid).  tests/test_sandbox_fallback.py reruns it in a process that
dropped CAP_SYS_ADMIN.  In the fallback each line must still hold, or grading must refuse
(the preflight sees what the worker could read): `hidden_or_refused` checks exactly that.
Under NNZOO_TEST_SECRETS_CLOSED=1 (the fallback after `chmod o-rwx` of what the
preflight named) the line must hold.

Most tests drive a sandboxed worker directly with the `run` probe (fast); a few grade a
whole hostile submission to show the score is only what it earns.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import torch

from autograder.course import project_root
from autograder.errors import StudentCodeError, SubmissionFailure
from autograder.judge.run import grade_source
from autograder.judge.scan import scan_source
from autograder.judge.subject import SandboxSubject
from autograder.load import load_class
from autograder.sandbox import SandboxLimits
from autograder.sandbox import client
from autograder.sandbox.client import claim_worker_uids, worker_cpu
from autograder.sandbox.preflight import Secret, git_dirs, preflight
from autograder.sandbox.reap import (
    ipc_objects,
    live_processes,
    take_uid_lock,
    uid_lock_folder,
    wait_reaped,
)
from autograder.worker.isolation import PROJECT_DIR

LIMITS = SandboxLimits(call_seconds=10)  # single probes: a hang costs 10 s
#: what a worker's children meet (the layers behind seccomp's ban on them): allowed here
CHILDREN = SandboxLimits(call_seconds=10, child_processes=True)
GRADING = SandboxLimits(call_seconds=60)  # whole gradings: training must not time out on a loaded machine
HANG = SandboxLimits(call_seconds=2)
CORRECT = (Path(__file__).parent / "submissions" / "mlp" / "correct_einsum.py").read_text()
ROOT = os.geteuid() == 0
CAP_SYS_ADMIN = 21


def _has_cap_sys_admin() -> bool:
    status = Path("/proc/self/status").read_text()
    bounding = int(next(line.split()[1] for line in status.splitlines() if line.startswith("CapBnd:")), 16)
    return bool(bounding >> CAP_SYS_ADMIN & 1)


#: the mode the fork server will pick here: the allow-list root needs root and CAP_SYS_ADMIN
NAMESPACES = ROOT and _has_cap_sys_admin()
SECRETS_CLOSED = os.environ.get("NNZOO_TEST_SECRETS_CLOSED") == "1"


def relu_of(body: str, header: str = "") -> str:
    """A submission whose `relu` runs `body` (indented) before computing the right answer."""
    body = "".join(f"    {line}\n" for line in body.strip().splitlines())
    return header + "\nimport torch\n\ndef relu(x):\n" + body + "    return torch.clamp(x, min=0)\n"


def call_relu(source: str, limits: SandboxLimits = LIMITS):
    return call_in_worker(source, "relu", torch.tensor([-1.0, 2.0]), limits=limits)


def call_in_worker(source: str, call: str, *args, limits: SandboxLimits = LIMITS):
    """Import `source` in a fresh worker, call its function `call(*args)`, return the output
    once the worker has ended and what its uid left has been removed (in the background,
    waited for here as the uid's next worker would)."""
    subject = SandboxSubject(source, "mlp", limits)
    try:
        return subject.run("run", call=call, args=args, backward=False)["output"]
    finally:
        subject.close()
        wait_reaped()


def failure_of(source: str, limits: SandboxLimits = LIMITS) -> SubmissionFailure | StudentCodeError:
    with pytest.raises((SubmissionFailure, StudentCodeError)) as info:
        call_relu(source, limits)
    return info.value


def worker_processes() -> list[int]:
    """Live processes of this judge's worker uids."""
    return [pid for uid in claim_worker_uids(LIMITS.worker_uid) for pid in live_processes(uid)]


PEEK = '''
import errno, os

def peek(paths):
    """What this worker can do with each path: "listed" a folder, "read" a file, or the errno."""
    out = {}
    for p in paths:
        try:
            if os.path.isdir(p):
                os.listdir(p)
                out[p] = "listed"
            else:
                with open(p, "rb") as f:
                    f.read(16)
                out[p] = "read"
        except OSError as exc:
            out[p] = errno.errorcode.get(exc.errno, "OSError")
    return out
'''


def worker_reads(paths: list[Path | str]) -> dict[str, str]:
    return call_in_worker(PEEK, "peek", [str(p) for p in paths])


def hidden_or_refused(paths: list[Path], kind: str) -> str:
    """The line "the worker cannot read `paths`": it holds ("hidden"), or — only in the
    fallback — the preflight sees what the worker can read and grading refuses
    ("refused").  In the allow-list root, and with the secrets closed, it must hold."""
    seen = worker_reads(paths)
    readable = [p for p in paths if seen[str(p)] in ("read", "listed")]
    if not readable:
        return "hidden"
    assert not NAMESPACES, f"the allow-list root shows {readable}"
    assert not SECRETS_CLOSED, f"the fallback worker reads {readable} although the secrets are closed"
    found = preflight([Secret(str(p), kind, str(p)) for p in paths])
    assert {s.path for s in found.readable} >= {str(p) for p in readable}
    assert found.refusal(allow_weak=False) and "\n" not in found.refusal(allow_weak=False)
    return "refused"


@pytest.fixture
def shared_folder():
    """A folder next to the project's own files (so not under the worker's /tmp), readable
    by everyone — unless the secrets are closed, as an instructor would after the
    preflight's advice."""
    folder = Path(tempfile.mkdtemp(prefix=".nnzoo-test-", dir=PROJECT_DIR))
    folder.chmod(0o700 if SECRETS_CLOSED else 0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def world_readable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    path.write_text(text)
    path.chmod(0o644)
    return path


# -- exiting early ---------------------------------------------------------------------------

def test_os_exit_mid_call_is_reported_as_exit():
    assert failure_of(relu_of("import os\nos._exit(0)")).reason == "exit"


def test_sys_exit_at_import_is_an_import_error():
    err = failure_of("import sys\nsys.exit(0)\n")
    assert isinstance(err, StudentCodeError) and err.type_name == "SystemExit" and err.during


def test_keyboard_interrupt_mid_call_is_the_students_exception():
    err = failure_of(relu_of("raise KeyboardInterrupt"))
    assert isinstance(err, StudentCodeError) and err.type_name == "KeyboardInterrupt"


# -- hanging ---------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    "import signal\nfor s in (signal.SIGTERM, signal.SIGALRM, signal.SIGXCPU, signal.SIGINT):\n    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass",
    "import time\ntime.sleep(3600)",
    "import threading\nthreading.Lock().acquire(); threading.Lock().acquire()\nl = threading.Lock(); l.acquire(); l.acquire()",
])
def test_hangs_that_ignore_signals_are_killed_at_the_wall_clock(body):
    start = time.monotonic()
    assert failure_of(relu_of(body), HANG).reason == "timeout"
    assert time.monotonic() - start < HANG.call_seconds + 3


STUCK_JUDGE = '''
import sys
import torch
from autograder.judge.subject import SandboxSubject
from autograder.sandbox import SandboxLimits
subject = SandboxSubject(sys.argv[1], "mlp", SandboxLimits(call_seconds=600, worker_uid=int(sys.argv[2]),
                                                          child_processes=True))
answer = subject.submit("run", call="relu", args=(torch.tensor([1.0]),), backward=False)
print(subject.worker.pid, subject.worker.limits.worker_uid, flush=True)
answer()
'''


UNSET_PARENT_DEATH_SIGNAL = """
import ctypes, time
ctypes.CDLL(None).prctl(1, 0, 0, 0, 0)  # PR_SET_PDEATHSIG 0: an orphan could live on
time.sleep(3600)
"""


DETACHED_CHILD = """
import os, time
if os.fork() == 0:
    os.setsid()
    time.sleep(3600)
    os._exit(0)
time.sleep(3600)
"""


@pytest.mark.parametrize("body", ["import time\ntime.sleep(3600)", UNSET_PARENT_DEATH_SIGNAL, DETACHED_CHILD],
                         ids=["sleep", "unset the signal, then sleep", "a detached child, then sleep"])
def test_a_worker_stuck_when_its_judge_is_killed_with_9_ends_with_it(body, monkeypatch):
    """No judge is left to enforce the wall clock: the worker dies with its fork server,
    which ends with the judge (`isolation.die_with_the_server`), and seccomp keeps the
    student from unsetting that; the fork server's last act is to sweep the worker's uid
    (`reap.reap_unclaimed`), which in the fallback (no PID namespace) is what ends a
    detached child.  The fork server holds the judge's lock on the uid until it has swept
    it, so no judge can claim the uid while anything of the student's still runs.  The
    worker's scratch folder, which the killed judge could not remove, goes with the next
    judge's first worker."""
    base = 64000 + os.getpid() % 1000  # uids no other test claims: a fresh judge takes the first free from here
    judge = subprocess.Popen([sys.executable, "-c", STUCK_JUDGE, relu_of(body), str(base)],
                             stdout=subprocess.PIPE, text=True, cwd=PROJECT_DIR,
                             env={**os.environ, "TMPDIR": tempfile.gettempdir()})
    try:
        worker, uid = map(int, judge.stdout.readline().split())
        time.sleep(1.0)  # the worker imports the module and starts sleeping in `relu`
        assert process_state(worker) not in ("gone", "Z"), "the worker ended before its judge was killed"
        student: set[tuple[int, int | None]] = set()  # the uid's processes while the judge holds it
        if ROOT:
            started = 2 if body == DETACHED_CHILD else 1
            deadline = time.monotonic() + 10
            while len(live_processes(uid)) < started and time.monotonic() < deadline:
                time.sleep(0.05)
            student = {(pid, start_time(pid)) for pid in live_processes(uid)}
            assert len(student) >= started, "the worker's child did not start"
    finally:
        judge.kill()
        judge.wait()
    deadline = time.monotonic() + 10
    if ROOT:  # the uid is free to claim again only once the fork server has swept it
        while (lock := take_uid_lock(uid)) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert lock is not None, "the uid stayed claimed after its judge was killed"
        try:  # while the lock is held here no one sweeps: only what was killed before may end
            while still_running(student) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert still_running(student) == [], "the uid was free to claim while a process the worker started ran"
        finally:
            os.close(lock)
    while process_state(worker) not in ("gone", "Z") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process_state(worker) in ("gone", "Z"), "the worker outlived its judge"
    left = list(Path(tempfile.gettempdir()).glob(f"{client.SCRATCH_PREFIX}{judge.pid}-*"))
    assert left, "a judge killed with -9 cleans up nothing: its worker's scratch folder is expected to be left"
    monkeypatch.setattr(client, "_SWEPT", [False])
    client.sweep_orphaned_scratch()  # what the next judge does before its first worker
    assert not any(folder.exists() for folder in left), "the dead judge's scratch folder was not removed"


CLAIMING_JUDGE = '''
import sys, torch
from autograder.judge.subject import SandboxSubject
from autograder.sandbox import SandboxLimits
subject = SandboxSubject(sys.argv[1], "mlp", SandboxLimits(call_seconds=60, worker_uid=int(sys.argv[2])))
subject.run("run", call="relu", args=(torch.tensor([1.0]),), backward=False)
try:  # the leftover, while the first worker is still running: dead (a zombie of its parent) or gone?
    state = open(f"/proc/{sys.argv[3]}/stat").read().rsplit(")", 1)[1].split()[0]
except OSError:
    state = "gone"
print(subject.worker.limits.worker_uid, state, flush=True)
subject.close()
'''


@pytest.mark.skipif(not ROOT, reason="a per-worker uid (to kill every leftover) needs root")
def test_what_an_earlier_judge_left_under_a_uid_is_swept_by_the_next_judge_to_claim_it():
    """A judge killed before its fork server swept, and a new judge claimed the uid first
    (the fork server then leaves the uid to that judge): the new judge's first worker
    starts only once the uid holds nothing of the old one."""
    uid = 62000 + os.getpid() % 1900  # a uid no other test claims: a fresh judge takes the first free from here
    leftover = subprocess.Popen([sys.executable, "-c", f"import os, time\nos.setgroups([])\nos.setresgid({uid}, {uid}, {uid})\n"
                                 f"os.setresuid({uid}, {uid}, {uid})\ntime.sleep(3600)"])
    try:
        deadline = time.monotonic() + 10
        while leftover.pid not in live_processes(uid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert leftover.pid in live_processes(uid), "the leftover did not take the uid"
        judge = subprocess.run([sys.executable, "-c", CLAIMING_JUDGE, CORRECT, str(uid), str(leftover.pid)],
                               capture_output=True, text=True, cwd=PROJECT_DIR, timeout=120)
        assert judge.returncode == 0, judge.stderr[-2000:]
        assert judge.stdout.split() == [str(uid), "Z"], "the leftover lived on beside the new judge's first worker"
        assert leftover.wait(timeout=10) == -signal.SIGKILL
    finally:
        leftover.kill()
        leftover.wait()


def stat_fields(pid: int) -> list[str]:
    """The fields of `/proc/PID/stat` after the command name (state first), or [] when the
    process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def start_time(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot: a reused pid has another), or None."""
    fields = stat_fields(pid)
    return int(fields[19]) if fields else None


def still_running(processes: set[tuple[int, int | None]]) -> list[int]:
    """The pids of `processes` ((pid, start time) pairs) that have not ended."""
    running = []
    for pid, start in processes:
        fields = stat_fields(pid)
        if fields and fields[0] != "Z" and int(fields[19]) == start:
            running.append(pid)
    return running


def process_state(pid: int) -> str:
    """The state letter of process `pid` (`Z`: dead, not yet reaped), or "gone"."""
    fields = stat_fields(pid)
    return fields[0] if fields else "gone"


def test_input_gets_end_of_file_instead_of_waiting():
    err = failure_of(relu_of("input('answer? ')"))
    assert isinstance(err, StudentCodeError) and err.type_name == "EOFError"


# -- other processes -------------------------------------------------------------------------

@pytest.mark.skipif(not ROOT, reason="a per-worker uid (to kill every leftover) needs root")
def test_a_daemon_holding_the_pipe_is_killed_and_costs_nothing():
    daemon = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(1000)\n    os._exit(0)"
    assert torch.equal(call_relu(relu_of(daemon), CHILDREN), torch.tensor([0.0, 2.0]))
    assert worker_processes() == []


@pytest.mark.skipif(not ROOT, reason="a per-worker uid (to kill every leftover) needs root")
def test_a_uids_next_worker_starts_only_after_its_last_ones_leftovers_are_gone(monkeypatch):
    """A worker's end reaps its uid in the background; the uid's next worker waits for it,
    while the judge's next worker starts at once under the judge's other uid (a reap slowed
    down here, so that starting early would be seen)."""
    import autograder.sandbox.reap as reap
    from autograder.sandbox.client import ForkServer

    events = []
    honest_reap, honest_fork = reap.reap_uid, ForkServer.fork

    def slow_reap(uid):
        time.sleep(0.3)
        try:
            return honest_reap(uid)
        finally:
            events.append(("reaped", uid))

    def fork(self, spec):
        events.append(("forked", spec.limits.worker_uid))
        return honest_fork(self, spec)

    claim_worker_uids(LIMITS.worker_uid)
    wait_reaped()  # the sweeps of the claim, before reaps are slowed down
    monkeypatch.setattr(reap, "reap_uid", slow_reap)
    monkeypatch.setattr(ForkServer, "fork", fork)
    daemon = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(1000)\n    os._exit(0)"
    first, second, third = (SandboxSubject(source, "mlp", CHILDREN) for source in (relu_of(daemon), CORRECT, CORRECT))
    try:
        for subject in (first, second):
            subject.run("run", call="relu", args=(torch.tensor([1.0]),), backward=False)
            subject.close()
        third.run("run", call="relu", args=(torch.tensor([1.0]),), backward=False)
        uid, other = first.worker.limits.worker_uid, second.worker.limits.worker_uid
        assert other != uid and third.worker.limits.worker_uid == uid
        assert events.index(("forked", other)) < events.index(("reaped", uid)), "the second worker waited for the first's sweep"
        assert [event for event, of in events if of == uid] == ["forked", "reaped", "forked"]
        assert live_processes(uid) == [third.worker.pid]
    finally:
        for subject in (first, second, third):
            subject.close()
        wait_reaped()


HOLDING_JUDGE = """
import os, sys, time
from autograder.sandbox.reap import take_uid_lock
print(take_uid_lock(int(sys.argv[1])) is not None, flush=True)
time.sleep(60)
"""


def test_judges_with_different_temporary_folders_never_claim_the_same_uid(tmp_path, monkeypatch):
    """The locks on worker uids are one registry per machine: a judge whose TMPDIR differs
    (another shell, a service with its own) must still see a uid another judge holds — two
    holders of one uid would each kill the other's workers."""
    uid = 63000 + os.getpid() % 1000  # a uid no other test claims
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLDING_JUDGE, str(uid)], stdout=subprocess.PIPE, text=True,
                              cwd=PROJECT_DIR, env={**os.environ, "TMPDIR": str(tmp_path / "a")})
    try:
        assert holder.stdout.readline().strip() == "True", "the first judge could not claim a free uid"
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "b"))
        lock = take_uid_lock(uid)
        if lock is not None:
            os.close(lock)
        assert lock is None, "a judge with another TMPDIR claimed a uid another judge holds"
    finally:
        holder.kill()
        holder.wait()


def test_a_uid_lock_folder_another_user_could_control_is_refused(tmp_path):
    """The registry is never a folder that others can write to or that another user owns
    (e.g. planted in /tmp before the grader made it): its locks and links would be theirs."""
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    with pytest.raises(PermissionError, match="worker uids' locks"):
        uid_lock_folder((str(shared),))
    own = tmp_path / "own"
    assert uid_lock_folder((str(shared), str(own))) == str(own)
    assert own.stat().st_mode & 0o777 == 0o700


@pytest.mark.skipif(not ROOT, reason="another uid (or a PID namespace) needs root")
def test_the_worker_cannot_see_or_signal_other_processes():
    """Allow-list root: PID 1 of its own namespace with a /proc of its own — the judge, the
    fork server and other students' workers are invisible.  Fallback: it sees the host's
    processes but, as another uid, can neither signal nor read any of them."""
    peek = '''
import os, signal
def others():
    mine = os.getuid()
    pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
    touched = []
    for pid in pids:
        try:
            if os.stat(f'/proc/{pid}').st_uid == mine:
                continue
            os.kill(pid, signal.SIGCONT)
            touched.append(pid)
        except (PermissionError, FileNotFoundError, ProcessLookupError):
            pass
        for name in ('mem', 'environ'):
            try:
                open(f'/proc/{pid}/{name}', 'rb').read(1)
                touched.append(f'{pid}/{name}')
            except OSError:
                pass
    return {"pid": os.getpid(), "pids": pids[:5], "touched": touched}
'''
    seen = call_in_worker(peek, "others")
    assert seen["touched"] == []
    if NAMESPACES:
        assert seen["pid"] == 1 and seen["pids"] == [1]


def test_the_judges_environment_does_not_reach_the_worker(monkeypatch):
    """The instructor's tokens are not the student's to print into feedback, and what a
    library set in the judge (Dask's malloc trimming) does not slow the workers down."""
    from autograder.sandbox.client import ForkServer

    monkeypatch.setenv("LMS_API_TOKEN", "s3cret-of-the-instructor")
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    ForkServer.get().stop()  # the next worker comes from a server started with this environment
    try:
        seen = call_in_worker("import os\ndef environment(_):\n    return dict(os.environ)\n", "environment", 0)
    finally:
        ForkServer.get().stop()  # and the tests after this one get one started without it
    assert "LMS_API_TOKEN" not in seen and "MALLOC_TRIM_THRESHOLD_" not in seen
    assert "s3cret-of-the-instructor" not in repr(seen)
    assert seen["LC_ALL"] == "C.UTF-8" and seen["OMP_NUM_THREADS"] == "1"


@pytest.mark.skipif(not ROOT, reason="RLIMIT_NPROC only binds another uid than root")
def test_a_fork_bomb_is_bounded_and_cleaned_up():
    bomb = "import os, time\nfor _ in range(10000):\n    if os.fork() == 0:\n        time.sleep(1000)\n        os._exit(0)"
    err = failure_of(relu_of(bomb), CHILDREN)
    assert isinstance(err, StudentCodeError) and "BlockingIOError" in err.types
    assert worker_processes() == []


# -- resources -------------------------------------------------------------------------------

def test_allocating_far_too_much_memory_fails_inside_the_worker():
    err = failure_of(relu_of("hog = torch.ones(2**34, dtype=torch.uint8)"))
    assert "memory" in str(err).lower()


def test_many_threads_do_not_break_the_worker():
    assert torch.equal(call_relu(relu_of("torch.set_num_threads(64)")), torch.tensor([0.0, 2.0]))


def test_printing_megabytes_is_capped_not_shown():
    source = relu_of("import sys\nfor _ in range(200):\n    sys.stdout.write('x' * 1_000_000)")
    err = failure_of(source)
    assert "File too large" in str(err) and "print less" in str(err)


def test_filling_the_disk_is_capped_and_leaves_nothing():
    """Allow-list root: a private 256 MiB tmpfs fills up.  Fallback (no private tmpfs):
    each file is capped by RLIMIT_FSIZE, and what the uid leaves in /tmp is removed."""
    name = f"nnzoo-fill-{uuid.uuid4().hex}"
    if NAMESPACES:
        fill = f"for i in range(100):\n    open(f'/tmp/{name}{{i}}', 'wb').write(b'0' * 50_000_000)"
    else:
        fill = f"open('/tmp/{name}0', 'wb').write(b'0' * 100_000_000)"
    err = failure_of(relu_of(fill))
    assert "No space left" in str(err) or "File too large" in str(err)
    assert not Path(f"/tmp/{name}0").exists()


def test_network_is_unreachable():
    err = failure_of(relu_of("import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=1)"))
    assert isinstance(err, StudentCodeError) and ("PermissionError" in err.types or "OSError" in err.types)
    # a Unix socket could reach a daemon on the host: in the root, only its own network
    # namespace's; in the fallback none can be made
    if not NAMESPACES:
        err = failure_of(relu_of("import socket\nsocket.socket(socket.AF_UNIX).connect('/run/dbus/system_bus_socket')"))
        assert isinstance(err, StudentCodeError) and "PermissionError" in err.types


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="raw clone(2) below uses x86_64's number")
def test_seccomp_denies_namespaces_mounts_and_tracing_but_not_threads():
    probe = '''
import ctypes, errno, os, threading
libc = ctypes.CDLL(None, use_errno=True)
def calls():
    out = {}
    for name, call in (("unshare(NEWUSER)", lambda: libc.unshare(0x10000000)),
                       ("clone(NEWUSER)", lambda: libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0)),
                       ("mount", lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
                       ("ptrace(TRACEME)", lambda: libc.ptrace(0, 0, 0, 0))):
        out[name] = "allowed" if call() >= 0 else errno.errorcode[ctypes.get_errno()]
    t = threading.Thread(target=lambda: None); t.start(); t.join()
    out["thread"] = "ok"
    return out
'''
    seen = call_in_worker(probe, "calls")
    assert seen == {"unshare(NEWUSER)": "EPERM", "clone(NEWUSER)": "EPERM", "mount": "EPERM",
                    "ptrace(TRACEME)": "EPERM", "thread": "ok"}


PROCESSES = '''
import errno, os, sys, threading, torch

def calls(with_loader):
    out = {}
    def attempt(name, start):
        try:
            start()
            out[name] = "allowed"
        except OSError as exc:
            out[name] = errno.errorcode.get(exc.errno, str(exc))
    def fork():
        if (pid := os.fork()) == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    def loader():
        data = torch.utils.data.TensorDataset(torch.arange(8.0))
        return list(torch.utils.data.DataLoader(data, batch_size=4, num_workers=2))
    attempt("fork", fork)
    if with_loader:
        attempt("DataLoader workers", loader)
    attempt("posix_spawn", lambda: os.waitpid(os.posix_spawn(sys.executable, [sys.executable, "-c", "0"], {}), 0))
    attempt("execv", lambda: os.execv(sys.executable, [sys.executable, "-c", "0"]))
    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join()
    out["thread"] = "ok"
    return out
'''


def test_the_worker_is_one_process_and_runs_no_other_program():
    """A child would have an address-space limit of its own (five children of 3 GiB each
    under a 4 GiB limit), could leave the session to hog the CPU, and would compute where
    the watch on forbidden built-ins reports to no one; a fresh interpreter (`posix_spawn`
    of `python -c`) is outside that watch altogether.  Threads are the worker's own."""
    denied = {"fork": "EPERM", "DataLoader workers": "EPERM", "posix_spawn": "EPERM", "execv": "EPERM", "thread": "ok"}
    assert call_in_worker(PROCESSES, "calls", True) == denied
    # an instructor may let DataLoader workers fork (`--allow-child-processes`); no program starts either way.
    # (The fallback's filter denies the Unix sockets over which those workers hand tensors back.)
    seen = call_in_worker(PROCESSES, "calls", NAMESPACES, limits=CHILDREN)
    assert seen == {**denied, "fork": "allowed", "DataLoader workers": "allowed"} if NAMESPACES else \
        {key: value for key, value in denied.items() if key != "DataLoader workers"} | {"fork": "allowed"}
    err = failure_of(relu_of("import torch\ndata = torch.utils.data.TensorDataset(torch.arange(8.0))\n"
                             "list(torch.utils.data.DataLoader(data, num_workers=2))"))
    assert isinstance(err, StudentCodeError) and err.type_name == "PermissionError"
    assert "num_workers=0" in str(err) and "one process" in str(err)


AFFINITY = '''
import errno, os

def where():
    try:
        os.sched_setaffinity(0, range(os.cpu_count()))
        leaving = "allowed"
    except OSError as exc:
        leaving = errno.errorcode[exc.errno]
    return {"cpus": sorted(os.sched_getaffinity(0)), "leaving": leaving}
'''


@pytest.mark.skipif(not ROOT, reason="judges take CPUs in turn by the worker uids they claim, as root")
def test_a_worker_runs_on_its_judges_cpu_and_cannot_leave_it():
    """Forty busy threads then slow this student's grading only, not a classmate's graded
    beside it by another judge (which takes the next CPU)."""
    assert call_in_worker(AFFINITY, "where") == {"cpus": [worker_cpu(LIMITS.worker_uid)], "leaving": "EPERM"}


# -- reading what it must not ----------------------------------------------------------------

def test_solutions_are_unreadable_from_the_worker():
    solutions = project_root() / "solutions"
    assert hidden_or_refused([solutions / "mlp" / "mlp.py", solutions / "mlp" / "test_hidden.py", solutions],
                             "reference solutions and hidden tests")


def test_walking_up_from_file_and_cwd_finds_no_solutions():
    walk = (
        "import os\nfound = []\n"
        "for start in (os.path.dirname(__file__), os.getcwd()):\n"
        "    d = start\n"
        "    while d != '/':\n"
        "        p = os.path.join(d, 'solutions', 'mlp', 'mlp.py')\n"
        "        try:\n            found.append(open(p).read())\n        except OSError:\n            pass\n"
        "        d = os.path.dirname(d)\n"
        "if found:\n    raise RuntimeError('read the reference')"
    )
    assert torch.equal(call_relu(relu_of(walk)), torch.tensor([0.0, 2.0]))


def test_a_classmates_file_in_the_class_folder_is_out_of_reach(shared_folder):
    classmate = world_readable(shared_folder / "class" / "bob" / "mlp.py", CORRECT)
    assert hidden_or_refused([classmate, classmate.parent.parent], "the submissions")


def test_the_repository_history_is_out_of_reach():
    gits = [g for root in {project_root(), PROJECT_DIR} for g in git_dirs(root)]
    if not gits:
        pytest.skip("not a git checkout")
    heads = [g / "HEAD" for g in gits if (g / "HEAD").is_file()]
    assert hidden_or_refused([*gits, *heads], "the repository history")


def test_the_output_folder_is_out_of_reach(shared_folder):
    grades = world_readable(shared_folder / "grades" / "grades.json", '{"students": []}')
    assert hidden_or_refused([grades, grades.parent], "the output folder")


def test_an_nbgrader_course_folder_is_out_of_reach(shared_folder):
    notebook = world_readable(shared_folder / "course" / "source" / "mlp" / "mlp.ipynb", '{"cells": []}')
    assert hidden_or_refused([notebook, shared_folder / "course"], "the nbgrader course folder")


def test_home_folders_show_nothing_but_the_interpreter():
    """The allow-list root has no home folders, only the way to an interpreter installed
    in one (pyenv); the fallback sees what their permissions allow, and the preflight
    refuses when the grader's own home can be listed."""
    import sys

    walk = '''
import os
def homes():
    found = []
    for top in ('/home', '/root'):
        for parent, dirs, files in os.walk(top):
            found += [os.path.join(parent, f) for f in files]
            if len(found) > 50:
                break
    return found
'''
    if NAMESPACES:
        prefixes = tuple(str(Path(p).resolve()) for p in (sys.base_prefix, sys.prefix))
        assert [f for f in call_in_worker(walk, "homes") if not f.startswith(prefixes)] == []
    else:
        assert hidden_or_refused([Path.home()], "the grader's home folder")


def test_only_the_workers_half_of_nnzoo_is_importable():
    """Students import `autograder.data.transfer` (provided code); the checks, the judge
    and the data generators (which regenerate held-out labels) are not there."""
    probe = '''
import importlib
def imports():
    out = {}
    for name in ("autograder.checks", "autograder.data.spirals", "autograder.judge", "autograder.judge.run",
                 "autograder.course", "autograder.sandbox.preflight"):
        try:  # a folder it may not enter imports as an empty namespace package: no code
            out[name] = "imported" if getattr(importlib.import_module(name), "__file__", None) else "empty"
        except (ImportError, OSError) as exc:  # absent, or there but unreadable to the worker
            out[name] = type(exc).__name__
    from autograder.data.transfer import SmallNet, load_pretrained
    out["pretrained head"] = load_pretrained().head.out_features
    return out
'''
    seen = call_in_worker(probe, "imports")
    assert seen.pop("pretrained head") == 10
    imported = [name for name, what in seen.items() if what == "imported"]
    if NAMESPACES or SECRETS_CLOSED:
        assert imported == []
    else:  # the fallback with the grader's files left readable to other users
        package = Path(__file__).resolve().parents[1] / "autograder"
        files = [package / "checks" / "__init__.py", package / "data" / "spirals.py", package / "judge" / "run.py"]
        assert hidden_or_refused(files, "the grader's own code") == "refused"


def test_nothing_left_in_a_world_writable_folder_survives_the_worker():
    """/run/lock, /var/tmp, /dev/shm: absent or private in the allow-list root; in the
    fallback the judge removes what the worker's uid left there."""
    name = f"nnzoo-leftover-{uuid.uuid4().hex}"
    drop = f'''
import os
def drop():
    made = []
    for folder in ("/run/lock", "/var/tmp", "/dev/shm", "/tmp"):
        try:
            open(os.path.join(folder, "{name}"), "w").write("x")
            made.append(folder)
        except OSError:
            pass
    return made
'''
    made = call_in_worker(drop, "drop")
    if NAMESPACES:
        assert set(made) <= {"/dev/shm", "/tmp"}  # the worker's own tmpfs
    assert [f for f in ("/run/lock", "/var/tmp", "/dev/shm", "/tmp") if Path(f, name).exists()] == []


def test_sysv_shared_memory_dies_with_the_worker():
    key = 0x6E6E0000 + uuid.uuid4().int % 0xFFFF
    make = f'''
import ctypes
def segment():
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.shmget({key}, 4096, 0o1666)  # IPC_CREAT | rw for all
'''
    assert call_in_worker(make, "segment") >= 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _shm_keys() & {key}:  # a namespace is freed by a kernel worker
        time.sleep(0.05)
    assert key not in _shm_keys()
    if ROOT:
        assert all(ipc_objects(uid) == {} for uid in claim_worker_uids(LIMITS.worker_uid))


def _shm_keys() -> set[int]:
    rows = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    return {int(row.split()[0]) for row in rows}


def test_no_inherited_descriptor_or_dotdot_leads_out():
    probe = '''
import os
def escape():
    fds = sorted(int(fd) for fd in os.listdir('/proc/self/fd'))
    os.chdir('/')
    for _ in range(10):
        os.chdir('..')
    return {"fds": fds, "up": os.getcwd()}
'''
    seen = call_in_worker(probe, "escape")
    assert len(seen["fds"]) <= 5  # 0, 1, 2, the pipe, and the folder being listed
    assert seen["up"] == "/"


def test_nothing_the_worker_may_read_can_it_write():
    import sys

    targets = [sys.base_prefix, sys.prefix, str(PROJECT_DIR / "autograder" / "worker"), str(PROJECT_DIR)]
    probe = '''
import errno, os
def writes(folders):
    out = {}
    for folder in folders:
        try:
            open(os.path.join(folder, "nnzoo-write-probe"), "w").close()
            out[folder] = "WRITTEN"
        except OSError as exc:
            out[folder] = errno.errorcode.get(exc.errno, "OSError")
    return out
'''
    seen = call_in_worker(probe, "writes", targets)
    assert all(what in ("EROFS", "EACCES", "ENOENT") for what in seen.values()), seen


def test_memory_of_the_worker_holds_no_reference_or_expected_values():
    snoop = (
        "import gc, sys\n"
        "leaks = [m for m in sys.modules if 'nnzoo_reference' in m or 'test_hidden' in m]\n"
        "leaks += [o for o in gc.get_objects() if isinstance(o, dict) and 'test_linear_forward_matches_reference' in o]\n"
        "if leaks:\n    raise RuntimeError(f'found {leaks[:3]}')"
    )
    assert torch.equal(call_relu(relu_of(snoop)), torch.tensor([0.0, 2.0]))


# -- lying to the judge ----------------------------------------------------------------------

def test_a_tensor_subclass_that_lies_is_rejected():
    liar = (
        "class Liar(torch.Tensor):\n"
        "    def __eq__(self, other):\n        return True\n"
        "    @classmethod\n"
        "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n        return True\n"
        "def relu(x):\n    return torch.zeros(2).as_subclass(Liar)\n"
    )
    out = call_relu("import torch\n" + liar)
    assert isinstance(out, dict) and out.get("__nontensor__") == "Liar"


def test_a_crafted_pickle_sent_to_the_judge_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    forge = (
        "import os, pickle, struct\n"
        "class Evil:\n"
        f"    def __reduce__(self):\n        return (os.system, ('touch {marker}',))\n"
        "payload = pickle.dumps(Evil())\n"
        "for fd in range(3, 64):\n"
        "    try:\n        os.write(fd, struct.pack('!i', len(payload)) + payload)\n    except OSError:\n        pass\n"
        "os._exit(0)"
    )
    err = failure_of(relu_of(forge))
    assert isinstance(err, SubmissionFailure) and err.reason in ("crash", "exit")
    assert not marker.exists()


def test_monkeypatching_comparisons_in_the_worker_changes_nothing():
    cheat = CORRECT.replace("        return y if self.bias is None else y + self.bias", "        return y") + (
        "\nimport numpy\ntorch.allclose = lambda *a, **k: True\ntorch.testing.assert_close = lambda *a, **k: None\n"
        "torch.Tensor.__eq__ = lambda self, other: True\nnumpy.allclose = lambda *a, **k: True\n"
    )
    result = grade_source(cheat, "mlp", GRADING)
    failed = {t.name for t in result.tests if t.status != "passed"}
    assert failed == {"test_linear_forward_matches_reference", "test_linear_gradients_match_reference"}


def test_nan_outputs_fail_with_a_reason():
    result = grade_source(CORRECT.replace("    return torch.where(x > 0, x, torch.zeros_like(x))", "    return x * float('nan')"), "mlp", GRADING)
    relu = next(t for t in result.tests if t.name == "test_relu_matches_reference")
    assert relu.status == "failed" and "NaN" in relu.message


def test_fake_pytest_output_and_fake_result_files_change_nothing(tmp_path):
    """The allow-list root's /tmp is the worker's own; in the fallback the reap of the
    worker's uid removes the files (in the background: waited for here as the uid's next
    worker, and the judge's exit, would)."""
    fake = (
        "import os, sys\nprint('=== 15 passed in 0.1s ===')\n"
        "for d in (os.getcwd(), '/tmp', os.path.dirname(os.getcwd()), '/'):\n"
        "    try:\n        open(os.path.join(d, 'grades.json'), 'w').write('{}')\n    except OSError:\n        pass\n"
    )
    result = grade_source(fake + "\nraise RuntimeError('nothing else')\n", "mlp", GRADING)
    assert result.score == 0
    wait_reaped()
    assert not Path("/tmp/grades.json").exists() and not Path("/grades.json").exists()


def test_only_the_assignment_file_is_taken_from_a_submission(tmp_path):
    student = tmp_path / "subs" / "mallory"
    (student / "torch").mkdir(parents=True)
    (student / "torch" / "__init__.py").write_text("raise SystemExit")
    (student / "conftest.py").write_text("import os; os._exit(1)")
    (student / "sitecustomize.py").write_text("import os; os._exit(1)")
    (student / "evil.pth").write_text("import os; os._exit(1)")
    (student / "mlp.py").write_text(CORRECT)
    [sub] = load_class(tmp_path / "subs", ["mlp"])
    assert sub.sources == {"mlp": CORRECT}


def test_suspicious_calls_are_flagged_for_review():
    flagged = scan_source("import ctypes, gc, sys\nf = sys._getframe(1)\nexec('1')\n").suspicious()
    assert {"ctypes", "gc", "sys._getframe", "exec"} <= set(flagged)


def test_forbidden_builtin_through_an_alias_is_found():
    scan = scan_source("from torch.nn import functional as Fn\nfrom torch import nn as N\ny = Fn.linear(x, w)\nL = N.Linear\n")
    assert scan.forbidden(["torch.nn.Linear", "torch.nn.functional.linear"]) == ["torch.nn.Linear", "torch.nn.functional.linear"]


# -- what the report says ----------------------------------------------------------------------

def test_the_sandbox_level_in_force_is_reported():
    subject = SandboxSubject(CORRECT, "mlp", LIMITS)
    try:
        subject.run("run", call="relu", args=(torch.ones(1),), backward=False)
        levels = subject.worker.levels
    finally:
        subject.close()
    assert set(levels) >= {"file system", "network", "processes", "ipc", "scratch", "user", "limits", "seccomp"}
    if NAMESPACES:
        assert levels["file system"].startswith("allow-list root")
        assert levels["network"] == "no network (namespace)"
        assert levels["processes"] == "own PID namespace"
        assert levels["ipc"] == "own IPC namespace"
        assert levels["user"] == "own unprivileged uid"
    else:
        assert levels["file system"].startswith("FALLBACK")
        assert levels["user"] == ("own unprivileged uid" if ROOT else "same uid as the grader")
        assert levels["processes"].startswith("shared with the grader")


def test_a_sandbox_that_cannot_start_is_a_grader_error_not_a_zero(monkeypatch):
    from autograder.sandbox import client

    def broken(self):
        raise OSError("fork server unavailable")

    monkeypatch.setattr(client.ForkServer, "get", classmethod(lambda cls: broken(cls)))
    result = grade_source(CORRECT, "mlp", GRADING)
    assert {t.status for t in result.tests} == {"error"}
    assert all(t.message.startswith("grader error — rerun") for t in result.tests)


def test_a_worker_killed_with_its_fork_server_is_a_grader_error_not_the_students_exit():
    from autograder.errors import GraderError
    from autograder.sandbox.client import ForkServer

    subject = SandboxSubject(relu_of("import time\ntime.sleep(3600)"), "mlp", LIMITS)
    try:
        answer = subject.submit("run", call="relu", args=(torch.tensor([1.0]),), backward=False)
        ForkServer.get().process.kill()  # the next `ForkServer.get()` starts a new one
        with pytest.raises(GraderError, match="fork server ended"):
            answer()
    finally:
        subject.close()
        wait_reaped()


def memory_holds(pid: int, marker: bytes) -> bool:
    """Whether any writable private memory of process `pid` (its heap, the interpreter's
    arenas: where a received message lives on, even freed) holds `marker`."""
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for line in maps:
            fields = line.split()
            span, mode = fields[0], fields[1]
            if mode != "rw-p" or (len(fields) > 5 and fields[5].startswith("/")):
                continue  # read-only, shared, or a mapped file (libraries, the interpreter)
            start, end = (int(x, 16) for x in span.split("-"))
            try:
                mem.seek(start)
                if marker in mem.read(end - start):
                    return True
            except (OSError, ValueError, OverflowError):  # [vvar] and the like
                continue
    return False


@pytest.mark.skipif(not ROOT, reason="reading the fork server's memory needs root (it runs as the judge)")
def test_a_students_source_never_reaches_the_fork_servers_memory():
    """Every worker is forked from the same server, so what the server holds, every later
    worker inherits: a classmate's code must never be in it, not even freed."""
    from autograder.sandbox.client import ForkServer

    marker = "nnzoo-marker-" + os.urandom(8).hex()
    assert torch.equal(call_relu(relu_of(f"_secret = {marker!r}")), torch.tensor([0.0, 2.0]))
    assert not memory_holds(ForkServer.get().process.pid, marker.encode())
