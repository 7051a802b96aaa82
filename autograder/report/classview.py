"""How a class did, as numbers for the overview page: scores, pass rates, the failures most
students hit, who needs a look (grader errors, flagged code), and the time grading took.

Students who handed nothing in for an assignment are listed as "not submitted" and kept
out of its scores, pass rates and failures.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

from autograder.export.grades import max_scores
from autograder.judge.result import StudentRecord

#: The failure messages listed per assignment, most frequent first.
TOP_FAILURES = 8
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?", re.IGNORECASE)


def failure_key(message: str) -> str:
    """What makes two failures "the same": the first line, with its numbers left out (one
    student's accuracy 0.61 and another's 0.58 are the same failure)."""
    first = message.strip().splitlines()[0] if message.strip() else "(no message)"
    return _NUMBER.sub("#", first)


@dataclass
class TestRate:
    name: str
    property: str
    passed: int = 0
    graded: int = 0

    @property
    def percent(self) -> float:
        return 100.0 * self.passed / self.graded if self.graded else 0.0


@dataclass
class FrequentFailure:
    example: str  # the first line of one student's message
    tests: list[str] = field(default_factory=list)
    students: set[str] = field(default_factory=set)


@dataclass
class AssignmentStats:
    name: str
    max_score: float
    scores: list[float] = field(default_factory=list)  # submitted students only
    not_submitted: list[str] = field(default_factory=list)
    tests: list[TestRate] = field(default_factory=list)
    failures: list[FrequentFailure] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return statistics.mean(self.scores) if self.scores else 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.scores) if self.scores else 0.0

    @property
    def full_marks(self) -> int:
        return sum(s >= self.max_score for s in self.scores)


@dataclass
class Flag:
    """A student × assignment that needs a person's look."""

    student: str
    assignment: str
    detail: str


@dataclass
class ClassView:
    students: int
    assignments: list[AssignmentStats]
    grader_errors: list[Flag]
    flagged: list[Flag]
    slowest: list[Flag]  # detail: the seconds, formatted

    @property
    def seconds(self) -> float:
        return sum(sum(a.seconds) for a in self.assignments)

    @classmethod
    def of(cls, records: Sequence[StudentRecord], assignments: Sequence[str]) -> "ClassView":
        maxima = max_scores(records, assignments)
        stats = [_assignment(a, maxima[a], records) for a in assignments]
        errors, flagged, timed = [], [], []
        for r in records:
            for a in assignments:
                result = r.assignments.get(a)
                if result is None:
                    continue
                for t in result.errors:
                    errors.append(Flag(r.student, a, f"{t.name}: {t.message.splitlines()[0] if t.message else ''}"))
                if result.scan:
                    flagged.append(Flag(r.student, a, "; ".join(result.scan)))
                if result.seconds:
                    timed.append((result.seconds, r.student, a))
        slowest = [Flag(s, a, f"{sec:.1f} s") for sec, s, a in sorted(timed, reverse=True)[:5]]
        return cls(len(records), stats, errors, flagged, slowest)


def _assignment(name: str, maximum: float, records: Sequence[StudentRecord]) -> AssignmentStats:
    stats = AssignmentStats(name, maximum)
    rates: dict[str, TestRate] = {}
    failures: dict[str, FrequentFailure] = {}
    for r in records:
        result = r.assignments.get(name)
        if result is None or not result.submitted:
            stats.not_submitted.append(r.student)
            continue
        stats.scores.append(result.score)
        if result.seconds:
            stats.seconds.append(result.seconds)
        for t in result.tests:
            rate = rates.setdefault(t.name, TestRate(t.name, t.property))
            rate.graded += 1
            rate.passed += t.passed
            if not t.passed:
                failure = failures.setdefault(failure_key(t.message), FrequentFailure(t.message.strip().split("\n")[0]))
                failure.students.add(r.student)
                if t.name not in failure.tests:
                    failure.tests.append(t.name)
    stats.tests = list(rates.values())
    counts = Counter({key: len(f.students) for key, f in failures.items()})
    stats.failures = [failures[key] for key, _ in counts.most_common(TOP_FAILURES)]
    return stats
