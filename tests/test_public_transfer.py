"""The transfer assignment's public tests tell the truth: they pass on the reference, and every
broken submission in `tests/submissions/transfer/` fails one of them — the FIRST public failure
naming the property of a hidden test the submission loses (never a hint towards another bug).

Each submission is run the way a student runs the public tests (`pytest` in-process, the
module beside the test file), once, stopping at its first failure.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
import sys
from pathlib import Path

import pytest

from autograder import course
from autograder.judge.plugin import NnzooPlugin
from autograder.worker import probes

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = ROOT / "assignments" / "transfer" / "test_transfer.py"
SUBMISSIONS = sorted((ROOT / "tests" / "submissions" / "transfer").glob("*.py"))
BROKEN = [p for p in SUBMISSIONS if ast.get_docstring(ast.parse(p.read_text())).startswith("BROKEN:")]
CORRECT = [p for p in SUBMISSIONS if ast.get_docstring(ast.parse(p.read_text())).startswith("CORRECT:")]


def hidden_properties() -> dict[str, str]:
    """Hidden test name → its `property` marker."""
    spec = importlib.util.spec_from_file_location("transfer_hidden_for_public", course.assignment("transfer").hidden_tests)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {name: next(m.args[0] for m in fn.pytestmark if m.name == "property")
            for name, fn in vars(module).items() if name.startswith("test_")}


def lost_tests(path: Path) -> set[str]:
    first = ast.get_docstring(ast.parse(path.read_text())).splitlines()[0]
    return {t.strip() for t in re.match(r"BROKEN: loses ([\w, ]+?) — ", first).group(1).split(",")}


def run_public(solution: Path, folder: Path, *args: str) -> list:
    """The public tests on `solution`, as a student runs them; the plugin's results.  A
    submission that replaces the grader's probes in this process (a forged one) gets them
    put back afterwards."""
    folder.mkdir()
    shutil.copy(solution, folder / "transfer.py")
    shutil.copy(PUBLIC, folder / PUBLIC.name)
    saved, modules = dict(probes.PROBES), set(sys.modules)
    plugin = NnzooPlugin()
    try:
        pytest.main([str(folder / PUBLIC.name), "-q", "-p", "no:cacheprovider", "--import-mode=importlib", "--no-header",
                     "-p", "no:randomly", "--rootdir", str(folder), *args], plugins=[plugin])
    finally:
        probes.PROBES.clear()
        probes.PROBES.update(saved)
        for name in set(sys.modules) - modules:
            if name in ("transfer", "test_transfer") or name.endswith(".test_transfer"):
                del sys.modules[name]
    return plugin.results


def test_the_public_tests_pass_on_the_reference(tmp_path):
    results = run_public(course.assignment("transfer").reference, tmp_path / "reference")
    assert results and all(r.status == "passed" for r in results), [(r.name, r.message) for r in results if r.status != "passed"]


@pytest.mark.parametrize("path", CORRECT, ids=lambda p: p.stem)
def test_the_public_tests_pass_on_every_correct_submission(path, tmp_path):
    """Every correct style passes every public test (the transfer experiment, which trains, is left to the reference's run)."""
    results = run_public(path, tmp_path / "correct", "-m", "not trains")
    assert results and all(r.status == "passed" for r in results), [(r.name, r.message) for r in results if r.status != "passed"]


@pytest.fixture(scope="module")
def first_failures(tmp_path_factory) -> dict[str, tuple[str, str] | None]:
    """Every broken submission's first public failure (test, message), or None; one run each."""
    failures = {}
    for path in BROKEN:
        results = run_public(path, tmp_path_factory.mktemp(path.stem) / "transfer", "-x")
        failed = [r for r in results if r.status != "passed"]
        failures[path.stem] = (failed[0].name, failed[0].message) if failed else None
    return failures


def test_every_broken_submission_fails_a_public_test(first_failures):
    missed = sorted(name for name, failure in first_failures.items() if failure is None)
    assert BROKEN and not missed, f"no public test fails on {missed}"


def test_the_first_public_failure_names_a_property_the_submission_loses(first_failures):
    properties = hidden_properties()
    wrong = {}
    for path in BROKEN:
        failure = first_failures[path.stem]
        expected = {properties[name] for name in lost_tests(path)}
        if failure is not None and not any(failure[1].startswith(f"{prop}:") for prop in expected):
            wrong[path.stem] = (failure[0], failure[1].splitlines()[0], sorted(expected))
    assert not wrong, wrong
