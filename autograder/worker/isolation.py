"""Isolating a freshly forked worker before any student code runs.

Each layer is tried and the level actually reached is returned, so the grading report
can state it: its own session, namespaces (network, mount, PID), `solutions/` hidden behind
an empty tmpfs, another uid when running as root, rlimits, one torch thread.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
from pathlib import Path

from autograder.worker.limits import SandboxLimits

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18

_libc = ctypes.CDLL(None, use_errno=True)


def _unshare(flags: int) -> bool:
    return _libc.unshare(flags) == 0


def _mount_empty(path: str) -> bool:
    return _libc.mount(b"none", path.encode(), b"tmpfs", 0, b"size=4k,mode=000") == 0


MS_BIND = 4096


def _closed_ancestor(path: Path, uid: int) -> Path | None:
    """The highest folder above `path` that `uid` (not its owner) cannot traverse."""
    for parent in reversed(path.parents):
        st = parent.stat()
        if st.st_uid != uid and not st.st_mode & 0o001:
            return parent
    return None


def _expose_interpreter(uid: int) -> bool:
    """Make the Python installation reachable for `uid` (e.g. pyenv under a 0700 /root).

    In our private mount namespace: an empty tmpfs over the closed folder, the path down
    to the installation recreated in it, and the installation bind-mounted back.  The
    rest of the closed folder stays invisible.
    """
    base = Path(sys.base_prefix).resolve()
    closed = _closed_ancestor(base, uid)
    if closed is None:
        return True
    fd = os.open(base, os.O_PATH)
    try:
        if _libc.mount(b"none", str(closed).encode(), b"tmpfs", 0, b"size=64k,mode=755") != 0:
            return False
        base.mkdir(parents=True, exist_ok=True)
        return _libc.mount(f"/proc/self/fd/{fd}".encode(), str(base).encode(), None, MS_BIND | MS_REC, None) == 0
    finally:
        os.close(fd)


def _enter_namespaces() -> tuple[bool, bool]:
    """New network and mount namespaces; as a non-root user via a user namespace."""
    uid, gid = os.getuid(), os.getgid()
    if uid == 0:
        entered = _unshare(CLONE_NEWNS | CLONE_NEWNET)
    else:
        entered = _unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET)
        if entered:
            Path("/proc/self/setgroups").write_text("deny")
            Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
            Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    if not entered:
        return False, False
    private = _libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) == 0
    return True, private


def _own_pid_namespace() -> str:
    """Go on as PID 1 of a new PID namespace: this process forks and stays outside as a
    keeper that waits for the child and exits with its status (the judge knows the
    keeper's pid; the child shares its process group and uid, so the judge's kills reach
    both).  When the child — the worker from here on — ends or is killed, the kernel
    kills every process left in its namespace: no daemon or fork survives it.  A fresh
    /proc shows the worker only its own processes."""
    if not _unshare(CLONE_NEWPID):
        return "shared with the grader"
    child = os.fork()
    if child:
        _, status = os.waitpid(child, 0)
        os._exit(os.waitstatus_to_exitcode(status) % 256)
    proc = _libc.mount(b"proc", b"/proc", b"proc", 0, None) == 0
    return "own PID namespace" + ("" if proc else " (the grader's /proc still visible)")


def _set_rlimits(limits: SandboxLimits) -> None:
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


SHARED_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm")


def _needed_paths() -> list[Path]:
    """Folders the worker must keep seeing: the interpreter, the venv, sys.path entries."""
    shared = {Path(f) for f in SHARED_WRITABLE}
    package = Path(__file__).resolve().parent.parent  # autograder/, for lazy imports (not solutions/)
    roots = (sys.prefix, sys.base_prefix, package, *sys.path)
    candidates = {Path(p).resolve() for p in roots if p and os.path.isdir(p)} - shared
    # keep the outermost ones only
    return sorted(p for p in candidates if not any(q != p and q in p.parents for q in candidates))


def _private_tmp(size_bytes: int) -> bool:
    """Fresh, size-capped tmpfs over every world-writable folder: no disk filling, no fake
    files left where the grader or another worker could see them.  Folders the worker
    needs that live there (a venv or a checkout under /tmp) are bind-mounted back."""
    keep = [p for p in _needed_paths() if any(p.is_relative_to(f) and p != Path(f) for f in SHARED_WRITABLE)]
    fds = {p: os.open(p, os.O_PATH) for p in keep}
    try:
        ok = True
        for folder in SHARED_WRITABLE:
            if os.path.isdir(folder):
                ok &= _libc.mount(b"none", folder.encode(), b"tmpfs", 0, f"size={size_bytes},mode=1777".encode()) == 0
        for path, fd in fds.items():
            path.mkdir(parents=True, exist_ok=True)
            ok &= _libc.mount(f"/proc/self/fd/{fd}".encode(), str(path).encode(), None, MS_BIND | MS_REC, None) == 0
        return ok
    finally:
        for fd in fds.values():
            os.close(fd)


def _seccomp() -> bool:
    """Deny network sockets, tracing and namespace or mount changes (EPERM), if available."""
    try:
        import pyseccomp as seccomp
    except (ImportError, OSError):
        return False
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    deny = seccomp.ERRNO(1)
    for family in (2, 10, 16, 17):  # AF_INET, AF_INET6, AF_NETLINK, AF_PACKET
        rules.add_rule(deny, "socket", seccomp.Arg(0, seccomp.EQ, family))
    for call in ("ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "unshare", "setns",
                 "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd"):
        rules.add_rule(deny, call)
    rules.load()
    return True


def isolate(scratch: Path, filename: str, source: str, hidden: list[str], limits: SandboxLimits) -> dict[str, str]:
    """Apply every available layer to this (worker) process, put the student's file in
    `scratch`, and return the level reached by each layer, for the grading report."""
    level: dict[str, str] = {}
    os.setsid()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails instead
    namespaces, private = _enter_namespaces()
    level["network"] = "no network (namespace)" if namespaces else "network reachable"
    level["processes"] = _own_pid_namespace() if private else "shared with the grader"
    tmp_ok = private and _private_tmp(limits.scratch_bytes)
    level["scratch"] = f"private {limits.scratch_bytes // 2**20} MiB tmpfs" if tmp_ok else "shared /tmp"
    hidden_ok = private and all(_mount_empty(p) for p in hidden if os.path.isdir(p))
    level["hidden files"] = "solutions hidden (mount namespace)" if hidden_ok else "solutions readable"
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / filename).write_text(source)
    if os.getuid() == 0 and private and _expose_interpreter(limits.worker_uid):
        for path in (scratch, scratch / filename):
            os.chown(path, limits.worker_uid, limits.worker_uid)
        os.setgroups([])
        os.setgid(limits.worker_uid)
        os.setuid(limits.worker_uid)
        level["user"] = "own unprivileged uid"
    else:
        level["user"] = "same uid as the grader"
    _set_rlimits(limits)
    level["limits"] = (
        f"{limits.memory_bytes // 2**20} MiB memory, {limits.cpu_seconds} s CPU, "
        f"{limits.file_bytes // 2**20} MiB files, {limits.processes} processes"
    )
    level["seccomp"] = "sockets, tracing, mounts denied" if _seccomp() else "not available"
    os.chdir(scratch)
    os.environ.update(HOME=str(scratch), TMPDIR=str(scratch), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return level
