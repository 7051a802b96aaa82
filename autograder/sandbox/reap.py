"""Everything a worker's uid leaves behind, removed by the judge when the worker ends.

In the allow-list root the kernel cleans up: the PID namespace dies with the worker, the
IPC namespace takes its SysV objects along, and its only writable place was its own
tmpfs.  In the fallback (no namespaces) nothing does, so the judge, as root, removes them
by uid: every process (again and again: a fork bomb forks between two scans), the SysV
shared memory segments, semaphores and message queues, and what the uid owns directly in
the world-writable folders.  Never run on the judge's own uid.

A worker's end need not wait for the kernel to tear it down (≈ 10 ms): `reap_later` reaps
in a background thread, and `wait_reaped` — called before the uid's next worker starts, and
by the interpreter before the judge exits (the thread is not a daemon) — waits for it.
A judge that was killed cannot reap: its fork server, which ends with it and holds the
judge's lock on the uid until then, sweeps the uids it forked for instead
(`reap_unclaimed`).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import shutil
import signal
import stat
import threading
import time
from pathlib import Path
from typing import Mapping, Sequence

#: World-writable folders a worker without a private root can write into.
WORLD_WRITABLE: tuple[str, ...] = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue")
_IPC_TABLES = ("shm", "sem", "msg")
IPC_RMID = 0


def live_processes(uid: int) -> list[int]:
    """Pids of `uid`'s processes that have not exited yet (zombies excluded)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid == uid and (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                pids.append(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return pids


def kill_uid(uid: int, rounds: int = 100) -> int:
    """SIGKILL every process running as `uid` until none is left; how many were sent."""
    sent = 0
    for _ in range(rounds):
        pids = live_processes(uid)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                sent += 1
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)
    return sent


def ipc_objects(uid: int) -> dict[str, list[int]]:
    """Ids of the SysV IPC objects `uid` owns, per table ("shm", "sem", "msg")."""
    found: dict[str, list[int]] = {}
    for table in _IPC_TABLES:
        try:
            header, *rows = Path(f"/proc/sysvipc/{table}").read_text().splitlines()
        except OSError:
            continue
        columns = header.split()
        for row in rows:
            values = dict(zip(columns, row.split()))
            if int(values.get("uid", -1)) == uid:
                found.setdefault(table, []).append(int(values[columns[1]]))  # shmid / semid / msqid
    return found


def remove_ipc(uid: int) -> int:
    """Remove `uid`'s SysV IPC objects; how many.  IPC_RMID of another user's object needs
    CAP_SYS_ADMIN, which the fallback lacks by definition, so a short-lived child becomes
    that uid and removes them (only when there is something to remove)."""
    objects = ipc_objects(uid)
    if not objects:
        return 0
    # looked up before the fork: the judge has threads (this reap may run in one), and a
    # lookup in the child could wait forever on a loader lock another thread held
    libc = ctypes.CDLL(None, use_errno=True)
    remove = {"shm": lambda i, f=libc.shmctl: f(i, IPC_RMID, None),
              "sem": lambda i, f=libc.semctl: f(i, 0, IPC_RMID),
              "msg": lambda i, f=libc.msgctl: f(i, IPC_RMID, None)}
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # only plain system calls here: the judge may have threads
        removed = 0
        try:
            os.close(read)
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            removed = sum(remove[table](i) == 0 for table, ids in objects.items() for i in ids)
            os.write(write, str(removed).encode())
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 32)
    os.close(read)
    os.waitpid(pid, 0)
    return int(answer or 0)


def remove_files(uid: int, folders: Sequence[str] = WORLD_WRITABLE) -> int:
    """Delete what `uid` owns directly in `folders` (links are removed, never followed)."""
    removed = 0
    for folder in folders:
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for name in entries:
            path = os.path.join(folder, name)
            try:
                if os.lstat(path).st_uid != uid:
                    continue
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)
                removed += 1
            except OSError:
                pass
    return removed


#: Where every judge on this machine takes its locks on worker uids, whatever its TMPDIR:
#: two judges that looked in two folders could claim one uid, and each would kill the
#: other's workers.  The second is for a machine with no writable /run.
UID_LOCK_FOLDERS: tuple[str, ...] = ("/run/nnzoo-uids", f"/tmp/nnzoo-uids-{os.geteuid()}")


def uid_lock_folder(candidates: Sequence[str] = UID_LOCK_FOLDERS) -> str:
    """The first of `candidates` that is (or is made) a folder of this process's own user,
    writable by nobody else: another user's folder could hold the locks, or links in place
    of them."""
    for folder in candidates:
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            st = os.lstat(folder)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o077:
            return folder
    raise PermissionError(f"no folder of the grader's own for the worker uids' locks: {', '.join(candidates)} "
                          "are missing, not writable, another user's or writable by others")


def take_uid_lock(uid: int) -> int | None:
    """The lock a judge holds (`flock` on a file in `uid_lock_folder()`) for as long as it
    uses worker uid `uid` (`client.claim_worker_uids`), taken now without waiting: its
    descriptor (closing it lets go), or None when a judge holds it."""
    fd = os.open(os.path.join(uid_lock_folder(), str(uid)), os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def reap_unclaimed(uids: Sequence[int], held: Mapping[int, int]) -> None:
    """`reap_uid` for each of `uids` that no judge holds any more: the fork server's last
    act once its judge is gone, however that judge ended — in the fallback nothing else
    kills what a worker left running, such as a detached child.  `held` maps uids to the
    locks on them that the judge passed on (`client.claimed_uid_lock`): those uids are the
    caller's to reap, and no other judge can claim them before the lock is closed here, at
    the end of their sweep.  The lock of any other uid is taken here for the while; a uid
    a judge holds again is that judge's to reap.  Only as root: otherwise the workers ran
    as the grader's own uid, which is never reaped."""
    if os.geteuid() != 0:
        return
    for uid in uids:
        fd = held.get(uid)
        if fd is None and uid != 0:
            fd = take_uid_lock(uid)
        if fd is None:
            continue
        try:
            reap_uid(uid)
        except OSError:  # a removal failed: the next sweep's
            pass
        finally:
            os.close(fd)


def reap_uid(uid: int) -> dict[str, int]:
    """Kill every process of `uid`, then remove its IPC objects and its files in the
    world-writable folders; counts of what was removed."""
    if uid in (0, os.getuid()):
        raise ValueError(f"refusing to reap uid {uid}: it is the grader's own")
    processes = kill_uid(uid)
    return {"processes": processes, "ipc": remove_ipc(uid), "files": remove_files(uid)}


class _Reap(threading.Thread):
    """One `reap_uid` in the background; `wait` joins it and raises what it raised."""

    def __init__(self, uid: int) -> None:
        super().__init__(name=f"nnzoo-reap-{uid}")
        self.uid = uid
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            reap_uid(self.uid)
        except BaseException as exc:  # noqa: BLE001 — raised again by `wait`
            self.error = exc

    def wait(self) -> None:
        self.join()
        if self.error is not None:
            raise self.error


_PENDING: dict[int, _Reap] = {}
_PENDING_LOCK = threading.Lock()


def reap_later(uid: int) -> None:
    """Start reaping `uid` (see `reap_uid`) in a background thread; `wait_reaped(uid)`
    waits until it is done."""
    if uid in (0, os.getuid()):
        raise ValueError(f"refusing to reap uid {uid}: it is the grader's own")
    wait_reaped(uid)  # one reap of a uid at a time
    reap = _Reap(uid)
    with _PENDING_LOCK:
        _PENDING[uid] = reap
    reap.start()


def wait_reaped(uid: int | None = None) -> None:
    """Wait until the background reap of `uid` (of every uid: None) has finished — every
    process of it killed, its IPC objects and files removed; raises what a reap raised."""
    with _PENDING_LOCK:
        reaps = [r for u, r in _PENDING.items() if uid is None or u == uid]
        for reap in reaps:
            del _PENDING[reap.uid]
    for reap in reaps:
        reap.wait()
