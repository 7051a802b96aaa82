"""The student bundle works on its own: built, set up in a FRESH virtual environment with
its own pyproject.toml (torch first, from the pinned CPU wheel, as its Makefile does), the
reference solutions dropped in — then every public test passes through `nnzoo test` with
the POSIX-only modules (`fcntl`, `resource`) blocked at import, as on Windows, and the zip
`nnzoo pack` writes gets full marks from the instructor's `nnzoo grade`.

One environment for the run (shared by pytest-xdist's workers); it takes minutes (the install, the five assignments'
public tests, the hidden grading of the zip), so everything is checked from one set-up.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from filelock import FileLock
from test_gradebook_term import nnzoo  # in this process: the fork server warm

from autograder import course
from autograder.bundle import write_bundle
from autograder.bundle.files import INSTRUCTOR_ONLY, torch_pin

ROOT = Path(__file__).resolve().parent.parent

#: Python as on Windows: no fcntl, no resource (run before anything else is imported).
WITHOUT_POSIX = """\
import importlib.abc, sys
class NoPosix(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("fcntl", "resource"):
            raise ImportError(f"{name} is blocked (as on Windows)")
        return None
sys.meta_path.insert(0, NoPosix())
for name in ("fcntl", "resource"):
    sys.modules.pop(name, None)
from autograder.cli import main
code = main(sys.argv[1:])
print("POSIX modules loaded:", sorted(m for m in ("fcntl", "resource") if m in sys.modules))
sys.exit(code)
"""


def pip(venv: Path, *args: str) -> None:
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-compile", *args],
                   check=True, capture_output=True, text=True, timeout=1200)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """The bundle, installed into a fresh venv inside it, references in place of the stubs —
    made once per run: pytest-xdist's workers share it (the first builds it, under a lock)."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # this run's folder, the same for every xdist worker
    with FileLock(str(shared / "nnzoo-fresh-bundle.lock")):
        out = shared / "nnzoo-fresh-bundle"
        if (out / "report.json").is_file():
            return out / "nnzoo-student", out / "nnzoo-student" / ".venv", json.loads((out / "report.json").read_text())
        if out.exists():
            shutil.rmtree(out)  # a build that did not finish
        report = _install(out / "nnzoo-student")
        (out / "report.json").write_text(json.dumps(report))
        return out / "nnzoo-student", out / "nnzoo-student" / ".venv", report


def _install(out: Path) -> dict:
    report = write_bundle(out)
    start = time.perf_counter()
    venv = out / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip(venv, torch_pin(ROOT))  # first, as the bundle's Makefile does: the pinned CPU wheel
    pip(venv, "-e", str(out))
    installed = time.perf_counter() - start
    for a in course.names(hidden=False):
        shutil.copy(ROOT / "solutions" / a / f"{a}.py", out / "assignments" / a / f"{a}.py")
    print(f"\nfresh venv with the bundle installed in {installed:.0f} s")
    return {"unmet": report.unmet}


def run(venv: Path, cwd: Path, *args: str, timeout: int = 1200) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("NNZOO_ROOT", "PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run([str(venv / "bin" / "python"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_the_bundle_needs_nothing_it_leaves_out(bundle):
    _, _, report = bundle
    assert report["unmet"] == []


def test_the_bundles_install_holds_only_what_a_student_needs(bundle):
    out, venv, _ = bundle
    listed = tomllib.loads((out / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {d.split(">")[0].split("=")[0].split("<")[0].strip() for d in listed}
    assert {"torch", "numpy", "networkx", "pytest", "pytest-timeout", "rich"} <= names
    assert names <= {"torch", "numpy", "networkx", "pytest", "pytest-timeout", "rich", "scikit-learn"}
    frozen = run(venv, out, "-m", "pip", "list", "--format=json").stdout
    have = {p["name"].lower() for p in json.loads(frozen)}
    assert not have & (INSTRUCTOR_ONLY | {"jupyter-core", "notebook", "jupyterlab"}), have & INSTRUCTOR_ONLY


def test_every_public_test_passes_in_the_fresh_venv_without_posix_modules(bundle):
    out, venv, _ = bundle
    start = time.perf_counter()
    result = run(venv, out, "-c", WITHOUT_POSIX, "test")
    print(f"\nnnzoo test (every assignment, references) in the fresh venv: {time.perf_counter() - start:.0f} s")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "POSIX modules loaded: []" in output
    for a in course.names(hidden=False):
        assert f"== {a}: public tests in {out / 'assignments' / a}" in output
    assert "✗" not in output, output[-4000:]


def test_the_zip_nnzoo_pack_writes_gets_full_marks_from_nnzoo_grade(bundle, tmp_path):
    out, venv, _ = bundle
    packed = run(venv, out, "-c", WITHOUT_POSIX, "pack", "--student", "s001", "--no-tests", "--out", str(tmp_path / "class"))
    assert packed.returncode == 0, packed.stdout + packed.stderr
    names = sorted(n for n in __import__("zipfile").ZipFile(tmp_path / "class" / "s001.zip").namelist())
    assert names == sorted(f"{a}.py" for a in course.names(hidden=False))
    # the instructor's side, in this process (its fork server warm): the zip is what crosses over
    graded = nnzoo("grade", str(tmp_path / "class"), "--out", str(tmp_path / "grades"))
    assert graded.returncode == 0, graded.stderr[-3000:]
    data = json.loads((tmp_path / "grades" / "grades.json").read_text())
    record = data["students"][0]
    lost = [t["name"] for r in record["assignments"].values() for t in r["tests"] if t["status"] != "passed"]
    assert lost == []
    row = next(csv.DictReader((tmp_path / "grades" / "grades.csv").open()))
    assert float(row["total"]) == sum(a["max_score"] for a in data["assignments"].values()) > 0
