"""Isolating a freshly forked worker before any student code runs.

Two modes, chosen once per fork server by what the kernel allows:

* **allow-list root** (root with CAP_SYS_ADMIN): the fork server forks the worker
  straight into a new PID namespace; the worker enters new mount, network and IPC
  namespaces, pivots into a fresh read-only root that holds only the interpreter, its
  libraries and `WORKER_FILES` (`autograder.worker.rootfs`), with a private size-capped
  tmpfs as /tmp and /dev/shm, closes every inherited descriptor but its pipe, drops to
  its own unprivileged uid, sets rlimits and loads the seccomp filter.
* **fallback** (no CAP_SYS_ADMIN, e.g. Docker's defaults, or not root): the worker
  drops to its own uid (when root), sets rlimits and loads a stricter filter (no socket
  at all); it sees the host's files with the rights of any other user, so the judge runs
  a preflight worker and refuses to grade when it can read a secret
  (`autograder.sandbox.preflight`), and removes what the uid leaves behind
  (`autograder.sandbox.reap`).

Each mode returns the level reached by every layer, under the same keys, for the report.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import resource
import signal
from pathlib import Path
from typing import Iterable

from autograder.worker import rootfs
from autograder.worker.limits import SandboxLimits
from autograder.worker.seccomp import PR_SET_PDEATHSIG, SeccompProgram, compile_seccomp

#: The package folder (`autograder/`) and the folder above it (the project, in a checkout).
PACKAGE_DIR = Path(__file__).resolve().parents[1]
PROJECT_DIR = PACKAGE_DIR.parent

#: The only files of nnzoo a worker can see, relative to the project folder: the package's
#: `__init__.py`, the worker's half (fork server, isolation, serve loop, wire format,
#: probes), and the provided code students import (`from autograder.data.transfer import
#: SmallNet, load_pretrained`) with its weights.  Nothing else: no checks, no judge, no
#: data generators, no solutions.  The weights are also looked up under `NNZOO_ROOT`.
WORKER_FILES: tuple[str, ...] = (
    "autograder/__init__.py",
    "autograder/worker",
    "autograder/data/__init__.py",
    "autograder/data/transfer.py",
    "datasets/transfer_pretrained.pt",
)

PR_SET_DUMPABLE = 4
MiB = 1 << 20
_libc = ctypes.CDLL(None, use_errno=True)
_libc.prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)


#: Data folders of installed packages that the judge evaluates on (the transfer task's
#: held-out digits come from scikit-learn's `datasets/data/digits.csv.gz`), as (package,
#: folder inside it): hidden in the worker's root — a worker could otherwise rebuild
#: held-out images and labels.  Only the data: the package itself stays importable
#: (`sklearn.metrics` is a student's right; `load_digits()` finds no file).
DATA_FOLDERS: tuple[tuple[str, str], ...] = (("sklearn", "datasets/data"),)


def data_folders() -> list[str]:
    """The host paths of `DATA_FOLDERS` that exist (the packages found without importing them)."""
    found = []
    for package, folder in DATA_FOLDERS:
        spec = importlib.util.find_spec(package)
        for location in (spec.submodule_search_locations or []) if spec is not None else []:
            path = os.path.join(location, folder)
            if os.path.isdir(path):
                found.append(path)
    return found


def worker_paths() -> list[Path]:
    """The host paths of `WORKER_FILES` that exist: under the installed package's project
    folder and, for a course whose data lives elsewhere, under `NNZOO_ROOT`."""
    roots = [PROJECT_DIR]
    if os.environ.get("NNZOO_ROOT"):
        roots.append(Path(os.environ["NNZOO_ROOT"]).resolve())
    paths = [root / name for root in roots for name in WORKER_FILES]
    return list(dict.fromkeys(p for p in paths if p.exists()))


class Sandbox:
    """What every worker's isolation needs, prepared once in the fork server.

    Attributes:
        plan: the allow-list root (None when the server is not root: no mounts).
        filters: the seccomp filters, keyed by (mode, whether the worker may make child
            processes), the mode being "root" or "fallback"; empty where pyseccomp is missing.
        namespaces: whether workers get the allow-list root; set to False for good the
            first time the kernel refuses a new PID namespace.
    """

    def __init__(self, plan: rootfs.RootPlan | None, filters: dict[tuple[str, bool], SeccompProgram]) -> None:
        self.plan = plan
        self.filters = filters
        self.namespaces = plan is not None

    @classmethod
    def prepare(cls) -> "Sandbox":
        """Plan the root and compile the filters; call after the server's imports (the
        plan binds the folders of the libraries loaded so far)."""
        plan = None
        if os.geteuid() == 0:
            plan = rootfs.plan_root([str(p) for p in worker_paths()], mask=[str(PACKAGE_DIR), *data_folders()])
        filters = {}
        for mode in ("root", "fallback"):
            for children in (False, True):
                program = compile_seccomp(unix_sockets=mode == "root", child_processes=children)
                if program is not None:
                    filters[mode, children] = program
        return cls(plan, filters)

    def fork(self) -> int:
        """Fork a worker (like `os.fork()`): into a new PID namespace where allowed."""
        if self.namespaces:
            try:
                return rootfs.fork_in_new_pid_namespace()
            except rootfs.IsolationUnavailable:
                self.namespaces = False
        return os.fork()

    def isolate(self, limits: SandboxLimits, fallback_scratch: str, keep_fds: Iterable[int],
                cpu: int | None = None) -> dict[str, str]:
        """Isolate this freshly forked, single-threaded worker (see the module docstring)
        and return the level of each layer.  Its current folder is then its scratch,
        owned by it.  A failure once the namespaces exist raises: no student code may
        run in a half-isolated worker.  `cpu`: the one CPU it may run on (seccomp then
        keeps it there)."""
        os.setsid()
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails instead
        pinned = pin_to_cpu(cpu)
        if self.namespaces:
            levels = self._allow_list_root(limits, keep_fds)
        else:
            levels = self._fallback(limits, fallback_scratch, keep_fds)
        return {**levels, "cpu": pinned}

    def _allow_list_root(self, limits: SandboxLimits, keep_fds: Iterable[int]) -> dict[str, str]:
        assert self.plan is not None
        rootfs.enter_namespaces()
        rootfs.build_root(self.plan, limits.worker_uid, limits.scratch_bytes)
        close_fds(keep_fds)
        drop_privileges(limits.worker_uid)
        die_with_the_server()
        set_rlimits(limits)
        seccomp = self.filters.get(("root", limits.child_processes))
        if seccomp:
            seccomp.load()
        _worker_environment(rootfs.SCRATCH)
        return {
            "file system": "allow-list root: only the interpreter, its libraries and nnzoo's worker files, read-only",
            "network": "no network (namespace)",
            "processes": "own PID namespace",
            "ipc": "own IPC namespace",
            "scratch": f"private {limits.scratch_bytes // MiB} MiB tmpfs (/tmp, /dev/shm)",
            "user": "own unprivileged uid",
            "limits": describe_limits(limits),
            "seccomp": seccomp.description if seccomp else "not available",
        }

    def _fallback(self, limits: SandboxLimits, scratch: str, keep_fds: Iterable[int]) -> dict[str, str]:
        close_fds(keep_fds)
        root = os.geteuid() == 0
        os.makedirs(scratch, mode=0o700, exist_ok=True)
        if root:
            os.chown(scratch, limits.worker_uid, limits.worker_uid)
            drop_privileges(limits.worker_uid)
        die_with_the_server()
        os.chdir(scratch)
        set_rlimits(limits)
        seccomp = self.filters.get(("fallback", limits.child_processes))
        if seccomp:
            seccomp.load()
        _worker_environment(scratch)
        return {
            "file system": "FALLBACK (no mount namespace): the host's files, with the rights of "
                           + ("another user" if root else "the grader"),
            "network": "no sockets (seccomp)" if seccomp else "network reachable",
            "processes": "shared with the grader" + (" (another uid: cannot signal it; killed by uid)" if root else ""),
            "ipc": "shared with the grader" + (" (its objects removed after the worker)" if root else ""),
            "scratch": "a folder on the shared disk (not size-capped)",
            "user": "own unprivileged uid" if root else "same uid as the grader",
            "limits": describe_limits(limits),
            "seccomp": seccomp.description if seccomp else "not available",
        }


def pin_to_cpu(cpu: int | None) -> str:
    """Run on CPU `cpu` only, and say where the worker runs.  However many threads the
    student's code starts, they then compete with its own judge's work only, never with
    another student's worker in the same batch (which has a CPU of its own while the batch
    runs no more jobs than there are CPUs).  The level it returns is the same whichever
    CPU it is: grades, which record it, are identical for any `-j`."""
    if cpu is None:
        return "any CPU"
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError as exc:  # a CPU the judge saw but this process may not use (a cpuset)
        return f"any CPU (its judge's: {exc.strerror})"
    return "one CPU, its judge's"  # which one varies with the batch's jobs: not in the record


def describe_limits(limits: SandboxLimits) -> str:
    return (f"{limits.memory_bytes // MiB} MiB memory, {limits.cpu_seconds} s CPU, "
            f"{limits.file_bytes // MiB} MiB files, {limits.processes} processes")


def close_fds(keep: Iterable[int]) -> None:
    """Close every descriptor above 2 but `keep`: an inherited descriptor of a host folder
    would let the worker walk out of its root (openat(fd, "..")), whatever the mounts."""
    last = 2
    for fd in sorted({k for k in keep if k > 2}):
        os.closerange(last + 1, fd)
        last = fd
    os.closerange(last + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def drop_privileges(uid: int) -> None:
    """No supplementary groups, then gid, then uid (real, effective and saved: for good).

    A uid change from root clears the dumpable flag, which makes the worker's own
    /proc/self files root-owned and unreadable to it (psutil, some CPU-feature probes);
    it is set back: the uid's other processes are the worker's own, and ptrace is denied.
    """
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)


def die_with_the_server() -> None:
    """Be killed when the fork server ends, which it does when its judge ends, however the
    judge ends: a worker stuck in a student's endless `sleep` when its judge was killed
    with `kill -9` would otherwise run on, an orphan, until a later batch swept its uid.

    Set after the uid change, which clears it.  A judge that ended before this line was
    reached never sees the worker's first message: the worker's write of it fails on the
    closed pipe and it exits before any student code runs.
    """
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def set_rlimits(limits: SandboxLimits) -> None:
    pairs = {
        resource.RLIMIT_AS: limits.memory_bytes,
        resource.RLIMIT_CPU: limits.cpu_seconds,
        resource.RLIMIT_FSIZE: limits.file_bytes,
        resource.RLIMIT_NOFILE: limits.open_files,
        resource.RLIMIT_NPROC: limits.processes,
        resource.RLIMIT_CORE: 0,
    }
    for which, value in pairs.items():
        resource.setrlimit(which, (value, value))


def _worker_environment(home: str) -> None:
    os.environ.update(HOME=home, TMPDIR=home, USER="nnzoo", LOGNAME="nnzoo", OMP_NUM_THREADS="1",
                      MKL_NUM_THREADS="1")
