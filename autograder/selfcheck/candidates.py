"""The submissions selfcheck grades: the reference, its generated stubs, the correct
variants and the mutants — each a `Candidate` with a student id of its own."""

from __future__ import annotations

from dataclasses import dataclass

from autograder.course.stubs import stub_source
from autograder.selfcheck.mutants import Mutant, mutants_of
from autograder.selfcheck.source import unified_diff
from autograder.selfcheck.variants import variants_of

REFERENCE, STUB, VARIANT, MUTANT = "reference", "stub", "variant", "mutant"


@dataclass(frozen=True)
class Candidate:
    """One generated submission.

    Attributes:
        id: its student id in the grading folder (`variant-aliases`, `mutant-017-constant`).
        kind: "reference", "stub", "variant" or "mutant".
        source: the code graded.
        operator: the transform or mutation operator that made it.
        description: what was rewritten (one line).
        diff: the unified diff against the reference.
        mutant: the mutant's record (site, function, …) for mutants.
    """

    id: str
    kind: str
    source: str
    operator: str = ""
    description: str = ""
    diff: str = ""
    mutant: Mutant | None = None


def spread(mutants: list[Mutant], limit: int | None) -> list[Mutant]:
    """At most `limit` mutants, taken round-robin over the operators (each in source
    order), so a small sample still tries every kind of bug."""
    if limit is None or limit >= len(mutants):
        return mutants
    queues: dict[str, list[Mutant]] = {}
    for m in mutants:
        queues.setdefault(m.operator, []).append(m)
    chosen: list[Mutant] = []
    while len(chosen) < limit:
        for queue in queues.values():
            if queue and len(chosen) < limit:
                chosen.append(queue.pop(0))
    order = {id(m): i for i, m in enumerate(mutants)}
    return sorted(chosen, key=lambda m: order[id(m)])


def build_candidates(name: str, reference: str, *, limit: int | None = None,
                     only: set[str] | None = None) -> tuple[list[Candidate], list[str]]:
    """Every candidate of an assignment `name` whose reference text is `reference`, and
    one line per transform that could not apply."""
    filename = f"{name}.py"
    found = [Candidate("reference", REFERENCE, reference, description="the reference solution"),
             Candidate("stubs", STUB, stub_source(reference), description="the generated stubs")]
    variants, problems = variants_of(reference, only)
    found += [Candidate(f"variant-{v.transform}", VARIANT, v.source, v.transform, v.description,
                        unified_diff(reference, v.source, filename)) for v in variants]
    mutants = spread(mutants_of(reference, only, problems), limit)
    found += [Candidate(f"mutant-{i:03d}-{m.operator}", MUTANT, m.source, m.operator, m.description,
                        unified_diff(reference, m.source, filename), m) for i, m in enumerate(mutants, start=1)]
    return found, problems
