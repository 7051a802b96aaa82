"""Which surviving mutants are equivalent — the rule, decided in order:

1. **Never equivalent by SPEC** (`Mutant.spec_observable`): a public function or method
   that ignores one of its parameters (docs/spec.md §3: "every argument named in this SPEC changes
   the behaviour it describes"), and a squeezed return value (docs/spec.md §3: "every `(B, ...)`
   output also for B = 1").  A survivor of these is a gap in the tests by definition.
2. **Not reached**: no probe call of the hidden tests runs the mutated lines.  The tests
   cannot tell, but neither can we: the code may be dead, or a case (a flag, a branch)
   no test exercises.  Reported as surviving, for a person to judge.
3. **Observably different**: replaying the hidden tests' own calls (`battery.replay`,
   with the tests' inputs and two refills) gives a result that differs from the
   reference's beyond the grader's tolerance.  The mutant breaks the property of the
   test whose call differs; the test does not check what differs, or only on inputs
   that hide it.  Surviving.
4. **Equivalent**: reached, and every replayed result equals the reference's within the
   grader's tolerance.  Nothing SPEC grades through the tests' calls changes — e.g. a
   dead branch the calls pass through, an `eps` far below the tolerance, a reordering.

Sound up to the battery: rule 4 only claims that no input the tests' calls could be given
(values of any size and sign, not other shapes or arguments) tells the mutant apart.
Arguments and shapes are what rules 1–2 keep out of it: an ignored argument or a
squeezed batch is never equivalent, and code no call reaches is never equivalent.
A replay that times out decides nothing: the mutant counts as surviving.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from autograder.selfcheck.battery import Recording, Replay
from autograder.selfcheck.mutants import Mutant

SPEC, UNREACHED, DIFFERS, EQUIVALENT, UNDECIDED = "spec", "unreached", "differs", "equivalent", "undecided"


@dataclass(frozen=True)
class Judgement:
    """The verdict on one surviving mutant.

    Attributes:
        equivalent: it changes nothing SPEC grades (rule 4).
        rule: "spec", "unreached", "differs", "undecided" or "equivalent".
        property: the property it breaks (or "" when equivalent), for the report.
        why: one sentence.
        tests: the tests whose calls reach it (rule 4, 2) or differ (rule 3).
    """

    equivalent: bool
    rule: str
    property: str
    why: str
    tests: tuple[str, ...] = field(default=())


def judge(mutant: Mutant, recording: Recording, replayed: Replay | None) -> Judgement:
    """Apply the rule to a mutant that scored full marks (`replayed`: its replay, made by the
    caller only when rules 1 and 2 do not decide)."""
    properties = recording.properties
    reaching = tuple(sorted({p.test for p in recording.reaching(mutant.lines)}))
    where = f"`{mutant.function}`"
    if mutant.spec_observable:
        kind = "an ignored argument" if mutant.operator == "ignore_argument" else "a squeezed batch of one"
        props = ", ".join(sorted({properties.get(t, t) for t in reaching})) or f"what {where} computes"
        return Judgement(False, SPEC, f"{kind} in {where} ({props})",
                         f"docs/spec.md §3 says grading always checks this, but no test fails on {kind} in {where}", reaching)
    if not reaching:
        return Judgement(False, UNREACHED, f"untested code in {where}",
                         f"no probe call of the hidden tests runs these lines of {where}")
    if replayed is None or replayed.timed_out:
        return Judgement(False, UNDECIDED, f"{where} (replay abandoned)",
                         "the replay of the tests' calls ran out of time: nothing decided", reaching)
    if replayed.differs:
        tests = tuple(sorted(replayed.differs))
        props = ", ".join(sorted({properties.get(t, t) for t in tests}))
        fills = ", ".join(sorted(set(replayed.differs.values())))
        return Judgement(False, DIFFERS, props,
                         f"the calls of {', '.join(tests)} give other results than the reference's (with {fills}), "
                         "yet the tests pass", tests)
    return Judgement(True, EQUIVALENT, "",
                     f"{replayed.compared} replayed results of {', '.join(reaching)} equal the reference's within tolerance",
                     reaching)
