"""The stubs are generated from the reference, and the committed ones are in sync."""

import pytest

from autograder import course
from autograder.course.stubs import expected_stub, stub_source


@pytest.mark.parametrize("assignment", course.assignments(hidden=True), ids=lambda a: a.name)
def test_committed_stubs_match_the_reference(assignment):
    assert assignment.stub.read_text() == expected_stub(assignment), (
        f"assignments/{assignment.name}/{assignment.name}.py is out of sync with solutions/: run `nnzoo stubs`"
    )


@pytest.mark.parametrize("assignment", course.assignments(hidden=True), ids=lambda a: a.name)
def test_stubs_hold_no_solution_code(assignment):
    stub = assignment.stub.read_text()
    assert "### BEGIN SOLUTION" not in stub and "raise NotImplementedError(" in stub


def test_region_becomes_raise_with_the_hint_above_it():
    reference = "def f(x):\n    # Hint: add one.\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n"
    assert stub_source(reference) == "def f(x):\n    # Hint: add one.\n    raise NotImplementedError('add one.')\n"


@pytest.mark.parametrize("broken", ["### BEGIN SOLUTION\nx = 1\n", "x = 1\n### END SOLUTION\n",
                                    "### BEGIN SOLUTION\n### BEGIN SOLUTION\n"])
def test_unbalanced_markers_are_an_error(broken):
    with pytest.raises(ValueError):
        stub_source(broken)
