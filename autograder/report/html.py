"""The HTML reports: one student's feedback page, and the class overview.

Each page is self-contained — styles inline, pictures as `data:` URIs, no script, and a
Content-Security-Policy that forbids loading anything — so it opens offline, from an
e-mail attachment or an LMS upload alike.  Templates (jinja2, autoescaped) live in
`autograder/report/templates/`; this module turns records into what they show:

- feedback: score per assignment, every visible test, each failure's reason said once
  (a submission that could not run gets one line; a reason shared by several tests is
  written at its first test and referred to after), and under a failure the pictures
  its checks attached (`TestResult.figures`);
- overview: `autograder.report.classview`'s numbers, and a score histogram per assignment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Sequence

from autograder import __version__
from autograder.course.term import Term
from autograder.export.grades import number
from autograder.judge.result import AssignmentResult, Figure, StudentRecord, TestResult
from autograder.report.classview import ClassView
from autograder.report.feedback import shared_reason
from autograder.report.pictures import Picture, draw, score_histogram

#: Pictures drawn per assignment on one page: a submission failing everything shows the first few.
PICTURES_PER_ASSIGNMENT = 8


@lru_cache(maxsize=1)
def environment():  # -> jinja2.Environment
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("autograder.report", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["number"] = number
    return env


#: Pictures already drawn, by their figure's numbers (students who fail alike share them).
_drawn: dict[str, Picture] = {}


def picture(figure: Figure) -> Picture | None:
    """The figure drawn (the same numbers are drawn once per process); None if it cannot be."""
    key = repr(figure.to_json())
    if key not in _drawn:
        try:
            drawn = draw(figure)
        except Exception:  # noqa: BLE001 — a picture that cannot be drawn leaves its words standing
            return None
        if len(_drawn) >= 256:
            _drawn.clear()
        _drawn[key] = drawn
    return _drawn[key]


# -- feedback -----------------------------------------------------------------------------------

@dataclass
class TestView:
    result: TestResult
    message: str = ""  # the reason, when said here
    same_as: str = ""  # the earlier test whose reason this failure shares
    pictures: list[Picture] = field(default_factory=list)


@dataclass
class AssignmentView:
    name: str
    result: AssignmentResult
    shared: str = ""  # the one reason every test failed for
    tests: list[TestView] = field(default_factory=list)
    not_shown: int = 0  # tests counted in the score but shown after the due date

    @property
    def percent(self) -> float:
        return 100.0 * self.result.score / self.result.max_score if self.result.max_score else 0.0


def assignment_view(name: str, result: AssignmentResult, visible: Sequence[str]) -> AssignmentView:
    view = AssignmentView(name, result, shared=shared_reason(result) if result.submitted else "")
    said: dict[str, str] = {}  # message -> the test it was said at
    budget = PICTURES_PER_ASSIGNMENT
    for t in result.tests:
        if t.visibility not in visible:
            view.not_shown += 1
            continue
        test = TestView(t)
        if not t.passed and not view.shared:
            if t.message in said:
                test.same_as = said[t.message]
            else:
                test.message = t.message
                said[t.message] = t.name
            for figure in t.figures[:budget]:
                drawn = picture(figure)
                if drawn is not None:
                    test.pictures.append(drawn)
            budget -= len(test.pictures)
        view.tests.append(test)
    return view


def feedback_html(record: StudentRecord, assignments: Sequence[str], *, visible: Sequence[str] | None = None,
                  term: Term | None = None, now: datetime | None = None) -> str:
    """One student's feedback page (the HTML twin of `feedback_markdown`): `visible` the
    test visibilities listed, by default those the term lets the student see at `now`."""
    term = term or Term()
    views = [assignment_view(a, record.assignments[a],
                             visible if visible is not None else term.visible(a, now, record.student))
             for a in assignments if a in record.assignments]
    total = sum(v.result.score for v in views)
    maximum = sum(v.result.max_score for v in views)
    return environment().get_template("feedback.html.j2").render(
        record=record, assignments=views, total=total, maximum=maximum, version=__version__)


# -- overview -----------------------------------------------------------------------------------

def overview_html(records: Sequence[StudentRecord], assignments: Sequence[str], *, generated: str = "") -> str:
    """The class overview page: how the class did, where it struggled, who needs a look."""
    view = ClassView.of(records, assignments)
    histograms = {}
    for a in view.assignments:
        if a.scores:
            try:
                histograms[a.name] = score_histogram(a.scores, a.max_score, f"{a.name}: scores of {len(a.scores)} students")
            except Exception:  # noqa: BLE001 — the numbers below still say it
                pass
    return environment().get_template("overview.html.j2").render(
        view=view, histograms=histograms, generated=generated, version=__version__)
