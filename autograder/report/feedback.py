"""What one student reads: score per assignment, every test, the reason of each failure.

Repeats collapse: when a submission could not run at all (it did not import, was missing),
every test fails for the same reason — that reason is said once, not once per test; a
reason some tests share (a missing function, one exception) is said at the first of them,
and the others point to it.

Visibility (the `visibility` marker of a hidden test): a `hidden` test is never listed, an
`after_due_date` one only once the assignment's due date — or its late window — has
passed (`course.term`); both count in the score.  A late penalty is said with the score.
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from autograder.course.term import Lateness, Term
from autograder.export.grades import grade, number
from autograder.judge.result import AssignmentResult, StudentRecord
from autograder.judge.shown import printable


def as_text(line: str) -> str:
    r"""`line` shown as written in any Markdown viewer: no raw HTML (`<img src=…>` a beacon, a
    `<script>`), no control characters — messages and notes quote the student's code.

    >>> as_text("<img src=x> & \x1b[2J") == "&lt;img src=x> &amp; \ufffd[2J"
    True
    """
    return printable(line).replace("&", "&amp;").replace("<", "&lt;")


def shared_reason(result: AssignmentResult) -> str:
    """The one message every test failed with (a submission that could not run), or ""."""
    messages = {t.message for t in result.tests}
    if len(result.tests) > 1 and len(messages) == 1 and not any(t.passed for t in result.tests):
        return next(iter(messages))
    return ""


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' if n != 1 else ''}"


def assignment_markdown(name: str, result: AssignmentResult, *, visible: Sequence[str] = ("visible",),
                        lateness: Lateness = Lateness()) -> list[str]:
    """The lines of one assignment's section (tests whose visibility is not in `visible`
    are counted in the score but not listed)."""
    penalty = lateness.penalty(result.score)
    lines = [f"## {name}: {number(result.score - penalty)} / {number(result.max_score)}", ""]
    if not result.submitted:
        lines += ["Not submitted.", ""]
        return lines
    if penalty or lateness.fraction:
        when = lateness.submitted_at.isoformat(timespec="minutes") if lateness.submitted_at else "?"
        due = lateness.due.isoformat(timespec="minutes") if lateness.due else "?"
        lines += [f"Handed in {when}, due {due} — {lateness.reason}: {number(result.score)} − {number(penalty)} "
                  f"= {number(result.score - penalty)} points.", ""]
    shared = shared_reason(result)
    if shared:
        lines += ["Every test failed for one reason:", *(f"> {as_text(line)}" for line in shared.splitlines()), ""]
    first: dict[str, str] = {}  # a reason → the first listed test that failed for it
    for t in result.tests:
        if t.visibility not in visible:
            continue
        lines.append(f"- {t.mark} **{t.name}** ({t.property}): {number(t.score)}/{number(t.max_score)}")
        if t.passed or shared:
            continue
        if t.message in first:
            lines.append(f"  > the same reason as {first[t.message]} (above)")
        else:
            first[t.message] = t.name
            lines += [f"  > {as_text(line)}" for line in t.message.splitlines()]
    later = sum(1 for t in result.tests if t.visibility not in visible and t.visibility == "after_due_date")
    hidden = sum(1 for t in result.tests if t.visibility not in visible and t.visibility != "after_due_date")
    if later:
        lines.append(f"- … and {_count(later, 'test')} shown after the due date")
    if hidden:
        lines.append(f"- … and {_count(hidden, 'hidden test')} (counted in the score, not shown)")
    if result.notes:
        lines += ["", "Notes:", *(f"- {as_text(n)}" for n in result.notes)]
    lines.append("")
    return lines


def feedback_markdown(record: StudentRecord, assignments: Sequence[str], *, visible: Sequence[str] | None = None,
                      term: Term | None = None, now: datetime | None = None) -> str:
    """One student's feedback page (Markdown).

    `visible`: the test visibilities listed, for every assignment; by default those the
    term lets a student see at `now` (`Term.visible`).  `term` also gives the late penalty."""
    term = term or Term()
    lines = [f"# Feedback for {record.student}", ""]
    if record.notes:
        lines += ["About your submission:", *(f"- {as_text(n)}" for n in record.notes), ""]
    for a in assignments:
        if a in record.assignments:
            shown = visible if visible is not None else term.visible(a, now, record.student)
            lines += assignment_markdown(a, record.assignments[a], visible=shown, lateness=grade(record, a, term).lateness)
    return "\n".join(lines)
