"""The term: due dates and the late policy, from `nnzoo.toml` at the course root.

    timezone = "Europe/Berlin"          # dates written without an offset (default "UTC")

    [late]                               # every assignment's policy unless it says otherwise
    grace_minutes = 15                   # handed in up to 15 min after the due date: on time
    percent_per_day = 10                 # of the raw score, per started day late
    max_percent = 50                     # never more than this is deducted

    [assignments.mlp]
    due = 2026-10-20T23:59:00            # a TOML date-time, a string, or a date (end of that day)
    late_until = 2026-10-27T23:59:00     # optional: later work scores 0; `after_due_date` tests
                                         # are shown once this has passed (else once `due` has)
    percent_per_day = 20                 # optional: this assignment's own policy
    lms_column = "MLPs (123456)"         # optional: its column in LMS exports (default: its
                                         # title); Canvas matches an existing assignment by
                                         # "Name (assignment id)"
    questions = true                     # optional: its conceptual questions count (default:
                                         # false; the nbgrader route always counts them) —
                                         # every student then gets them, answered or not

    [assignments.mlp.extensions]         # optional: a student's own due date (the id as in
    bob = 2026-10-23T23:59:00            # grades.csv); their late window moves with it

An assignment without `due` is never late.  The record keeps what was handed in when
(`AssignmentResult.submitted_at`, a fact of the submission); the penalty is worked out
from this file whenever grades are written, so changing the policy or granting an
extension needs no regrading — `nnzoo grade ... --resume` rewrites the grade files.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from autograder.course import project_root

FILENAME = "nnzoo.toml"
POLICY_KEYS = ("grace_minutes", "percent_per_day", "max_percent")
ASSIGNMENT_KEYS = ("due", "late_until", *POLICY_KEYS, "lms_column", "extensions", "questions")
DAY = timedelta(days=1)


class TermError(ValueError):
    """`nnzoo.toml` cannot be used (the message names the file, the key and the fix)."""


@dataclass(frozen=True)
class LatePolicy:
    """How late work is marked down: `percent_per_day` of the raw score per started day
    after the due date (work within `grace_minutes` of it is on time), at most `max_percent`."""

    grace_minutes: float = 0.0
    percent_per_day: float = 0.0
    max_percent: float = 100.0


@dataclass(frozen=True)
class Lateness:
    """How late one assignment was handed in, and what that costs.

    Attributes:
        submitted_at / due: the times compared (None when unknown / when there is no due date).
        days: started days late after the grace period (0: on time).
        fraction: share of the raw score deducted (0 … 1).
        reason: why, in words, for the feedback and the grade files ("" when on time).
    """

    submitted_at: datetime | None = None
    due: datetime | None = None
    days: int = 0
    fraction: float = 0.0
    reason: str = ""

    def penalty(self, raw: float) -> float:
        """The points deducted from a raw score."""
        return raw * self.fraction


@dataclass(frozen=True)
class Deadline:
    """One assignment's due date, end of the late window, policy, and students' extensions."""

    due: datetime | None = None
    late_until: datetime | None = None
    policy: LatePolicy = LatePolicy()
    extensions: dict[str, datetime] = field(default_factory=dict)

    def for_student(self, student: str) -> "Deadline":
        """The deadline of one student: their extension's due date, the late window moved with it."""
        if student not in self.extensions:
            return self
        due = self.extensions[student]
        until = self.late_until + (due - self.due) if self.late_until and self.due else None
        return Deadline(due, until, self.policy)

    def lateness(self, submitted_at: datetime | None) -> Lateness:
        if self.due is None or submitted_at is None:
            return Lateness(submitted_at, self.due)
        if self.late_until is not None and submitted_at > self.late_until:
            return Lateness(submitted_at, self.due, max(1, math.ceil((submitted_at - self.due) / DAY)), 1.0,
                            f"handed in after the late window closed ({_show(self.late_until)})")
        late = submitted_at - self.due
        if late <= timedelta(minutes=self.policy.grace_minutes):
            return Lateness(submitted_at, self.due)
        days = math.ceil(late / DAY)
        percent = min(self.policy.max_percent, self.policy.percent_per_day * days)
        return Lateness(submitted_at, self.due, days, percent / 100,
                        f"{days} day{'s' if days != 1 else ''} late: −{percent:g}%")

    @property
    def reveal(self) -> datetime | None:
        """When `after_due_date` tests are shown: after the late window, else after the due date."""
        return self.late_until or self.due


@dataclass(frozen=True)
class Term:
    """Due dates and late policies of the course (no file: nothing is ever late).

    Attributes:
        deadlines: assignment → its deadline (assignments not listed have none).
        zone: the time zone of dates written without an offset.
        path: the file read ("" when there was none).
        lms_columns: assignment → its column name in LMS exports (where the file sets one).
        default: the `[late]` policy, for assignments whose due date comes from elsewhere
            (Gradescope's, on that route).
        questions: the assignments whose conceptual questions count (the course decides,
            never a student's notebook: one that answers them must not raise what the
            assignment is worth for the class).
    """

    deadlines: dict[str, Deadline] = field(default_factory=dict)
    zone: str = "UTC"
    path: str = ""
    lms_columns: dict[str, str] = field(default_factory=dict)
    default: LatePolicy = LatePolicy()
    questions: frozenset[str] = frozenset()

    def deadline(self, assignment: str, student: str = "") -> Deadline:
        """`assignment`'s deadline (of `student`, with their extension)."""
        return self.deadlines.get(assignment, Deadline(policy=self.default)).for_student(student)

    def lateness(self, assignment: str, submitted_at: str | datetime | None, student: str = "") -> Lateness:
        """The lateness of `assignment` handed in at `submitted_at` (ISO text as recorded)."""
        when = parse_time(submitted_at, self.zone) if isinstance(submitted_at, str) and submitted_at else None
        return self.deadline(assignment, student).lateness(submitted_at if isinstance(submitted_at, datetime) else when)

    def visible(self, assignment: str, now: datetime | None = None, student: str = "") -> tuple[str, ...]:
        """The test visibilities a student may see now: `after_due_date` tests once the
        assignment's late window (or due date) has passed; `hidden` tests never."""
        reveal = self.deadline(assignment, student).reveal
        now = now or datetime.now(timezone.utc)
        return ("visible", "after_due_date") if reveal is not None and now >= reveal else ("visible",)

    def unknown(self, assignments: list[str]) -> list[str]:
        """Assignments named in the file that the course does not have (typos)."""
        return sorted(set(self.deadlines) - set(assignments))


def _show(when: datetime) -> str:
    return when.isoformat(timespec="minutes")


def parse_time(value: object, zone: str = "UTC", *, where: str = "") -> datetime:
    """An aware datetime from a TOML value or ISO text ("2026-10-20 23:59", "…Z", "… UTC");
    a date alone is the end of that day; no offset: in `zone`."""
    tz = ZoneInfo(zone)
    wrong = TermError(f"{where or 'a time'}: {value!r} is not a date and time (write e.g. 2026-10-20T23:59:00)")
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time(23, 59, 59))
    elif isinstance(value, str):
        text = value.strip()
        for suffix in (" UTC", "UTC", "Z"):
            if text.endswith(suffix):
                text = text[: -len(suffix)].rstrip() + "+00:00"
                break
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise wrong from None
        if len(text) == 10:  # "2026-10-20": a date alone
            parsed = datetime.combine(parsed.date(), time(23, 59, 59))
    else:
        raise wrong
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


def _policy(table: dict, base: LatePolicy, where: str) -> LatePolicy:
    values = {}
    for key in POLICY_KEYS:
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise TermError(f"{where}: {key} must be a number ≥ 0, not {value!r}")
            values[key] = float(value)
    policy = LatePolicy(**{k: values.get(k, getattr(base, k)) for k in POLICY_KEYS})
    if policy.max_percent > 100:
        raise TermError(f"{where}: max_percent is at most 100, not {policy.max_percent:g}")
    return policy


def _check_keys(table: dict, allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise TermError(f"{where}: unknown key {', '.join(unknown)} (known: {', '.join(allowed)})")


def read_term(path: Path) -> Term:
    """The term in `path` (strict: an unknown key or a bad date is an error naming both)."""
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise TermError(f"{path}: not valid TOML ({exc})") from None
    _check_keys(data, ("timezone", "late", "assignments"), str(path))
    zone = str(data.get("timezone", "UTC"))
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise TermError(f"{path}: timezone {zone!r} is not a time zone name (e.g. \"Europe/Berlin\", \"UTC\")") from None
    late = data.get("late", {})
    _check_keys(late, POLICY_KEYS, f"{path} [late]")
    default = _policy(late, LatePolicy(), f"{path} [late]")
    deadlines, columns, questions = {}, {}, set()
    for name, table in data.get("assignments", {}).items():
        where = f"{path} [assignments.{name}]"
        if not isinstance(table, dict):
            raise TermError(f"{where}: must be a table (due = …)")
        _check_keys(table, ASSIGNMENT_KEYS, where)
        due = parse_time(table["due"], zone, where=f"{where} due") if "due" in table else None
        until = parse_time(table["late_until"], zone, where=f"{where} late_until") if "late_until" in table else None
        if until is not None and (due is None or until < due):
            raise TermError(f"{where}: late_until needs a due date before it")
        extensions = table.get("extensions", {})
        if not isinstance(extensions, dict) or (extensions and due is None):
            raise TermError(f"{where}: extensions is a table of student = due date, beside a due date")
        extended = {str(k): parse_time(v, zone, where=f"{where} extensions.{k}") for k, v in extensions.items()}
        deadlines[name] = Deadline(due, until, _policy(table, default, where), extended)
        if not isinstance(table.get("questions", False), bool):
            raise TermError(f"{where}: questions is true or false")
        if table.get("questions", False):
            questions.add(name)
        if "lms_column" in table:
            columns[name] = str(table["lms_column"]).strip()
            if not columns[name]:
                raise TermError(f"{where}: lms_column is empty")
    return Term(deadlines, zone, str(path), columns, default, frozenset(questions))


def term_path(root: Path | None = None) -> Path:
    return (root or project_root()) / FILENAME


def load_term(root: Path | None = None) -> Term:
    """The course's term (`nnzoo.toml` at the course root), or an empty one."""
    path = term_path(root)
    return read_term(path) if path.is_file() else Term()
