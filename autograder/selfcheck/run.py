"""One assignment's selfcheck, start to end: candidates → grading → verdicts → report.

Bad input never stops the rest: a transform that cannot apply, a reference that fails
its own tests, a recording that cannot run — each is one line through `say`, and the
check goes on with what remains.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from autograder import course
from autograder.judge.result import AssignmentResult, StudentRecord
from autograder.selfcheck.battery import Recording, load_module, record, replay
from autograder.selfcheck.candidates import (
    MUTANT,
    REFERENCE,
    STUB,
    VARIANT,
    Candidate,
    build_candidates,
)
from autograder.selfcheck.equivalence import judge
from autograder.selfcheck.grading import grade_candidates, write_candidates
from autograder.selfcheck.report import (
    EQUIVALENT,
    KILLED,
    SURVIVED,
    AssignmentReport,
    Failure,
    MutantOutcome,
    TestKills,
    VariantOutcome,
)
from autograder.worker.limits import SandboxLimits


@dataclass(frozen=True)
class SelfcheckOptions:
    """How to run selfcheck.

    Attributes:
        out: the output folder (`selfcheck.json`, and per assignment its candidates and
            their gradebook).
        jobs: candidates graded in parallel (`nnzoo grade -j`).
        limit: at most this many mutants per assignment (a sample over every operator).
        only: only these transforms and mutation operators (empty: all).
        limits: the sandbox limits.
        replay_seconds: time allowed to replay one surviving mutant.
    """

    out: Path
    jobs: int = 1
    limit: int | None = None
    only: frozenset[str] = field(default_factory=frozenset)
    limits: SandboxLimits = SandboxLimits()
    replay_seconds: float = 300.0


def _failures(result: AssignmentResult, names: set[str] | None, passed: bool = False) -> list[Failure]:
    """Tests in `names` (None: all) that failed — or, with `passed`, that passed for points."""
    return [Failure(t.name, t.property, t.message) for t in result.tests
            if (names is None or t.name in names) and (t.passed and t.max_score > 0 if passed else not t.passed)]


def check_assignment(name: str, options: SelfcheckOptions, say: Callable[[str], None] = print,
                     on_graded: Callable[[StudentRecord], None] = lambda record: None,
                     on_candidates: Callable[[int], None] = lambda n: None) -> AssignmentReport:
    """Selfcheck one assignment (`course.UnknownAssignment` when there is none by that name)."""
    assignment = course.assignment(name)
    folder = options.out / name
    reference = assignment.reference.read_text()
    candidates, not_applicable = build_candidates(name, reference, limit=options.limit, only=set(options.only) or None)
    for line in not_applicable:
        say(f"selfcheck {name}: {line}")
    write_candidates(folder / "candidates", name, candidates)
    on_candidates(len(candidates))
    results = grade_candidates(name, candidates, folder / "grading", jobs=options.jobs, limits=options.limits,
                               on_done=on_graded)
    report = AssignmentReport(name, not_applicable=not_applicable)
    ref = results.get("reference")
    if ref is None:
        report.problems.append("the reference could not be graded")
        say(f"selfcheck {name}: the reference could not be graded — nothing to compare with")
        return report
    baseline = {t.name for t in ref.tests if t.passed}
    report.max_score, report.reference_score = ref.max_score, ref.score
    report.reference_failures = _failures(ref, None)
    if report.reference_failures:
        failing = ", ".join(f.test for f in report.reference_failures)
        say(f"selfcheck {name}: the reference fails its own tests ({failing}; {ref.score:g}/{ref.max_score:g}) — "
            "variants and mutants are judged on the tests it passes")
    stub = results.get("stubs")
    if stub is not None:
        report.stub_score, report.stub_passes = stub.score, _failures(stub, None, passed=True)
    recording = _recording(assignment, folder, report, say)
    for c in candidates:
        result = results.get(c.id)
        if result is None:
            if c.kind in (VARIANT, MUTANT):
                report.problems.append(f"{c.id} was not graded")
            continue
        errors = [t.name for t in result.errors if t.name in baseline]
        if errors and c.kind != STUB:
            report.problems.append(f"{c.id}: grader error in {', '.join(errors)}")
        if c.kind == VARIANT:
            report.variants.append(VariantOutcome(c.id, c.operator, c.description, result.score, result.max_score,
                                                  _failures(result, baseline), c.diff))
        elif c.kind == MUTANT:
            report.mutants.append(_mutant_outcome(c, result, baseline, recording, folder / "replay" / c.id, name, options))
    report.per_test = _per_test(ref, report.mutants, recording)
    return report


def _recording(assignment: course.Assignment, folder: Path, report: AssignmentReport,
               say: Callable[[str], None]) -> Recording | None:
    try:
        return record(assignment, folder)
    except Exception as exc:  # noqa: BLE001 — without it, survivors are reported undecided
        line = f"the hidden tests' calls could not be recorded ({type(exc).__name__}: {str(exc)[:200]})"
        report.problems.append(line)
        say(f"selfcheck {assignment.name}: {line} — surviving mutants stay undecided")
        return None


def _mutant_outcome(c: Candidate, result: AssignmentResult, baseline: set[str], recording: Recording | None,
                    folder: Path, assignment: str, options: SelfcheckOptions) -> MutantOutcome:
    """Killed, or judged by the equivalence rule (replayed in `folder` when it must be)."""
    m = c.mutant
    outcome = MutantOutcome(c.id, m.operator, m.description, m.function, list(m.lines), KILLED, diff=c.diff,
                            killed_by=[t.name for t in result.tests if not t.passed and t.name in baseline])
    if outcome.killed_by:
        return outcome
    if recording is None:
        outcome.status, outcome.rule, outcome.why = SURVIVED, "undecided", "the tests' calls could not be recorded"
        return outcome
    replayed = None
    if not m.spec_observable and recording.reaching(m.lines):
        module_name = "nnzoo_selfcheck_" + re.sub(r"\W", "_", f"{assignment}_{c.id}")
        module = load_module(c.source, folder, f"{assignment}.py", module_name)
        replayed = replay(module, recording, m.lines, options.replay_seconds)
    verdict = judge(m, recording, replayed)
    outcome.status = EQUIVALENT if verdict.equivalent else SURVIVED
    outcome.rule, outcome.property, outcome.why = verdict.rule, verdict.property, verdict.why
    return outcome


def _per_test(ref: AssignmentResult, mutants: list[MutantOutcome], recording: Recording | None) -> dict[str, TestKills]:
    table = {t.name: TestKills(t.property) for t in ref.tests}
    for m in mutants:
        for test in m.killed_by:
            if test in table:
                table[test].kills += 1
        if recording is not None:
            reached = {p.test for p in recording.reaching(tuple(m.lines))}
            for name, kills in table.items():
                if name.split("[")[0] in reached:
                    kills.reaches += 1
    return table


__all__ = ["REFERENCE", "SelfcheckOptions", "check_assignment"]
