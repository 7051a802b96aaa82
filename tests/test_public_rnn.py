"""The rnn public tests tell the truth, measured as a student runs them (in-process, beside
the file): every broken submission in `tests/submissions/rnn/` fails a public test, and its
FIRST public failure names a property its bug breaks (the property of a hidden test it is
declared to lose); the reference and every correct submission pass them all; and the
grader code they rest on ships whole in the student bundle.

One pytest run per submission, stopped at the first failure; the probes a forged
submission replaces are restored after its run.
"""

from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path

import pytest
import torch

import autograder.worker.probes as probes
from autograder.bundle.leaks import leaking_lines, solution_lines
from autograder.judge.plugin import NnzooPlugin
from autograder.judge.result import TestResult

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = sorted((ROOT / "tests" / "submissions" / "rnn").glob("*.py"))
PUBLIC = ROOT / "assignments" / "rnn" / "test_rnn.py"
HIDDEN = ROOT / "solutions" / "rnn" / "test_hidden.py"


def first_line(path: Path) -> str:
    return (ast.get_docstring(ast.parse(path.read_text())) or "").strip().splitlines()[0]


def lost_tests(path: Path) -> set[str]:
    """The hidden tests a BROKEN submission declares it loses."""
    head = first_line(path).removeprefix("BROKEN: loses ").split(" — ")[0]
    return {name.strip() for name in head.split(",")}


def hidden_properties() -> dict[str, str]:
    """Hidden test name → its `property` marker, read from the source."""
    found = {}
    for node in ast.parse(HIDDEN.read_text()).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and getattr(deco.func, "attr", "") == "property":
                    found[node.name] = deco.args[0].value
    return found


def run_public(source: Path, folder: Path, *, until_first_failure: bool, quick: bool = False) -> list[TestResult]:
    """The public tests on `source`, copied as `rnn.py` beside them in `folder`, in this process."""
    folder.mkdir(parents=True)
    shutil.copy(PUBLIC, folder / "test_rnn.py")
    shutil.copy(source, folder / "rnn.py")
    plugin = NnzooPlugin()
    saved = dict(probes.PROBES)
    args = [str(folder / "test_rnn.py"), "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "--import-mode=importlib",
            "-W", "ignore", "--rootdir", str(folder), "-o", "console_output_style=classic"]
    args += ["-x"] if until_first_failure else []
    args += ["-m", "not trains"] if quick else []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: a second thread only adds overhead
    try:
        pytest.main(args, plugins=[plugin])
    finally:  # a forged submission replaced some of them at import
        torch.set_num_threads(threads)
        probes.PROBES.clear()
        probes.PROBES.update(saved)
        for name in ("rnn", "test_rnn"):
            sys.modules.pop(name, None)
    return plugin.results


BROKEN = [p for p in SUBMISSIONS if first_line(p).startswith("BROKEN")]
CORRECT = [p for p in SUBMISSIONS if first_line(p).startswith("CORRECT")]


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_submission_fails_first_on_a_property_it_breaks(path: Path, tmp_path: Path) -> None:
    properties = hidden_properties()
    broken = {properties[name] for name in lost_tests(path)}
    results = run_public(path, tmp_path / path.stem, until_first_failure=True)
    failed = [r for r in results if r.status != "passed"]
    assert failed, f"{path.name}: every public test passes"
    first = failed[0]
    assert first.property in broken, f"{path.name}: first public failure is {first.name} ({first.property}), not one of {sorted(broken)}"
    # a forbidden built-in and an exception of the student's code are named by their own messages
    assert first.message.startswith((f"{first.property}:", "forbidden built-in:", "Your code raised")), first.message


@pytest.mark.parametrize("path", CORRECT, ids=lambda p: p.stem)
def test_correct_submission_passes_every_quick_public_test(path: Path, tmp_path: Path) -> None:
    results = run_public(path, tmp_path / path.stem, until_first_failure=True, quick=True)
    assert results and all(r.status == "passed" for r in results), [(r.name, r.message) for r in results if r.status != "passed"]


def test_reference_passes_every_public_test(tmp_path: Path) -> None:
    results = run_public(ROOT / "solutions" / "rnn" / "rnn.py", tmp_path / "reference", until_first_failure=False)
    assert len(results) >= 10 and all(r.status == "passed" for r in results), [(r.name, r.message) for r in results if r.status != "passed"]
    assert any(r.name.startswith("test_sequence_classifier_learns") for r in results)


def test_the_grader_code_of_the_public_tests_ships_whole_in_the_bundle() -> None:
    """The bundle stubs every grader definition that repeats a solution line; none of the rnn probes may."""
    probes_rnn = ROOT / "autograder" / "worker" / "probes" / "rnn.py"
    assert leaking_lines(probes_rnn.read_text(), solution_lines(ROOT / "solutions")) == []
