"""The judge's reference cache: a repeated reference probe answers from the cache, as a copy,
with torch's RNG left where the real run left it; and a changed reference is never served
from a judge that graded with the old one (the cache is keyed on the grader fingerprint)."""

from __future__ import annotations

import torch

from autograder.judge.reference import CachedReference, copy_result, request_key
from autograder.judge.run import grade_source, reference_for
from autograder.judge.subject import LocalSubject
from autograder.worker.limits import SandboxLimits
from autograder.worker.spec import Build, ProbeRequest

X = torch.arange(6.0, dtype=torch.float64).reshape(2, 3)


def doubled(reference: CachedReference, x: torch.Tensor = X) -> torch.Tensor:
    return reference.run("run", call="double", args=(x,), grad_args=(0,))["input_grads"][0]


def test_a_repeated_request_is_a_hit_and_returns_a_copy(tiny_course):
    reference = CachedReference(LocalSubject.from_file(tiny_course / "solutions" / "tiny" / "tiny.py"))
    first = doubled(reference)
    expected = first.clone()
    first.add_(100)  # a check that changes its result changes nothing cached
    assert torch.equal(doubled(reference), expected)
    assert (reference.stats.hits, reference.stats.misses) == (1, 1)


def test_a_hit_leaves_the_rng_where_the_real_run_left_it(tiny_course):
    reference = CachedReference(LocalSubject.from_file(tiny_course / "solutions" / "tiny" / "tiny.py"))
    reference.run("run", call="double", args=(X,), seed=7)
    after_run = torch.rand(3)
    torch.manual_seed(123)
    reference.run("run", call="double", args=(X,), seed=7)
    assert reference.stats.hits == 1 and torch.equal(torch.rand(3), after_run)


def test_the_key_tells_apart_what_the_result_depends_on():
    base = ProbeRequest("run", {"model": Build("MLP", 2, [4], 3), "args": (X,)}, seed=0)
    assert request_key(base) == request_key(ProbeRequest("run", {"model": Build("MLP", 2, [4], 3), "args": (X.clone(),)}))
    for other in (ProbeRequest("run", {"model": Build("MLP", 2, [5], 3), "args": (X,)}),
                  ProbeRequest("run", {"model": Build("MLP", 2, [4], 3), "args": (X.float(),)}),
                  ProbeRequest("run", {"model": Build("MLP", 2, [4], 3), "args": (X + 1,)}),
                  ProbeRequest("run", {"model": Build("MLP", 2, [4], 3), "args": (X,)}, seed=1),
                  ProbeRequest("run", {"model": Build("MLP", 2, [4], 3), "args": (X,)}, forbid=("torch.relu",))):
        assert request_key(other) != request_key(base)
    assert request_key(ProbeRequest("run", {"args": (object(),)})) is None  # not described: run, never cached


def test_a_changed_reference_is_imported_anew(tiny_course):
    student = "def double(x):\n    return 2 * x\n"
    assert grade_source(student, "tiny", SandboxLimits()).score == 3
    held = reference_for("tiny")
    path = tiny_course / "solutions" / "tiny" / "tiny.py"
    path.write_text(path.read_text().replace("return 2 * x", "return 3 * x"))
    assert reference_for("tiny") is not held
    assert grade_source(student, "tiny", SandboxLimits()).score == 1  # only the hard-coded [2, 4] test passes


def test_a_copied_result_shares_nothing_and_keeps_what_it_was():
    leaf = torch.ones(2, requires_grad=True)
    result = {"out": [torch.arange(3), (leaf, 2.5, "s", None, torch.float64)], "set": {1, 2}}
    copied = copy_result(result)
    assert copied["set"] == {1, 2} and copied["set"] is not result["set"]  # deep-copied
    out, (grad_leaf, number, text, none, dtype) = copied["out"]
    assert torch.equal(out, torch.arange(3)) and out.data_ptr() != result["out"][0].data_ptr()
    assert grad_leaf.requires_grad and grad_leaf.is_leaf and grad_leaf.data_ptr() != leaf.data_ptr()
    assert (number, text, none, dtype) == (2.5, "s", None, torch.float64)
    assert type(copied["out"][1]) is tuple and type(copied["out"]) is list
