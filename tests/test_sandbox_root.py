"""The allow-list root's plan, and the preflight's verdict, read as specifications.

The plan (autograder/worker/rootfs.py) is pure data resolved on the host; one test builds
a root for real in a forked child to show that a package installed inside a bound folder
shows only its worker files.  The preflight (autograder/sandbox/preflight.py) turns what a
worker could reach into one line that refuses to grade, or nothing.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from test_sandbox_threats import call_in_worker

from autograder.sandbox.preflight import (
    Preflight,
    Secret,
    grader_secrets,
    grading_refusal,
    preflight,
)
from autograder.worker import rootfs
from autograder.worker.isolation import (
    PACKAGE_DIR,
    PROJECT_DIR,
    WORKER_FILES,
    worker_paths,
)

ROOT = os.geteuid() == 0
FALLBACK_LEVELS = {"file system": "FALLBACK (no mount namespace): the host's files, with the rights of another user",
                   "user": "own unprivileged uid"}


def _has_cap_sys_admin() -> bool:
    status = Path("/proc/self/status").read_text()
    return bool(int(next(line.split()[1] for line in status.splitlines() if line.startswith("CapBnd:")), 16) >> 21 & 1)


NAMESPACES = ROOT and _has_cap_sys_admin()


# -- the plan -----------------------------------------------------------------------------------

def test_the_worker_files_are_one_list_derived_from_the_package():
    assert PACKAGE_DIR == Path(__file__).resolve().parents[1] / "autograder"
    assert [str(p.relative_to(PROJECT_DIR)) for p in worker_paths()] == list(WORKER_FILES)


def test_the_weights_are_also_found_under_nnzoo_root(tmp_path, monkeypatch):
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "transfer_pretrained.pt").write_bytes(b"weights")
    monkeypatch.setenv("NNZOO_ROOT", str(tmp_path))
    assert tmp_path / "datasets" / "transfer_pretrained.pt" in worker_paths()


READ_THE_COURSE = """
import os
from autograder.data.transfer import pretrained_path

def course(_):
    path = pretrained_path()
    return {"root": os.environ.get("NNZOO_ROOT", ""), "weights": path.read_text() if path.is_file() else ""}
"""


def course_seen_by_a_worker() -> dict:
    return call_in_worker(READ_THE_COURSE, "course", 0)


@pytest.mark.skipif(not NAMESPACES, reason="the worker reads the shipped weights through its own root")
def test_a_judge_whose_course_changed_keeps_its_fork_server_unless_the_workers_files_changed(tmp_path, monkeypatch):
    """A worker sees its judge's NNZOO_ROOT, whichever course the fork server started for: no
    new server (an `import torch` and a warm-up) per course.  A course that ships worker
    files of its own (its weights) gets a new server, whose root binds them."""
    from autograder.sandbox.client import ForkServer

    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    monkeypatch.setenv("NNZOO_ROOT", str(first))
    server = ForkServer.get()
    assert course_seen_by_a_worker()["root"] == str(first)
    monkeypatch.setenv("NNZOO_ROOT", str(second))
    assert course_seen_by_a_worker()["root"] == str(second)
    assert ForkServer.get() is server
    (second / "datasets").mkdir()
    (second / "datasets" / "transfer_pretrained.pt").write_bytes(b"the second course's weights")
    (second / "datasets" / "transfer_pretrained.pt").chmod(0o644)
    assert course_seen_by_a_worker() == {"root": str(second), "weights": "the second course's weights"}
    assert ForkServer.get() is not server


def test_the_plan_binds_outermost_folders_and_recreates_symlinks(tmp_path):
    (tmp_path / "real" / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "real" / "pkg" / "__init__.py").write_text("")
    (tmp_path / "link").symlink_to("real")
    plan = rootfs.plan_root([str(tmp_path / "link" / "pkg"), str(tmp_path / "real" / "pkg" / "sub"),
                             str(tmp_path / "link" / "pkg" / "__init__.py")])
    mine = [(b.path, b.kind) for b in plan.binds if b.path.startswith(str(tmp_path))]
    assert mine == [(str(tmp_path / "real" / "pkg"), "dir")]
    assert (str(tmp_path / "link"), "real") in plan.symlinks
    assert sys.base_prefix in [b.path for b in plan.binds] or any(
        rootfs.under(sys.base_prefix, b.path) for b in plan.binds)


def _site_packages(tmp_path: Path) -> tuple[Path, list[str]]:
    """A folder standing for site-packages with an installed package: its worker files,
    and a judge-side folder that must not show."""
    site = tmp_path / "site"
    for name in ("pkg/worker", "pkg/checks", "pkg/data"):
        (site / name).mkdir(parents=True)
    for name in ("pkg/__init__.py", "pkg/worker/serve.py", "pkg/checks/secret.py", "pkg/data/__init__.py",
                 "pkg/data/transfer.py", "pkg/data/spirals.py", "other.py"):
        (site / name).write_text("x = 1\n")
    extra = [str(site), *(str(site / n) for n in ("pkg/__init__.py", "pkg/worker", "pkg/data/__init__.py",
                                                  "pkg/data/transfer.py"))]
    return site, extra


def test_a_package_inside_a_bound_folder_is_masked_down_to_its_worker_files(tmp_path):
    site, extra = _site_packages(tmp_path)
    unmasked = rootfs.plan_root(extra)
    assert [b.path for b in unmasked.binds if b.path.startswith(str(tmp_path))] == [str(site)]
    plan = rootfs.plan_root(extra, mask=[str(site / "pkg")])
    assert plan.masks == (str(site / "pkg"),)
    assert [b.path for b in plan.binds if b.path.startswith(str(tmp_path))] == [
        str(site), str(site / "pkg" / "__init__.py"), str(site / "pkg" / "data" / "__init__.py"),
        str(site / "pkg" / "data" / "transfer.py"), str(site / "pkg" / "worker")]


@pytest.mark.skipif(not NAMESPACES, reason="building a root needs root and CAP_SYS_ADMIN")
def test_a_masked_package_shows_only_its_worker_files_in_a_real_root(tmp_path):
    site, extra = _site_packages(tmp_path)
    tmp_path.chmod(0o755)
    plan = rootfs.plan_root(extra, mask=[str(site / "pkg")])
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # only system calls and listings here: this is the test process's fork
        try:
            os.close(read)
            rootfs.enter_namespaces()
            rootfs.build_root(plan, 65534, 1 << 20)
            tree = {str(p.relative_to(site)) for p in site.rglob("*")}
            os.write(write, json.dumps(sorted(tree)).encode())
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1 << 16)
    os.close(read)
    os.waitpid(pid, 0)
    assert json.loads(answer) == ["other.py", "pkg", "pkg/__init__.py", "pkg/data", "pkg/data/__init__.py",
                                  "pkg/data/transfer.py", "pkg/worker", "pkg/worker/serve.py"]


# -- the preflight's verdict --------------------------------------------------------------------

def test_the_grader_secrets_cover_solutions_history_tests_and_the_judges_code():
    secrets = grader_secrets()
    kinds = {s.kind for s in secrets}
    assert {"reference solutions and hidden tests", "the grader's own code"} <= kinds
    paths = {s.path for s in secrets}
    assert str(PROJECT_DIR / "solutions" / "mlp" / "mlp.py") in paths
    assert str(PACKAGE_DIR / "checks" / "__init__.py") in paths and str(PACKAGE_DIR / "data" / "spirals.py") in paths
    assert not any(p.startswith(str(PACKAGE_DIR / "worker")) or p == str(PACKAGE_DIR / "data" / "transfer.py")
                   or p == str(PACKAGE_DIR / "__init__.py") for p in paths)
    fixes = {s.fix for s in secrets if s.kind == "the grader's own code"}
    assert str(PACKAGE_DIR / "checks") in fixes and str(PACKAGE_DIR / "data" / "spirals.py") in fixes


def test_a_refusal_is_one_line_naming_what_is_readable_and_how_to_fix_it():
    found = Preflight(FALLBACK_LEVELS, readable=(
        Secret("/c/solutions/mlp/mlp.py", "reference solutions and hidden tests", "/c/solutions"),
        Secret("/c/.git", "the repository history", "/c/.git")))
    line = found.refusal(allow_weak=False)
    assert "\n" not in line
    assert line.startswith("the worker can read /c/solutions/mlp/mlp.py (reference solutions and hidden tests; "
                           "the repository history; 1 more paths): this machine does not allow mount namespaces")
    assert "chmod o-rwx /c/solutions /c/.git" in line and line.endswith("or pass --allow-weak-sandbox")
    assert found.refusal(allow_weak=True) == ""


def test_a_worker_that_cannot_import_is_refused_even_when_weak_is_allowed():
    import sysconfig

    found = Preflight(FALLBACK_LEVELS, unreadable=(sysconfig.get_path("stdlib"),))
    line = found.refusal(allow_weak=True)
    assert line.startswith("the worker cannot import the standard library") and "/root" in line
    assert "--allow-weak-sandbox" not in line


def test_a_worker_that_cannot_be_isolated_is_refused():
    assert Preflight({}, error="isolation failed").refusal(allow_weak=True) == "the sandbox does not work here: isolation failed"


@pytest.mark.skipif(not NAMESPACES, reason="the allow-list root needs root and CAP_SYS_ADMIN")
def test_the_preflight_passes_in_the_allow_list_root(tmp_path):
    submissions = PROJECT_DIR / "examples" / "submissions"
    assert grading_refusal(submissions, tmp_path / "out", tmp_path) == ""
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o700  # made unreadable to others, first


@pytest.mark.skipif(not NAMESPACES, reason="the allow-list root needs root and CAP_SYS_ADMIN")
def test_the_preflight_is_cached_per_process_and_keyed_on_the_paths(tmp_path):
    one = [Secret(str(tmp_path), "the output folder", str(tmp_path))]
    first = preflight(one)
    assert preflight(list(one)) is first
    assert preflight(one + [Secret("/etc/passwd", "a host file", "/etc/passwd")]) is not first
