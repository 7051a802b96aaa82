"""`nnzoo gradescope build`: the zip Gradescope takes, proven by running what it holds.

No Docker here, so the tests lay out a folder like Gradescope's `/autograder` (the zip
unpacked in `source/`, the student's files in `submission/`, Gradescope's
`submission_metadata.json`), run the zip's own `setup.sh` (its installs skipped:
NNZOO_GS_SKIP_INSTALL=1, this venv's interpreter) and `run_autograder` with NNZOO_GS_ROOT
pointed there, and check results.json against a JSON Schema written from Gradescope's
specification (tests/gradescope_results.schema.json).  The course is the throwaway `tiny`
assignment (tests/conftest.py), one of its tests marked `after_due_date`.

The last test grades as Gradescope's container does, without CAP_SYS_ADMIN (setpriv):
nnzoo's fallback sandbox, file permissions only — run_autograder closes what the preflight
names, and a submission that tries to read the reference cannot.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from autograder.cli import main
from autograder.gradescope.results import NOT_RUN, SANDBOX, GradescopeResults
from autograder.judge.result import TestResult
from conftest import write_tiny_course
from test_gradebook_term import BROKEN, CORRECT

SCHEMA = json.loads((Path(__file__).parent / "gradescope_results.schema.json").read_text())
BIN = str(Path(sys.executable).parent)

#: correct only if the reference cannot be read: reading it is what a hostile submission would do
PRYING = '''import pathlib, autograder

def _peek():
    try:
        return (pathlib.Path(autograder.__file__).parents[1] / "solutions" / "tiny" / "tiny.py").read_text()
    except OSError:
        return None

SEEN = _peek()

def double(x):
    if SEEN is not None:
        raise RuntimeError("the reference was readable")
    return x + x
'''


def valid(results: dict) -> dict:
    jsonschema.validate(results, SCHEMA)
    return results


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    """The zip for `tiny`, whose second test is shown after the due date, with a term that
    takes 50% per started day late."""
    base = tmp_path_factory.mktemp("gradescope")
    course = write_tiny_course(base / "course")
    hidden = course / "solutions" / "tiny" / "test_hidden.py"
    hidden.write_text(hidden.read_text().replace('@pytest.mark.property("gradients")',
                                                 '@pytest.mark.property("gradients")\n'
                                                 '@pytest.mark.visibility("after_due_date")'))
    (course / "nnzoo.toml").write_text("[late]\npercent_per_day = 50\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NNZOO_ROOT", str(course))
        assert main(["gradescope", "build", "tiny", "--out", str(base / "autograder.zip"), "--timeout", "300"]) == 0
    return base / "autograder.zip"


def lay_out(zip_path: Path, root: Path, files: dict[str, str], metadata: dict | None = None) -> Path:
    """A folder laid out like Gradescope's /autograder, as its harness leaves it."""
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            target = root / "source" / info.filename
            zf.extract(info, root / "source")
            if info.external_attr >> 16:
                os.chmod(target, (info.external_attr >> 16) & 0o777)
    (root / "submission").mkdir()
    for name, text in files.items():
        (root / "submission" / name).write_text(text)
    if metadata is not None:
        (root / "submission_metadata.json").write_text(json.dumps(metadata))
    return root


def env_for(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NNZOO_")}
    return {**env, "PATH": f"{BIN}:{env.get('PATH', '')}", "NNZOO_GS_ROOT": str(root),
            "NNZOO_GS_PYTHON": sys.executable, "NNZOO_GS_SKIP_INSTALL": "1", **extra}


def run_autograder(root: Path, prefix: tuple[str, ...] = (), **extra: str) -> dict:
    done = subprocess.run([*prefix, str(root / "source" / "run_autograder")], cwd=root, env=env_for(root, **extra),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return valid(json.loads((root / "results" / "results.json").read_text()))


def by_name(results: dict) -> dict[str, dict]:
    return {t["name"].split(" (")[0]: t for t in results["tests"]}


def test_the_zip_holds_setup_and_run_autograder_at_its_root_and_only_this_assignments_solution(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as zf:
        names = set(zf.namelist())
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
        config = json.loads(zf.read("nnzoo-gradescope.json"))
        setup = zf.read("setup.sh").decode()
    assert {"setup.sh", "run_autograder", "nnzoo/pyproject.toml", "nnzoo/solutions/tiny/tiny.py",
            "nnzoo/solutions/tiny/test_hidden.py", "nnzoo/nnzoo.toml", "nnzoo/datasets/transfer_pretrained.pt"} <= names
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755
    assert not any(n.startswith(("nnzoo/solutions/mlp", "nnzoo/tests/", "nnzoo/examples/", "nnzoo/.git")) for n in names)
    assert not any("__pycache__" in n for n in names)
    assert config["assignment"] == "tiny" and config["deadline_seconds"] == 270
    assert "download.pytorch.org/whl/cpu" in setup and "/opt/nnzoo/venv" in setup  # CPU torch, not under /root


def test_setup_sh_checks_that_the_install_can_grade(autograder_zip, tmp_path):
    root = lay_out(autograder_zip, tmp_path / "autograder", {})
    done = subprocess.run(["bash", str(root / "source" / "setup.sh")], env=env_for(root), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0 and "ready to grade tiny" in done.stdout, done.stdout + done.stderr


def test_a_correct_submission_handed_in_a_day_late(autograder_zip, tmp_path):
    metadata = {"created_at": "2026-10-21T12:00:00.000000-07:00", "id": 1,
                "assignment": {"due_date": "2026-10-20T23:59:00.000000-07:00", "late_due_date": None, "title": "tiny"}}
    root = lay_out(autograder_zip, tmp_path / "autograder", {"tiny.py": CORRECT}, metadata)
    results = run_autograder(root)
    tests = by_name(results)
    assert tests["test_doubles"]["status"] == "passed" and tests["test_doubles"]["visibility"] == "visible"
    assert tests["test_doubles_like_the_reference"]["visibility"] == "after_due_date"
    assert [t["number"] for t in results["tests"]] == ["1", "2", "3"]
    assert NOT_RUN not in tests and results["extra_data"]["finished"] is True
    assert results["extra_data"]["raw_score"] == 3 and results["score"] == 1.5  # Gradescope's dates, nnzoo's policy
    assert "1 day late" in results["output"]
    sandbox = tests[SANDBOX.split(" (")[0]]
    assert sandbox["visibility"] == "hidden" and "file system:" in sandbox["output"]
    assert results["extra_data"]["sandbox"]["file system"]
    assert stat.S_IMODE((root / "submission").stat().st_mode) & 0o007 == 0  # closed to the workers' uids


def test_a_broken_submission_loses_its_points_with_a_reason_and_no_hidden_values(autograder_zip, tmp_path):
    root = lay_out(autograder_zip, tmp_path / "autograder", {"tiny.py": BROKEN})
    results = run_autograder(root)
    tests = by_name(results)
    assert results["score"] == 0 and results["output"] == ""
    failed = tests["test_doubles"]
    assert failed["status"] == "failed" and failed["score"] == 0 and failed["max_score"] == 1
    assert "Hint: multiply by two" in failed["output"] and "Traceback" not in failed["output"]


def test_a_run_cut_short_still_reports_every_point(tmp_path):
    results = GradescopeResults(tmp_path / "results.json", "tiny", max_score=3.0)
    results.write()
    assert valid(json.loads(results.path.read_text()))["tests"][0]["max_score"] == 3  # nothing ran yet
    results.add(TestResult("test_doubles", "doubling", 1.0, 1.0, "passed", doc="double([1, 2]) is [2, 4]."))
    written = valid(json.loads(results.path.read_text()))  # as a killed run leaves it
    assert [t["name"] for t in written["tests"]] == ["test_doubles (doubling)", NOT_RUN]
    assert written["tests"][1]["max_score"] == 2 and written["score"] == 1
    assert written["extra_data"]["finished"] is False and "did not finish" in written["output"]


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="the fallback's uid drop needs root, and setpriv (util-linux) to drop CAP_SYS_ADMIN")
def test_without_cap_sys_admin_the_reference_stays_unreadable_and_grading_proceeds(autograder_zip, tmp_path):
    from test_sandbox_fallback import NO_SYS_ADMIN, ancestors_closed_to_others, permission_lock, permissions

    # the workers (another uid) must reach the interpreter and the zip's datasets/, as in Gradescope's
    # container (/usr, /opt, /autograder); pytest's own temporary folders are closed to others
    base = Path(os.environ.get("TMPDIR", "/tmp")) / f"nnzoo-gradescope-{os.getpid()}"
    home = tmp_path / "home"  # the grader's home folder: closed, as /root is
    home.mkdir(mode=0o700)
    try:
        base.mkdir(mode=0o711)
        root = lay_out(autograder_zip, base / "autograder", {"tiny.py": PRYING})
        # unpacked closed to others (as an unzip under a strict umask leaves it): opened where the workers read
        os.chmod(root / "source" / "nnzoo" / "datasets" / "transfer_pretrained.pt", 0o600)
        os.chmod(root / "source" / "nnzoo" / "datasets", 0o700)
        with permission_lock(), permissions(enter=ancestors_closed_to_others()):
            results = run_autograder(root, prefix=tuple(NO_SYS_ADMIN), HOME=str(home))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert results["extra_data"]["sandbox"]["file system"].startswith("FALLBACK"), results["extra_data"]
    assert "refusal" not in results["extra_data"], results["extra_data"]["refusal"]
    assert results["score"] == 3, results["tests"]
