"""The mlp public tests tell the truth: every broken submission in `tests/submissions/mlp/`
fails at least one of them, and its FIRST public failure names a property that its hidden
grading also takes away (no hint pointing at another bug); the reference and every correct
submission pass them all.

The public test functions run in-process, in file order, as `nnzoo test mlp` runs them on a
student's laptop (the same `submission` subject, the same verdicts), but called directly:
one pytest session per submission would cost more than the tests.  A forged submission's
changes to the probe registry are undone after its run.  The `trains` test (the spirals,
the last of the file) runs on the reference, and on a broken submission only where nothing
before it failed (so it can be a first failure only then).
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest
from test_grader_bites import declared

from autograder import course
from autograder.judge.subject import LocalSubject
from autograder.judge.verdict import verdict_for
from autograder.worker.probes import PROBES

MLP = course.assignment("mlp")
SUBMISSIONS = sorted((Path(__file__).parent / "submissions" / "mlp").glob("*.py"))
BROKEN = [p for p in SUBMISSIONS if declared(p)[0] == "broken"]
CORRECT = [p for p in SUBMISSIONS if declared(p)[0] == "correct"]


def hidden_properties() -> dict[str, str]:
    """Hidden test name → its `property(...)` marker, read from the hidden tests' source."""
    found = {}
    for node in ast.parse(MLP.hidden_tests.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                if (isinstance(deco, ast.Call) and isinstance(deco.func, ast.Attribute) and deco.func.attr == "property"
                        and deco.args and isinstance(deco.args[0], ast.Constant)):
                    found[node.name] = deco.args[0].value
    return found


def _marker(fn, name: str):
    return next((m for m in getattr(fn, "pytestmark", []) if m.name == name), None)


def public_tests() -> list:
    """The public test functions, in file order (each takes only the `submission` fixture)."""
    spec = importlib.util.spec_from_file_location("nnzoo_public_tests_mlp", MLP.public_tests)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tests = sorted((fn for name, fn in vars(module).items() if name.startswith("test_") and callable(fn)),
                   key=lambda fn: fn.__code__.co_firstlineno)
    for fn in tests:
        assert fn.__code__.co_varnames[:fn.__code__.co_argcount] == ("submission",), f"{fn.__name__}: only `submission` is provided"
    return tests


def run_public_tests(path: Path, tests: list, *, trains: str) -> list[dict]:
    """The verdict of each public test on the submission at `path`, in order; `trains`:
    "always", "never", or "if-all-passed" for the `trains`-marked tests."""
    registry = dict(PROBES)
    results: list[dict] = []
    try:
        try:
            subject, failure = LocalSubject.from_file(path, "mlp"), None
        except Exception as exc:  # a submission that does not import fails every test
            subject, failure = None, exc
        for fn in tests:
            if _marker(fn, "trains") and (trains == "never" or (trains == "if-all-passed" and any(r["status"] != "passed" for r in results))):
                continue
            exc = failure
            if exc is None:
                forbid = _marker(fn, "forbid")
                subject.forbid = tuple(forbid.args) if forbid else ()  # as the plugin sets it for `nnzoo test`
                try:
                    fn(submission=subject)
                except Exception as raised:
                    exc = raised
            verdict = verdict_for(exc, in_process=True)
            prop = _marker(fn, "property")
            results.append({"name": fn.__name__, "property": prop.args[0] if prop else "", "status": verdict.status, "message": verdict.message})
    finally:
        PROBES.clear()
        PROBES.update(registry)
        sys.modules.pop("mlp", None)
    return results


@pytest.fixture(scope="module")
def public_results() -> dict[Path, list[dict]]:
    tests = public_tests()
    results = {path: run_public_tests(path, tests, trains="if-all-passed") for path in BROKEN}
    results.update({path: run_public_tests(path, tests, trains="never") for path in CORRECT})
    results[MLP.reference] = run_public_tests(MLP.reference, tests, trains="always")
    return results


def failures(results: list[dict]) -> list[dict]:
    return [r for r in results if r["status"] != "passed"]


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_submission_fails_a_public_test_that_names_its_property(path: Path, public_results: dict) -> None:
    failed = failures(public_results[path])
    assert failed, "every public test passed"
    first = failed[0]
    lost = {hidden_properties()[name] for name in declared(path)[1]}
    assert first["property"] in lost, (f"the first public failure, {first['name']} ({first['property']!r}), is not about what the "
                                       f"hidden tests take away: {sorted(lost)}; its message: {first['message']}")
    assert first["message"].startswith((f"{first['property']}:", "Your code raised", "forbidden built-in:")), first["message"]


@pytest.mark.parametrize("path", [*CORRECT, MLP.reference], ids=lambda p: "reference" if p == MLP.reference else p.stem)
def test_correct_code_passes_every_public_test(path: Path, public_results: dict) -> None:
    results = public_results[path]
    assert results and not failures(results), failures(results)
