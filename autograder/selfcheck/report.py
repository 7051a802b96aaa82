"""What selfcheck found, per assignment: the records behind the console table and
`selfcheck.json` (its only (de)serialisation is `to_json`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: The goal of issue 12: every variant full marks, and this share of the mutants that are
#: not equivalent killed, on every assignment.
MIN_MUTATION_SCORE = 0.95

KILLED, SURVIVED, EQUIVALENT = "killed", "survived", "equivalent"


@dataclass(frozen=True)
class Failure:
    """A test a candidate failed (or, for the stubs, passed)."""

    test: str
    property: str
    message: str


@dataclass
class VariantOutcome:
    id: str
    transform: str
    description: str
    score: float
    max_score: float
    failures: list[Failure] = field(default_factory=list)
    diff: str = ""

    @property
    def full_marks(self) -> bool:
        return not self.failures


@dataclass
class MutantOutcome:
    """One mutant's fate.

    Attributes:
        status: "killed" (a test the reference passes failed), "survived", or "equivalent".
        killed_by: the tests that failed.
        rule / property / why: for a mutant that scored full marks, the equivalence
            rule that decided it (see `equivalence`), the property it breaks, why.
    """

    id: str
    operator: str
    description: str
    function: str
    lines: list[int]
    status: str
    killed_by: list[str] = field(default_factory=list)
    rule: str = ""
    property: str = ""
    why: str = ""
    diff: str = ""


@dataclass
class TestKills:
    """How one hidden test discriminates: mutants it kills, mutants whose code its calls reach."""

    __test__ = False

    property: str
    kills: int = 0
    reaches: int = 0


@dataclass
class AssignmentReport:
    name: str
    max_score: float = 0.0
    reference_score: float = 0.0
    reference_failures: list[Failure] = field(default_factory=list)
    stub_score: float = 0.0
    stub_passes: list[Failure] = field(default_factory=list)
    variants: list[VariantOutcome] = field(default_factory=list)
    not_applicable: list[str] = field(default_factory=list)
    mutants: list[MutantOutcome] = field(default_factory=list)
    per_test: dict[str, TestKills] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(m.status == status for m in self.mutants)

    @property
    def mutation_score(self) -> float | None:
        """Killed / (mutants − equivalent ones); None when there is nothing to score."""
        scored = len(self.mutants) - self.count(EQUIVALENT)
        return self.count(KILLED) / scored if scored else None

    @property
    def variants_full_marks(self) -> int:
        return sum(v.full_marks for v in self.variants)

    @property
    def goals_met(self) -> bool:
        score = self.mutation_score
        return (self.reference_score == self.max_score and self.stub_score == 0
                and self.variants_full_marks == len(self.variants) and (score is None or score >= MIN_MUTATION_SCORE))

    def to_json(self) -> dict[str, Any]:
        return {
            "max_score": self.max_score,
            "reference": {"score": self.reference_score, "failed": [asdict(f) for f in self.reference_failures]},
            "stubs": {"score": self.stub_score, "passed": [asdict(f) for f in self.stub_passes]},
            "variants": {"total": len(self.variants), "full_marks": self.variants_full_marks,
                         "not_applicable": list(self.not_applicable),
                         "list": [{**asdict(v), "full_marks": v.full_marks} for v in self.variants]},
            "mutation": {"total": len(self.mutants), "killed": self.count(KILLED), "equivalent": self.count(EQUIVALENT),
                         "survived": self.count(SURVIVED), "score": self.mutation_score,
                         "goal": MIN_MUTATION_SCORE},
            "per_test": {name: asdict(t) for name, t in self.per_test.items()},
            "mutants": [asdict(m) for m in self.mutants],
            "problems": list(self.problems),
            "goals_met": self.goals_met,
        }
