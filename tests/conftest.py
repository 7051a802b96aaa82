"""Shared fixtures of the framework's own tests."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

#: The seeds of the robustness experiments (weights, batches): two in `make test`, ten in
#: `make experiments` (NNZOO_SEEDS=10), whose last results are recorded in docs/experiments.md.
ROBUSTNESS_SEEDS = range(int(os.environ.get("NNZOO_SEEDS", "2")))

TINY_REFERENCE = '''"""The tiny assignment: double a tensor."""

import torch


def double(x):
    """Twice `x`, elementwise.

    Shape: `(*) -> (*)`, x's dtype.

    Example:
        >>> double(torch.tensor([1.0, 2.0]))
        tensor([2., 4.])
    """
    # Hint: multiply by two.
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION
'''

TINY_HIDDEN = '''"""Hidden tests of the tiny assignment."""

import pytest
import torch

from autograder import checks


@pytest.mark.points(1)
@pytest.mark.property("doubling")
def test_doubles(submission):
    """double([1, 2]) is [2, 4]."""
    out = submission.run("run", call="double", args=(torch.tensor([1.0, 2.0]),), backward=False)["output"]
    checks.expect_close(out, torch.tensor([2.0, 4.0]), "double([1, 2])", "doubling", hint="multiply by two")


@pytest.mark.points(2)
@pytest.mark.property("gradients")
def test_doubles_like_the_reference(reference, submission):
    """Outputs and gradients equal the reference's."""
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    checks.matches_reference(submission, reference, model=None, call="double", inputs=[(x,)], prop="gradients",
                             hint="use torch operations")
'''

TINY_PUBLIC = '''"""Public tests of the tiny assignment."""

import pytest
import torch

from autograder import checks


@pytest.mark.points(1)
@pytest.mark.property("doubling")
@pytest.mark.timeout(10)
def test_doubles(submission):
    """double([1]) is [2]."""
    out = submission.run("run", call="double", args=(torch.tensor([1.0]),), backward=False)["output"]
    checks.expect_close(out, torch.tensor([2.0]), "double([1])", "doubling", hint="multiply by two")
'''

TINY_CONTENT = '''title = "A tiny assignment"
order = 99
intro = \'\'\'
Doubling, the smallest network there is.
\'\'\'

[[questions]]
id = "q1"
prompt = "What is 2 × 2?"
answer = "b"
[questions.choices]
a = "3"
b = "4"
'''


@pytest.fixture(scope="session", autouse=True)
def session_temporary_files() -> Iterator[None]:
    """This session's `tempfile` files in a folder of their own, removed at its end.

    PyG writes the generated `propagate` of every `MessagePassing` class it meets to a
    temporary file it never deletes (a few hundred per session).  The folder is
    world-writable and sticky like /tmp, for the sandboxed workers' unprivileged uids."""
    folder = tempfile.mkdtemp(prefix="nnzoo-tests-")
    os.chmod(folder, 0o1777)
    tempfile.tempdir = folder
    try:
        yield
    finally:
        tempfile.tempdir = None
        shutil.rmtree(folder, ignore_errors=True)


def write_tiny_course(root: Path, name: str = "tiny", order: int = 99) -> Path:
    """Add a throwaway assignment `name` (doubling, as `tiny`) to the course at `root`."""
    (root / "solutions" / name).mkdir(parents=True)
    (root / "solutions" / name / f"{name}.py").write_text(TINY_REFERENCE)
    (root / "solutions" / name / "test_hidden.py").write_text(TINY_HIDDEN)
    (root / "solutions" / name / "assignment.toml").write_text(TINY_CONTENT.replace("order = 99", f"order = {order}"))
    (root / "assignments" / name).mkdir(parents=True)
    (root / "assignments" / name / f"test_{name}.py").write_text(TINY_PUBLIC)
    return root


@pytest.fixture
def tiny_course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """NNZOO_ROOT pointed at a course with only the `tiny` assignment (stubs not yet made)."""
    root = write_tiny_course(tmp_path / "course")
    monkeypatch.setenv("NNZOO_ROOT", str(root))
    return root


@pytest.fixture
def two_tiny_assignments(tiny_course: Path) -> Path:
    """The tiny course with a second throwaway assignment, `teeny` (graded after `tiny`)."""
    return write_tiny_course(tiny_course, "teeny", order=100)
