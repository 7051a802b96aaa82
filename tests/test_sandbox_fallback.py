"""The fallback sandbox — no CAP_SYS_ADMIN, as under Docker's default capabilities — and
failing closed, for real: `nnzoo grade` and the threat tests run in processes that dropped
CAP_SYS_ADMIN from their bounding set (`setpriv` from util-linux, which .ci/run installs
where it is missing).  Every threat line must then still hold, or grading must refuse.

Permissions these tests change, for one test's duration only (every mode is restored):
on this machine kind the interpreter lives under /root/.pyenv and /root is 0700, so a
fallback worker — another uid — cannot import the standard library lazily.  The first
test shows that the preflight then refuses, even with --allow-weak-sandbox.  To show which
lines hold, the others make the folders above the interpreter traversable by others
(o+x: entering, not listing), as an instructor would install Python where workers can
read it; the last one also closes (o-rwx) exactly what the preflight names, as its
message advises.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from autograder.sandbox.preflight import (
    class_secrets,
    grader_secrets,
    interpreter_prefixes,
)
from autograder.worker.isolation import PROJECT_DIR

NO_SYS_ADMIN = ["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin"]
SAMPLES = PROJECT_DIR / "examples" / "submissions"
HOLDING = "reach or solutions or importable or home or walking or writable"  # the hiding lines

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the fallback's uid drop (and setpriv) need root"),
    pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is missing: run .ci/run"),
]


def no_sys_admin(*args: str, env: dict[str, str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """`python *args` in a process without CAP_SYS_ADMIN (nor any way to get it back)."""
    return subprocess.run([*NO_SYS_ADMIN, sys.executable, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=PROJECT_DIR, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})})


def nnzoo_grade(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return no_sys_admin("-m", "autograder.cli", "grade", str(SAMPLES), "--out", str(out), "-a", "mlp",
                        "--student", "alice", *extra)


def closed_to_others(path: Path) -> bool:
    return not os.stat(path).st_mode & stat.S_IXOTH


def ancestors_closed_to_others() -> list[Path]:
    """Folders above the interpreter and the venv that other users cannot enter."""
    folders = {parent for prefix in interpreter_prefixes() for parent in [prefix, *prefix.parents]}
    return sorted(f for f in folders if closed_to_others(f))


@contextmanager
def permission_lock() -> Iterator[None]:
    """The tests that open or close folders for other users, or need them as they are,
    hold this lock (across xdist workers): one at a time, never overlapping."""
    with open(Path(tempfile.gettempdir()) / "nnzoo-tests-permissions.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def permissions(enter: list[Path] = (), close: list[Path] = ()) -> Iterator[None]:
    """For the block only: others may enter (o+x) the folders `enter`, and may do nothing
    with the paths `close` (o-rwx; a folder on the way to the interpreter keeps o+x)."""
    saved: dict[Path, int] = {}
    way = {parent for prefix in interpreter_prefixes() for parent in [prefix, *prefix.parents]}
    try:
        for path in enter:
            saved.setdefault(path, os.stat(path).st_mode & 0o7777)
            os.chmod(path, saved[path] | stat.S_IXOTH)
        for path in close:
            if path.is_symlink() or not path.exists():
                continue
            mode = saved.setdefault(path, os.stat(path).st_mode & 0o7777)
            os.chmod(path, os.stat(path).st_mode & 0o7777 & ~(0o006 if path in way else 0o007))
        yield
    finally:
        for path, mode in saved.items():
            os.chmod(path, mode)


def threat_tests(*extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return no_sys_admin("-m", "pytest", "tests/test_sandbox_threats.py", "-q", "-p", "no:cacheprovider", *extra,
                        env=env, timeout=900)


def test_grading_refuses_where_a_worker_cannot_import_the_standard_library(tmp_path):
    with permission_lock():
        refuses_without_the_standard_library(tmp_path)


def refuses_without_the_standard_library(tmp_path: Path) -> None:
    if not ancestors_closed_to_others():
        pytest.skip("the interpreter is already reachable by other users here")
    for flags in ((), ("--allow-weak-sandbox",)):
        result = nnzoo_grade(tmp_path / "out", *flags)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
        assert lines[0].startswith("nnzoo grade: the worker cannot import the standard library")
        assert "no CAP_SYS_ADMIN" in lines[0] and "not under a 0700 folder such as /root" in lines[0]
    assert not (tmp_path / "out" / "grades.csv").exists()


def test_grading_refuses_where_a_worker_can_read_the_reference(tmp_path):
    with permission_lock(), permissions(enter=ancestors_closed_to_others()):
        result = nnzoo_grade(tmp_path / "out")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
    line = lines[0]
    assert line.startswith("nnzoo grade: the worker can read solutions/")
    assert "(reference solutions and hidden tests;" in line and "no CAP_SYS_ADMIN" in line
    assert "chmod o-rwx solutions" in line and line.endswith("or pass --allow-weak-sandbox")
    assert not (tmp_path / "out" / "grades.csv").exists()


def test_allow_weak_sandbox_grades_and_records_the_weak_levels(tmp_path):
    with permission_lock(), permissions(enter=ancestors_closed_to_others()):
        result = nnzoo_grade(tmp_path / "out", "--allow-weak-sandbox")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "weak sandbox (--allow-weak-sandbox): the worker can read" in result.stderr
    record = json.loads((tmp_path / "out" / "students" / "alice.json").read_text())["assignments"]["mlp"]
    assert record["sandbox"]["file system"].startswith("FALLBACK") and record["sandbox"]["user"] == "own unprivileged uid"
    assert record["score"] == record["max_score"] > 0  # a correct submission keeps full marks


def test_every_threat_line_holds_or_grading_refuses_without_cap_sys_admin():
    with permission_lock(), permissions(enter=ancestors_closed_to_others()):
        result = threat_tests()
    summary = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 0 and re.fullmatch(r"\d+ passed in .*", summary), result.stdout[-3000:]


def test_with_what_the_preflight_names_closed_the_lines_hold_and_grading_proceeds(tmp_path):
    fixes = sorted({Path(s.fix) for s in grader_secrets() + class_secrets(SAMPLES, None)})
    with permission_lock(), permissions(enter=ancestors_closed_to_others(), close=fixes):
        lines = threat_tests("-k", HOLDING, env={"NNZOO_TEST_SECRETS_CLOSED": "1"})
        graded = nnzoo_grade(tmp_path / "out")
    assert lines.returncode == 0 and " passed" in lines.stdout, lines.stdout[-3000:]
    assert graded.returncode == 0 and "weak sandbox" not in graded.stderr, graded.stderr[-2000:]
    record = json.loads((tmp_path / "out" / "students" / "alice.json").read_text())["assignments"]["mlp"]
    assert record["sandbox"]["file system"].startswith("FALLBACK") and record["score"] == record["max_score"]
