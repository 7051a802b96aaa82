"""A sixth assignment touches no engine file: a throwaway one, created in a copy of the
course tree (solutions/, assignments/, datasets/ — the engine is the installed package),
is listed, stubbed, released (bundle and nbgrader), graded and selfchecked.

Every step runs the real `nnzoo` command in this process (`nnzoo` of test_gradebook_term).
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import nbformat
import pytest
from conftest import write_tiny_course
from test_gradebook_term import make_class, nnzoo, rows

from autograder import course
from autograder.course.stubs import expected_stub

REPO = Path(__file__).resolve().parents[1]
ENGINE = REPO / "autograder"
NAME = "teacup"  # a name no engine file could know


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the course tree with the throwaway assignment added beside the five."""
    root = tmp_path_factory.mktemp("new-assignment") / "course"
    for folder in ("solutions", "assignments", "datasets"):
        shutil.copytree(REPO / folder, root / folder)
    write_tiny_course(root, NAME, order=6)
    for path in (root / "solutions" / NAME).iterdir():
        path.write_text(path.read_text().replace("tiny", NAME))
    return root


@pytest.fixture
def in_tree(tree: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NNZOO_ROOT", str(tree))
    monkeypatch.chdir(tree)
    return tree


def _code_strings(tree: ast.AST) -> set[str]:
    """The string constants of a module's code (docstrings, which explain, left out)."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings}


def test_no_engine_file_names_an_assignment():
    """(An assignment's own probe module, `worker/probes/<a>.py`, may name its cell kinds.)"""
    names = set(course.names(hidden=True))
    for path in ENGINE.rglob("*.py"):
        if path.stem in names:
            continue
        named = names & _code_strings(ast.parse(path.read_text()))
        assert not named, f"{path.relative_to(REPO)} names {sorted(named)} in its code"


def test_it_is_listed_after_the_five_in_its_order(in_tree):
    assert course.names(hidden=True)[-1] == NAME
    assert len(course.names(hidden=True)) == 6
    assert course.assignment(NAME).title == f"A {NAME} assignment"


def test_nnzoo_stubs_writes_its_stub(in_tree):
    result = nnzoo("stubs")
    assert result.returncode == 0, result.stderr
    stub = in_tree / "assignments" / NAME / f"{NAME}.py"
    assert stub.read_text() == expected_stub(course.assignment(NAME))
    assert "### BEGIN SOLUTION" not in stub.read_text() and "raise NotImplementedError" in stub.read_text()


def test_it_is_released_in_the_bundle_and_as_an_nbgrader_notebook(in_tree, tmp_path):
    assert nnzoo("stubs").returncode == 0
    result = nnzoo("release", "--out", str(tmp_path / "bundle"))
    assert result.returncode == 0, result.stderr
    shipped = tmp_path / "bundle" / "assignments" / NAME
    assert (shipped / f"{NAME}.py").is_file() and (shipped / f"test_{NAME}.py").is_file()
    assert not (tmp_path / "bundle" / "solutions").exists()

    result = nnzoo("release", "--nbgrader", str(tmp_path / "nbcourse"), "-a", NAME)
    assert result.returncode == 0, result.stderr
    notebook = nbformat.read(tmp_path / "nbcourse" / "source" / NAME / f"{NAME}.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in notebook.cells)
    assert "Doubling, the smallest network there is." in text and "What is 2 × 2?" in text


def test_it_is_graded_reference_full_marks_stub_zero(in_tree, tmp_path):
    assert nnzoo("stubs").returncode == 0
    subs = make_class(tmp_path, {
        "ref": {f"{NAME}.py": (in_tree / "solutions" / NAME / f"{NAME}.py").read_text()},
        "stub": {f"{NAME}.py": (in_tree / "assignments" / NAME / f"{NAME}.py").read_text()},
    })
    result = nnzoo("grade", str(subs), "--out", str(tmp_path / "out"), "-a", NAME)
    assert result.returncode == 0, result.stderr
    grades = rows(tmp_path / "out")
    assert float(grades["ref"][NAME]) == 3.0 and float(grades["stub"][NAME]) == 0.0


def test_it_is_selfchecked(in_tree, tmp_path):
    out = tmp_path / "selfcheck"
    result = nnzoo("selfcheck", NAME, "--out", str(out), "--only", "helpers_extracted", "--only", "constant",
                   "--limit", "2")
    assert result.returncode in (0, 1), result.stderr  # 1: a mutant survived (a gap, not an error)
    report = json.loads((out / "selfcheck.json").read_text())
    mine = report["assignments"][NAME]
    assert mine["reference"]["score"] == mine["max_score"] and mine["stubs"]["score"] == 0
    assert mine["variants"]["list"] and all(v["full_marks"] for v in mine["variants"]["list"])
    assert mine["mutation"]["total"] >= 1 and mine["mutation"]["killed"] >= 1
