"""The gnn public tests tell the truth (issue 13): they pass on the reference and on every
correct submission, at least one of them fails on every broken submission in
`tests/submissions/gnn/`, and the first one that fails names a property the submission's
declared bug breaks (a property of one of the hidden tests it loses) — so its hint points at
the bug that is there.

Each submission's public tests run once, in this process, as `pytest assignments/gnn` would
run them for a student (the submission copied beside the public tests as `gnn.py`)."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from autograder.course import assignment
from autograder.judge.run import run_tests
from autograder.worker.probes import PROBES
from test_grader_bites import declared  # tests/ is on sys.path (pytest prepends it)

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = ROOT / "assignments" / "gnn" / "test_gnn.py"
SUBMISSIONS = sorted((ROOT / "tests" / "submissions" / "gnn").glob("*.py"))
BROKEN = [p for p in SUBMISSIONS if declared(p)[0] == "broken"]
CORRECT = [p for p in SUBMISSIONS if declared(p)[0] == "correct"]


def hidden_properties() -> dict[str, str]:
    """test name → the `property` marker of each hidden test."""
    found = {}
    for node in ast.parse(assignment("gnn").hidden_tests.read_text()).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and getattr(deco.func, "attr", "") == "property":
                    found[node.name] = deco.args[0].value
    return found


def public_results(source: Path, where: Path) -> list:
    """The public tests' results on `source`, in file order (the probe registry restored
    afterwards: a forged submission replaces probes in this process)."""
    folder = where / source.stem
    folder.mkdir()
    shutil.copy(PUBLIC, folder / PUBLIC.name)
    shutil.copy(source, folder / "gnn.py")
    saved = dict(PROBES)
    try:
        return run_tests(folder / PUBLIC.name, None, autoload=False)
    finally:
        PROBES.clear()
        PROBES.update(saved)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[Path, list]:
    where = tmp_path_factory.mktemp("public_gnn")
    return {path: public_results(path, where) for path in [assignment("gnn").reference, *CORRECT, *BROKEN]}


def test_public_tests_pass_on_the_reference_and_every_correct_submission(results):
    for path in [assignment("gnn").reference, *CORRECT]:
        outcome = results[path]
        assert outcome and all(r.status == "passed" for r in outcome), (path.stem, [(r.name, r.message) for r in outcome if r.status != "passed"])


def test_public_tests_catch_every_broken_submission_first_by_its_property(results):
    properties = hidden_properties()
    missed, misleading = [], []
    for path in BROKEN:
        failed = [r for r in results[path] if r.status != "passed"]
        if not failed:
            missed.append(path.stem)
            continue
        lost = {properties[name] for name in declared(path)[1]}
        if failed[0].property not in lost:
            misleading.append(f"{path.stem}: first public failure {failed[0].name} ({failed[0].property}), declared {sorted(lost)}")
    assert not missed, f"no public test fails on {missed}"
    assert not misleading, misleading
