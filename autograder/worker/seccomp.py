"""The worker's system-call filter: compiled once in the fork server, loaded in each worker.

Compiling with libseccomp (pyseccomp) costs milliseconds; loading the exported BPF program
in a child costs microseconds and needs no library, so the fork server compiles and the
worker only loads.
"""

from __future__ import annotations

import ctypes
import errno
import os
from dataclasses import dataclass, field

from autograder.worker.rootfs import NAMESPACE_FLAGS, check

PR_SET_PDEATHSIG = 1
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2
AF_UNIX = 1
CLONE_THREAD = 0x00010000

#: Calls a worker never needs: tracing other processes, namespaces and mounts (the new
#: mount API too), kernel keyrings, BPF, perf, userfaultfd, io_uring (a large attack
#: surface), administration, and leaving its CPU.  EPERM.
DENIED_CALLS: tuple[str, ...] = (
    "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root", "chroot",
    "unshare", "setns", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick",
    "mount_setattr", "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "acct", "quotactl", "swapon", "swapoff",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "name_to_handle_at", "open_by_handle_at", "lookup_dcookie", "syslog", "vhangup",
    "sched_setaffinity",  # the worker stays on the CPU its judge gave it (`isolation.pin_to_cpu`)
)

#: Starting another program: there is none in the allow-list root, and a fresh interpreter
#: would run code the forbidden-built-in watch never sees (a cell computed by `nn.RNN` in
#: a `python -c` the student's code started).  EPERM, always.
EXEC_CALLS: tuple[str, ...] = ("execve", "execveat")

#: Making a process: `fork`, `vfork`, and `clone` without CLONE_THREAD (glibc's `fork` and
#: `posix_spawn`; a thread is a clone with it).  EPERM unless the limits allow children: a
#: child would escape the address-space limit (one RLIMIT_AS each), could leave its
#: session, and computes where the watch's verdicts never reach the judge.
FORK_CALLS: tuple[str, ...] = ("fork", "vfork")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)


@dataclass(frozen=True)
class SeccompProgram:
    """A classic BPF program (libseccomp's export), ready for prctl(PR_SET_SECCOMP).

    The ctypes buffer is made here, in the fork server, so that the worker allocates
    nothing before loading it.
    """

    bpf: bytes
    description: str
    _buffer: ctypes.Array = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.bpf) % 8:
            raise ValueError("a BPF program is a whole number of 8-byte instructions")
        object.__setattr__(self, "_buffer", ctypes.create_string_buffer(self.bpf, len(self.bpf)))

    def load(self) -> None:
        """Set no_new_privs and install the filter on this (single-threaded) process."""
        prog = _SockFprog(len(self.bpf) // 8, ctypes.addressof(self._buffer))
        check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
        check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0), "prctl(SECCOMP)")


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def compile_seccomp(*, unix_sockets: bool, child_processes: bool = False) -> SeccompProgram | None:
    """The worker's filter, or None when pyseccomp (libseccomp) is not available.

    Default allow; EPERM for `socket`/`socketpair` of any family but AF_UNIX (an
    allow-list: no AF_INET/6, NETLINK, PACKET, VSOCK ...), `clone` with any CLONE_NEW*
    flag (else clone(CLONE_NEWUSER) would sidestep the `unshare` ban), every call of
    `DENIED_CALLS` and `EXEC_CALLS`, and `prctl(PR_SET_PDEATHSIG)`; ENOSYS for `clone3`,
    whose flags live in memory a filter cannot read (glibc then falls back to `clone`, as
    under Docker's default profile).  Without `child_processes`, EPERM for `FORK_CALLS` and
    `clone` without CLONE_THREAD too: the worker is one process, threads allowed.

    `unix_sockets=False` denies socket(AF_UNIX) too (socketpair stays): for a worker that
    shares the host's file system and abstract socket namespace (the fallback), where a
    Unix socket could reach a daemon.  It costs torch DataLoader workers' tensor sharing.
    """
    try:
        import pyseccomp as sc
    except (ImportError, OSError):
        return None
    rules = sc.SyscallFilter(sc.ALLOW)
    eperm = sc.ERRNO(errno.EPERM)
    if unix_sockets:
        rules.add_rule(eperm, "socket", sc.Arg(0, sc.NE, AF_UNIX))
    else:
        rules.add_rule(eperm, "socket")
    rules.add_rule(eperm, "socketpair", sc.Arg(0, sc.NE, AF_UNIX))
    for flag in NAMESPACE_FLAGS:
        rules.add_rule(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    rules.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    # the worker dies with its fork server (`isolation.die_with_the_server`): for good
    rules.add_rule(eperm, "prctl", sc.Arg(0, sc.EQ, PR_SET_PDEATHSIG))
    if not child_processes:
        rules.add_rule(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
    unknown = []
    for call in DENIED_CALLS + EXEC_CALLS + (() if child_processes else FORK_CALLS):
        try:
            rules.add_rule(eperm, call)
        except (OSError, ValueError, RuntimeError):  # unknown to this libseccomp or architecture
            unknown.append(call)
    fd = os.memfd_create("nnzoo-seccomp", os.MFD_CLOEXEC)
    with os.fdopen(fd, "w+b") as buffer:
        rules.export_bpf(buffer)
        buffer.seek(0)
        bpf = buffer.read()
    sockets = "sockets other than Unix" if unix_sockets else "all sockets (socketpair allowed)"
    processes = "starting programs" if child_processes else "new processes, starting programs"
    what = (f"{sockets}, {processes}, tracing, namespaces, mounts, keyrings, bpf, io_uring, leaving its CPU, "
            "unsetting the parent-death signal denied")
    if unknown:
        what += f" (unknown here: {', '.join(unknown)})"
    return SeccompProgram(bpf, what)
