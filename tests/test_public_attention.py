"""The public attention tests tell the truth (issue 13), measured on the grader-bites submissions.

Each submission in `tests/submissions/attention/` is dropped next to a copy of
`assignments/attention/test_attention.py` and the public tests run in this process, as a
student runs them (`-m "not trains"`: no broken submission needs the training test to be
caught).  Then:

- every broken submission fails at least one public test, and the FIRST failure names a
  property its bug breaks — the property of one of the hidden tests it declares to lose —
  so the hint points at the bug that is there;
- every correct submission and the reference pass them all.

A forged submission replaces probes in the process it runs in (here: this one); the probe
registry is restored after each run.
"""

from __future__ import annotations

import ast
import re
import shutil
import sys
from pathlib import Path

import pytest

import autograder.worker.probes as probes
from autograder.judge.plugin import NnzooPlugin
from autograder.judge.result import TestResult

ROOT = Path(__file__).parents[1]
PUBLIC = ROOT / "assignments" / "attention" / "test_attention.py"
HIDDEN = ROOT / "solutions" / "attention" / "test_hidden.py"
REFERENCE = ROOT / "solutions" / "attention" / "attention.py"
SUBMISSIONS = sorted((ROOT / "tests" / "submissions" / "attention").glob("*.py"))


def declared_lost(path: Path) -> set[str] | None:
    """The hidden tests a broken submission declares to lose; None for a correct one."""
    first = (ast.get_docstring(ast.parse(path.read_text())) or "").strip().splitlines()[0]
    match = re.match(r"BROKEN: loses ([\w, ]+?) — ", first)
    return None if match is None else {t.strip() for t in match.group(1).split(",")}


def hidden_properties() -> dict[str, str]:
    """Hidden test name → its `@pytest.mark.property(...)`."""
    found = {}
    for node in ast.parse(HIDDEN.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and ast.unparse(deco.func) == "pytest.mark.property":
                    found[node.name] = deco.args[0].value
    return found


def run_public(source: Path, folder: Path, *, stop_at_first_failure: bool) -> list[TestResult]:
    """The public tests run in this process on `source` (as `attention.py` beside them)."""
    folder.mkdir()
    shutil.copy(PUBLIC, folder / "test_attention.py")
    shutil.copy(source, folder / "attention.py")
    plugin = NnzooPlugin()
    saved = dict(probes.PROBES)
    args = [str(folder / "test_attention.py"), "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "--import-mode=importlib",
            "--rootdir", str(folder), "-m", "not trains", "-W", "ignore", "--no-header", "--tb=no"]
    try:
        pytest.main(args + (["-x"] if stop_at_first_failure else []), plugins=[plugin])
    finally:
        probes.PROBES.clear()
        probes.PROBES.update(saved)
        sys.modules.pop("attention", None)
    return plugin.results


@pytest.fixture(scope="module")
def public_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[TestResult]]:
    """One public run per submission (broken ones up to their first failure) and the reference."""
    base = tmp_path_factory.mktemp("public_attention")
    runs = {path.stem: run_public(path, base / path.stem, stop_at_first_failure=declared_lost(path) is not None)
            for path in SUBMISSIONS}
    runs["reference"] = run_public(REFERENCE, base / "reference", stop_at_first_failure=False)
    return runs


BROKEN = [p for p in SUBMISSIONS if declared_lost(p) is not None]
CORRECT = [p for p in SUBMISSIONS if declared_lost(p) is None]


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_first_public_failure_names_a_property_the_bug_breaks(path: Path, public_runs: dict) -> None:
    failed = [r for r in public_runs[path.stem] if r.status != "passed"]
    assert failed, f"{path.name}: every public test passes, yet the hidden tests catch its bug"
    first = failed[0]
    properties = hidden_properties()
    expected = {properties[name] for name in declared_lost(path)}
    assert first.property in expected, (f"{path.name}: first public failure {first.name} is about {first.property!r}, "
                                        f"its bug breaks {sorted(expected)}; message: {first.message}")
    # a forbidden built-in is named by the policy's own message, whatever the test's property;
    # an exception of the student's code by its own (it points at their line, not at a property)
    assert first.message.startswith((f"{first.property}:", "forbidden built-in:", "Your code raised")), \
        f"{path.name}: {first.name}'s message does not name its property: {first.message}"


@pytest.mark.parametrize("path", [*CORRECT, REFERENCE], ids=lambda p: p.parent.name if p == REFERENCE else p.stem)
def test_correct_code_passes_every_public_test(path: Path, public_runs: dict) -> None:
    results = public_runs["reference" if path == REFERENCE else path.stem]
    assert results and all(r.status == "passed" for r in results), [(r.name, r.message) for r in results if r.status != "passed"]
