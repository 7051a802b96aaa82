"""What one student reads: score per assignment, every test, the reason of each failure.

Repeats collapse: when a submission could not run at all (it did not import, was missing),
every test fails for the same reason — that reason is said once, not once per test.
"""

from __future__ import annotations

from typing import Sequence

from autograder.export.grades import number
from autograder.judge.result import AssignmentResult, StudentRecord


def shared_reason(result: AssignmentResult) -> str:
    """The one message every test failed with (a submission that could not run), or ""."""
    messages = {t.message for t in result.tests}
    if len(result.tests) > 1 and len(messages) == 1 and not any(t.passed for t in result.tests):
        return next(iter(messages))
    return ""


def assignment_markdown(name: str, result: AssignmentResult, *, visible: Sequence[str] = ("visible",)) -> list[str]:
    """The lines of one assignment's section (tests whose visibility is not in `visible`
    are counted in the score but not listed)."""
    lines = [f"## {name}: {number(result.score)} / {number(result.max_score)}", ""]
    if not result.submitted:
        lines += ["Not submitted.", ""]
        return lines
    shared = shared_reason(result)
    if shared:
        lines += ["Every test failed for one reason:", *(f"> {line}" for line in shared.splitlines()), ""]
    for t in result.tests:
        if t.visibility not in visible:
            continue
        lines.append(f"- {t.mark} **{t.name}** ({t.property}): {number(t.score)}/{number(t.max_score)}")
        if not t.passed and not shared:
            lines += [f"  > {line}" for line in t.message.splitlines()]
    hidden = sum(1 for t in result.tests if t.visibility not in visible)
    if hidden:
        lines.append(f"- … and {hidden} test{'s' if hidden != 1 else ''} shown after the due date")
    if result.notes:
        lines += ["", "Notes:", *(f"- {n}" for n in result.notes)]
    lines.append("")
    return lines


def feedback_markdown(record: StudentRecord, assignments: Sequence[str], *, visible: Sequence[str] = ("visible",)) -> str:
    """One student's feedback page (Markdown)."""
    lines = [f"# Feedback for {record.student}", ""]
    if record.notes:
        lines += ["About your submission:", *(f"- {n}" for n in record.notes), ""]
    for a in assignments:
        if a in record.assignments:
            lines += assignment_markdown(a, record.assignments[a], visible=visible)
    return "\n".join(lines)
