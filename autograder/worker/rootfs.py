"""The allow-list root: a new, nearly empty file system for a freshly forked worker.

Instead of hiding what a worker must not see (a deny-list), the worker is moved into a
fresh tmpfs root that holds only what it needs, each piece bind-mounted read-only at its
own absolute path, so every path the student's code knows keeps working:

* the Python installation and the venv (lazy imports of the stdlib, torch, numpy ...);
* the folders of the system libraries the fork server has loaded (extension modules
  `dlopen` their neighbours lazily), the symbolic links that lead to them (`/lib ->
  usr/lib`) and the program interpreter (`/lib64/ld-linux-x86-64.so.2`);
* the listed extra paths: nnzoo's worker files (`autograder.worker.isolation.WORKER_FILES`);
* a size-capped writable tmpfs, the worker's only writable place, as `/tmp` (its HOME,
  TMPDIR and current folder) and `/dev/shm`;
* `/dev/null`, `/dev/zero`, `/dev/random`, `/dev/urandom`, and a fresh `/proc` of the
  worker's own PID namespace.

Nothing else of the host is reachable after `pivot_root(2)`: no `/etc`, no `/home`, no
other file of the project, no shared world-writable folder.

`plan_root` resolves everything on the host once, in the fork server (pure data);
`build_root` runs in each forked child, as root, inside the private mount namespace that
`enter_namespaces` made.  Standard library and ctypes only.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal, Sequence

# -- kernel constants (x86_64 and aarch64 share them) ------------------------------------------
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACE_FLAGS = (CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
                   CLONE_NEWNET)
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
_SYS_SETNS = {"x86_64": 308, "aarch64": 268, "riscv64": 268, "ppc64le": 350, "s390x": 339}
# statvfs flag -> mount flag: a read-only remount of a bind must keep the flags its source
# mount already has (the kernel refuses to clear "locked" ones)
_ST_TO_MS = {
    os.ST_NOSUID: MS_NOSUID,
    os.ST_NODEV: MS_NODEV,
    os.ST_NOEXEC: MS_NOEXEC,
    os.ST_NOATIME: MS_NOATIME,
    os.ST_NODIRATIME: MS_NODIRATIME,
    os.ST_RELATIME: MS_RELATIME,
}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
_libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)
_libc.unshare.argtypes = (ctypes.c_int,)
_libc.syscall.restype = ctypes.c_long

DEVICES: tuple[str, ...] = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom")
MOUNTPOINT = "/run/nnzoo-root"
SCRATCH = "/tmp"


class IsolationUnavailable(OSError):
    """A namespace or mount operation was refused (typically: no CAP_SYS_ADMIN)."""


def check(result: int, what: str) -> None:
    """Raise `IsolationUnavailable` naming `what` when a libc call returned non-zero."""
    if result != 0:
        err = ctypes.get_errno()
        raise IsolationUnavailable(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    check(_libc.mount(source.encode() if source else None, target.encode(), fstype.encode() if fstype else None,
                      flags, data.encode() if data else None), f"mount {source or fstype} on {target}")


# -- the plan: computed once in the fork server, pure data ----------------------------------------
@dataclass(frozen=True)
class MountSpec:
    """One read-only bind mount: host `path` (symlink-free) at the same path in the new root.

    Attributes:
        path: absolute, symlink-free host path of a folder, a regular file or a device.
        kind: "dir", "file" or "device".
        keep_flags: MS_* flags of the source mount that the read-only remount keeps.
    """

    path: str
    kind: Literal["dir", "file", "device"]
    keep_flags: int = 0


@dataclass(frozen=True)
class RootPlan:
    """Everything a child needs to build its root, resolved on the host.

    Attributes:
        mountpoint: an empty, root-owned host folder the new root's tmpfs is mounted on
            (only inside the child's private mount namespace; the host never sees it).
        binds: read-only bind mounts, parents before children.
        masks: folders inside a bound folder that are covered by an empty tmpfs before the
            binds inside them are made (e.g. an installed `autograder/` inside the venv's
            site-packages, of which only the worker's files may show).
        symlinks: (path, target) pairs recreated in the new root (e.g. `/lib -> usr/lib`).
    """

    mountpoint: str
    binds: tuple[MountSpec, ...]
    masks: tuple[str, ...] = ()
    symlinks: tuple[tuple[str, str], ...] = ()

    def visible_paths(self) -> list[str]:
        """Every host path the worker can reach besides /proc, /dev/shm and its scratch."""
        return [b.path for b in self.binds] + [s for s, _ in self.symlinks]


def under(path: str, folder: str) -> bool:
    """Whether `path` is `folder` or inside it (both absolute, normalised)."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _mapped_library_dirs() -> set[str]:
    """Folders of the shared objects this process has mapped (libc, libm, libstdc++ ...)."""
    dirs: set[str] = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and parts[5].startswith("/") and ".so" in parts[5]:
                dirs.add(os.path.dirname(parts[5].rstrip("\n").removesuffix(" (deleted)")))
    return {d for d in dirs if os.path.isdir(d)}


def _program_interpreter(executable: str) -> str | None:
    """PT_INTERP of a 64-bit ELF executable: the dynamic loader (to exec Python again)."""
    try:
        with open(os.path.realpath(executable), "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2:
                return None
            order = "little" if head[5] == 1 else "big"
            phoff = int.from_bytes(head[0x20:0x28], order)
            phentsize = int.from_bytes(head[0x36:0x38], order)
            phnum = int.from_bytes(head[0x38:0x3A], order)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
            for i in range(phnum):
                entry = table[i * phentsize:(i + 1) * phentsize]
                if int.from_bytes(entry[0:4], order) == 3:  # PT_INTERP
                    f.seek(int.from_bytes(entry[8:16], order))
                    return f.read(int.from_bytes(entry[32:40], order)).rstrip(b"\0").decode()
    except OSError:
        return None
    return None


def interpreter_paths() -> list[str]:
    """What a Python worker needs to import lazily after the fork: the installation and
    venv prefixes, the folders of the system libraries this process has loaded, the
    merged-/usr links that lead to them, and the program interpreter.

    Call it after the imports (it reads /proc/self/maps).  The rest of `sys.path` (a
    script's folder, an old-style editable checkout) is deliberately not included.
    """
    prefixes = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, sys.base_exec_prefix, sys.exec_prefix)}
    libs = {d for d in _mapped_library_dirs() if not any(under(os.path.realpath(d), p) for p in prefixes)}
    paths = sorted(prefixes) + sorted(libs)
    for alias in ("/lib", "/lib64", "/usr/lib64", "/lib32", "/libx32"):
        # the loader's cache names `/lib/x86_64-linux-gnu/...`: listing the folder through
        # the alias makes `plan_root` recreate the symlink and bind only the folder
        real = os.path.realpath(alias)
        if os.path.islink(alias):
            paths += [alias + d[len(real):] for d in sorted(libs) if under(d, real)]
    loader = _program_interpreter(sys.executable)
    if loader:
        paths.append(loader)
    return paths


def _mirror(path: str) -> tuple[list[tuple[str, str]], str]:
    """Resolve `path` component by component: the symlinks met on the way (each at its own
    symlink-free location, to recreate them) and the final real path."""
    links: list[tuple[str, str]] = []
    pending = list(PurePosixPath(os.path.abspath(path)).parts[1:])
    current = "/"
    hops = 0
    while pending:
        name = pending.pop(0)
        if name == "..":
            current = os.path.dirname(current)
            continue
        candidate = os.path.join(current, name)
        if os.path.islink(candidate):
            hops += 1
            if hops > 40:
                raise OSError(errno.ELOOP, "too many symbolic links", path)
            target = os.readlink(candidate)
            links.append((candidate, target))
            pending = list(PurePosixPath(target).parts) + pending
            if target.startswith("/"):
                current = "/"
                pending = pending[1:]
        else:
            current = candidate
    return links, current


def _kind(path: str) -> Literal["dir", "file", "device"]:
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISCHR(mode):
        return "device"
    if stat.S_ISREG(mode):
        return "file"
    raise ValueError(f"cannot bind {path}: neither a folder, a regular file nor a character device")


def _keep_flags(path: str) -> int:
    flags = os.statvfs(path).f_flag
    return sum(ms for st, ms in _ST_TO_MS.items() if flags & st)


def _mountpoint() -> str:
    """A root-owned folder not writable by others, for the new root's tmpfs."""
    try:
        os.makedirs(MOUNTPOINT, mode=0o700, exist_ok=True)
        folder = MOUNTPOINT
    except OSError:  # no writable /run: a private folder elsewhere does as well
        folder = tempfile.mkdtemp(prefix="nnzoo-root-")
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise ValueError(f"{folder} must be a folder of the grader's own, not writable by others")
    return os.path.realpath(folder)


def plan_root(extra: Sequence[str], mask: Sequence[str] = (), devices: Sequence[str] = DEVICES) -> RootPlan:
    """Resolve, on the host and once, what the new root will hold.

    Args:
        extra: host paths (folders or files) bound read-only besides `interpreter_paths()`;
            paths that do not exist are skipped.
        mask: folders to cover with an empty tmpfs in the new root, in which only the
            `extra` paths below them are bound (for a package installed in site-packages).
        devices: device nodes to bind.
    """
    wanted = [*interpreter_paths(), *extra]
    masks = tuple(sorted({os.path.realpath(m) for m in mask if os.path.isdir(m)}))
    links: dict[str, str] = {}
    targets: dict[str, MountSpec] = {}
    for path in wanted:
        if not os.path.lexists(path):
            continue
        found, real = _mirror(path)
        links.update(found)
        targets[real] = MountSpec(real, _kind(real), _keep_flags(real))
    for device in devices:
        if os.path.exists(device):
            real = os.path.realpath(device)
            targets[real] = MountSpec(real, "device", _keep_flags(real) & ~MS_NODEV)
    # outermost binds only (a path inside a bound folder is there already), except below
    # a mask, where the bound folder's content is hidden again
    binds: list[MountSpec] = []
    for path in sorted(targets, key=lambda p: PurePosixPath(p).parts):
        covering = [b for b in binds if b.kind == "dir" and under(path, b.path)]
        if covering and not any(under(path, m) and under(m, covering[-1].path) for m in masks):
            continue
        binds.append(targets[path])
    for b in binds:  # (a path below SCRATCH is fine: it is bound into the scratch tmpfs)
        if under(b.path, "/proc") or under(b.path, "/dev/shm") or b.path == SCRATCH:
            raise ValueError(f"{b.path} lies where the new root has a mount of its own (/proc, /dev/shm, {SCRATCH}): "
                             "install Python and nnzoo elsewhere")
    symlinks = tuple(sorted((p, t) for p, t in links.items()
                            if not any(under(p, b.path) for b in binds if b.kind == "dir")))
    masks = tuple(m for m in masks if any(under(m, b.path) and m != b.path for b in binds if b.kind == "dir"))
    return RootPlan(_mountpoint(), tuple(binds), masks, symlinks)


# -- in the child: namespaces, then the root --------------------------------------------------------
def enter_namespaces() -> None:
    """New mount, network and IPC namespaces, with no mount propagation to or from the host.

    Must run single-threaded (right after a fork).  The MS_PRIVATE remount of `/` also
    satisfies `pivot_root`, which refuses a shared parent mount.
    """
    check(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC), "unshare(NEWNS|NEWNET|NEWIPC)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)


_OWN_PID_NS: int | None = None


def fork_in_new_pid_namespace() -> int:
    """In the fork server: fork a child that is PID 1 of a new PID namespace (one fork, no
    keeper process); returns like `os.fork()`.  When that child ends, the kernel kills
    every process left in its namespace.

    unshare(CLONE_NEWPID) only affects the caller's future children; a setns back to the
    caller's own PID namespace right after the fork restores it for the next one.
    Raises `IsolationUnavailable` when the kernel refuses (no CAP_SYS_ADMIN).
    """
    global _OWN_PID_NS
    if _OWN_PID_NS is None:
        _OWN_PID_NS = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    check(_libc.unshare(CLONE_NEWPID), "unshare(NEWPID)")
    pid = -1
    try:
        pid = os.fork()
    finally:
        if pid != 0:  # the server, also when fork failed: back to its own namespace
            check(_libc.syscall(_SYS_SETNS[platform.machine()], _OWN_PID_NS, CLONE_NEWPID), "setns(own PID namespace)")
    if pid == 0:
        os.close(_OWN_PID_NS)
    return pid


def _makedirs(path: str, mode: int = 0o755) -> None:
    """mkdir -p inside the new root (whose folders are our own: no symlinks to follow)."""
    parts = PurePosixPath(path).parts
    current = parts[0]
    for name in parts[1:]:
        current = os.path.join(current, name)
        try:
            os.mkdir(current, mode)
        except FileExistsError:
            pass


def _bind_read_only(source: str, target: str, flags: int) -> None:
    """Bind `source` on `target`, then make that mount read-only (a bind ignores MS_RDONLY
    on creation).  Not recursive: mounts below `source` stay out (a recursive bind would
    bring them along writable)."""
    _mount(source, target, None, MS_BIND)
    _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)


def _scratch(root: str, uid: int, size_bytes: int) -> None:
    """One size-capped tmpfs owned by `uid`, seen as SCRATCH and /dev/shm in the new root."""
    stage = os.path.join(root, ".scratch")
    os.mkdir(stage, 0o700)
    _mount("nnzoo-scratch", stage, "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={size_bytes},nr_inodes=65536,mode=700,uid={uid},gid={uid}")
    for name, where in (("tmp", SCRATCH), ("shm", "/dev/shm")):
        os.mkdir(os.path.join(stage, name), 0o700)
        os.chown(os.path.join(stage, name), uid, uid)
        _makedirs(root + where)
        _mount(os.path.join(stage, name), root + where, None, MS_BIND)
    check(_libc.umount2(stage.encode(), MNT_DETACH), "umount2(staging)")
    os.rmdir(stage)


def build_root(plan: RootPlan, uid: int, scratch_bytes: int) -> None:
    """Build the new root on `plan.mountpoint` and pivot into it.

    Run as root, in the private mount namespace of `enter_namespaces`, as PID 1 of the
    PID namespace of `fork_in_new_pid_namespace` (for /proc).  Afterwards `/` is the new
    root's tmpfs (read-only), the old root is detached, and the current folder is SCRATCH
    (owned by `uid`, mode 0700, `scratch_bytes` shared with /dev/shm).
    """
    root = plan.mountpoint
    # 1. the root: a small tmpfs that only ever holds folders, symlinks and mountpoints
    _mount("nnzoo-root", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=755")
    _scratch(root, uid, scratch_bytes)
    # 2. read-only binds, parents first; a mask covers its folder as soon as that is
    #    bound, before the binds inside it
    pending = list(plan.masks)

    def cover(ready: list[str]) -> None:
        for folder in ready:
            _mount("nnzoo-mask", root + folder, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,nr_inodes=1024,mode=755")
            pending.remove(folder)

    for b in plan.binds:
        cover([m for m in pending if not under(m, b.path) and os.path.isdir(root + m)])
        target = root + b.path
        _makedirs(os.path.dirname(target))
        if b.kind == "dir":
            _makedirs(target)
        else:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o644))
        extra = MS_NOSUID | (MS_NOEXEC if b.kind == "device" else MS_NODEV)
        _bind_read_only(b.path, target, b.keep_flags | extra)
    cover([m for m in pending if os.path.isdir(root + m)])
    for folder in plan.masks:  # the masks' own tmpfs read-only too, once filled
        _mount(None, root + folder, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    # 3. symlinks (only ever followed after the pivot)
    for path, link_target in plan.symlinks:
        _makedirs(os.path.dirname(root + path))
        os.symlink(link_target, root + path)
    # 4. a fresh /proc of this PID namespace
    _makedirs(root + "/proc")
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    # 5. the root read-only, then swap roots: the old one ends stacked on "/" and is
    #    detached (pivot_root(".", ".") needs no put_old folder)
    _mount(None, root, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(root)
    check(_libc.syscall(_SYS_PIVOT_ROOT[platform.machine()], b".", b"."), "pivot_root")
    check(_libc.umount2(b".", MNT_DETACH), "umount2(old root)")
    os.chdir(SCRATCH)
