"""`nnzoo selfcheck` end to end on a throwaway assignment (graded for real in the
sandbox), and its generators on the real references (no grading: fast)."""

from __future__ import annotations

import ast
import json

import pytest
from conftest import write_tiny_course

from autograder import course
from autograder.course.regions import outside
from autograder.selfcheck import RESULTS, SelfcheckOptions, run_selfcheck
from autograder.selfcheck.battery import Recording, Replay
from autograder.selfcheck.equivalence import judge
from autograder.selfcheck.mutants import Mutant, mutants_of
from autograder.selfcheck.report import EQUIVALENT, KILLED
from autograder.selfcheck.variants import TRANSFORMS, variants_of
from autograder.worker.limits import SandboxLimits

#: The tiny reference with an eps far below the grader's tolerance: perturbing it is an
#: equivalent mutant, perturbing the 2.0 is a real bug.
EPS_REFERENCE = '''"""The tiny assignment: double a tensor."""

import torch


def double(x):
    """Twice `x`, elementwise."""
    # Hint: multiply by two.
    ### BEGIN SOLUTION
    scale = 2.0 + 1e-12  # an eps far below the tolerance
    return scale * x
    ### END SOLUTION
'''
LIMITS = SandboxLimits(call_seconds=60)
REAL = course.names(hidden=True)


def _selfcheck(root, names, only, reference=EPS_REFERENCE, limit=None):
    (root / "solutions" / "tiny" / "tiny.py").write_text(reference)
    said = []
    options = SelfcheckOptions(out=root / "selfcheck", only=frozenset(only), limits=LIMITS, limit=limit)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NNZOO_ROOT", str(root))
        reports, unknown = run_selfcheck(names, options, say=said.append)  # a changed reference is imported anew
    return reports, unknown, said


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """One selfcheck of the tiny course: an unknown name first, then `tiny` with the
    `helpers_extracted` and `table` transforms and the `constant` mutants."""
    root = write_tiny_course(tmp_path_factory.mktemp("selfcheck") / "course")
    reports, unknown, said = _selfcheck(root, ["no_such_assignment", "tiny"], {"helpers_extracted", "table", "constant"}, limit=3)
    return root, reports, unknown, said


def test_an_unknown_assignment_is_one_line_and_the_rest_go_on(checked):
    _, reports, unknown, said = checked
    assert unknown == ["no_such_assignment"]
    line = next(s for s in said if "no_such_assignment" in s)
    assert "\n" not in line and "known: tiny" in line
    assert [r.name for r in reports] == ["tiny"]


def test_a_transform_that_cannot_apply_is_one_line(checked):
    _, _, _, said = checked
    line = next(s for s in said if "variant table" in s)
    assert line.startswith("selfcheck tiny: variant table: cannot apply — ") and "\n" not in line


def test_the_reference_scores_full_marks_and_the_stubs_zero(checked):
    report = checked[1][0]
    assert report.reference_score == report.max_score == 3
    assert report.stub_score == 0 and not report.stub_passes


def test_a_correct_variant_scores_full_marks(checked):
    (variant,) = checked[1][0].variants
    assert variant.transform == "helpers_extracted" and variant.full_marks and variant.score == 3
    assert "_double_impl" in variant.diff


def test_a_real_bug_is_killed_and_an_eps_below_tolerance_is_equivalent(checked):
    mutants = {m.description.split(": ", 1)[1]: m for m in checked[1][0].mutants}
    assert mutants["`2.0` → `4.0`"].status == KILLED and mutants["`2.0` → `4.0`"].killed_by
    eps = mutants["`1e-12` → `2e-12`"]
    assert eps.status == EQUIVALENT and eps.rule == "equivalent" and "test_doubles" in eps.why
    assert checked[1][0].mutation_score == 1.0


def test_results_are_written_to_selfcheck_json(checked):
    root, report = checked[0], checked[1][0]
    data = json.loads((root / "selfcheck" / RESULTS).read_text())["assignments"]["tiny"]
    assert data["mutation"]["total"] == len(report.mutants) and data["variants"]["full_marks"] == 1
    assert (root / "selfcheck" / "tiny" / "grading" / "grades.csv").is_file()


def test_a_reference_failing_its_own_tests_is_one_line_and_the_rest_go_on(tmp_path):
    root = write_tiny_course(tmp_path / "course")
    broken = EPS_REFERENCE.replace("scale = 2.0 + 1e-12", "scale = 3.0")
    (report,), _, said = _selfcheck(root, ["tiny"], {"helpers_extracted"}, reference=broken)
    line = next(s for s in said if "reference fails" in s)
    assert "test_doubles" in line and "\n" not in line
    assert report.variants and report.variants[0].full_marks  # judged on the tests the reference passes


# -- the generators on the real references (no grading) -----------------------------------

@pytest.mark.parametrize("assignment", REAL)
def test_every_transform_applies_or_says_why(assignment):
    text = course.assignment(assignment).reference.read_text()
    made, problems = variants_of(text)
    assert len(made) + len(problems) == len(TRANSFORMS)
    assert all("\n" not in p and "cannot apply" in p for p in problems), problems
    for v in made:
        ast.parse(v.source)


@pytest.mark.parametrize("assignment", REAL)
def test_mutants_change_only_solution_code(assignment):
    text = course.assignment(assignment).reference.read_text()
    mutants = mutants_of(text)
    assert len(mutants) > 20
    assert all(outside(m.source) == outside(text) and m.source != text for m in mutants)
    assert len({m.source for m in mutants}) == len(mutants)


def test_an_ignored_argument_is_never_equivalent():
    mutant = Mutant("ignore_argument", "line 3: `seed` ignored", "", (3,), "train", spec_observable=True)
    verdict = judge(mutant, Recording([], [], None), Replay(reached=True, compared=9))
    assert not verdict.equivalent and verdict.rule == "spec"
