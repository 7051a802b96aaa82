"""The numbers a failing check attaches for a picture (`TestResult.figures`): bounded, plain
JSON, only for tests that did not pass, never the expected values — and the HTML reports
made from them (collapsed repeats, the class overview, what a batch writes and when).
The pages in a real browser: tests/test_report_browser.py."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from autograder import checks
from autograder.batch import BatchOptions, ClassReports, grade_class
from autograder.checks import figures
from autograder.checks.base import CheckFailed
from autograder.judge.plugin import GradingSession, NnzooPlugin
from autograder.judge.result import (
    MAX_FIGURE_VALUES,
    AssignmentResult,
    Figure,
    StudentRecord,
    TestResult,
)
from autograder.load import load_class
from autograder.report.classview import ClassView, failure_key
from autograder.judge.verdict import bounded_feedback
from autograder.report.feedback import feedback_markdown
from autograder.report.html import feedback_html, overview_html
from autograder.worker.limits import SandboxLimits

CORRECT = "import torch\n\ndef double(x):\n    return x + x\n"
BROKEN = "import torch\n\ndef double(x):\n    return x * 3\n"


def values_in(figure: Figure) -> list:
    def flat(v):
        return [x for item in v for x in flat(item)] if isinstance(v, list) else [v]
    return [x for series in figure.series.values() for x in flat(series)]


# -- the attached numbers -------------------------------------------------------------------

def test_a_figure_holds_at_most_a_few_hundred_numbers():
    curve = Figure("lines", "long", {"yours": [0.0] * 99_999 + [7.0], "reference": list(range(5000))})
    grid = Figure("heatmap", "big", {"|difference|": [[float(i == j == 299) for j in range(300)] for i in range(300)]})
    assert curve.size <= MAX_FIGURE_VALUES and grid.size <= MAX_FIGURE_VALUES
    assert curve.series["yours"][-1] == 7.0  # pooled by bucket maxima: a spike at the end survives
    assert grid.series["|difference|"][-1][-1] == 1.0 and len(grid.series["|difference|"]) == 20


def test_nan_and_inf_become_none_and_the_figure_round_trips_through_json():
    figure = Figure("bars", "odd", {"v": [1.0, math.nan, math.inf, -2.5]}, threshold=0.5)
    data = json.loads(json.dumps(figure.to_json(), allow_nan=False))
    assert Figure.from_json(data) == figure and figure.series["v"] == [1.0, None, None, -2.5]


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind"):
        Figure("pie", "no")


def test_where_outputs_differ_shows_differences_never_the_expected_values():
    expected = torch.full((3, 5), 1234.5, dtype=torch.float64)
    actual = expected.clone()
    actual[1, 2] += 0.25
    figure = figures.difference(actual, expected, "the output", 1e-9)
    assert figure.kind == "heatmap" and 1234.5 not in values_in(figure)
    assert sorted(set(values_in(figure))) == [0.0, 8.0]  # 2.5e8 times the tolerance: the top step


def test_a_difference_shows_how_far_off_in_whole_orders_never_the_values_of_an_output_the_student_chose():
    expected = torch.randn(4, 7, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    figure = figures.difference(torch.zeros_like(expected), expected, "the output", 1e-5)  # |yours − expected| = |expected|
    shown = values_in(figure)
    assert set(shown) <= set(range(figures.MOST_ORDERS + 1)) and len(set(shown)) <= 3
    assert figures.how_far_off(torch.tensor([0.0, 1e-5, 1.1e-5, 1e-4, 1e-3, float("nan"), float("inf")]), 1e-5).tolist() \
        == [0.0, 0.0, 1.0, 1.0, 2.0, 8.0, 8.0]


def test_a_tall_narrow_difference_is_one_bar_per_row_and_a_single_row_one_bar_per_entry():
    tall = figures.difference(torch.ones(30, 2), torch.zeros(30, 2), "the node output", 1e-5)
    row = figures.difference(torch.ones(1, 3), torch.zeros(1, 3), "the output", 1e-5)
    assert tall.kind == "bars" and len(values_in(tall)) == 30
    assert row.kind == "bars" and len(values_in(row)) == 3


def test_reaches_attaches_the_score_against_its_threshold():
    figures.clear()
    with pytest.raises(CheckFailed):
        checks.reaches(0.61, 0.9, "held-out accuracy", "accuracy")
    (figure,) = figures.take()
    assert (figure.kind, figure.series, figure.threshold) == ("threshold", {"yours": 0.61}, 0.9)


def test_calls_for_one_plot_merge_and_a_lazy_figure_that_fails_is_left_out():
    figures.clear()
    checks.show_gradient_norms(torch.logspace(-10, 0, 50), "rnn")
    checks.show_gradient_norms(torch.ones(50), "lstm")
    checks.show(lambda: 1 / 0)
    (figure,) = figures.take()
    assert set(figure.series) == {"rnn", "lstm"} and figure.log
    assert figures.take() == []


def test_garbage_losses_draw_no_curve():
    assert figures.training_curve({"__nontensor__": "Evil"}) is None
    assert figures.training_curve([1.0, "x"]) is None
    assert figures.training_curve([1.0, 0.5], [1.0, 0.4]).series == {"yours": [1.0, 0.5], "reference": [1.0, 0.4]}


HIDDEN = '''
import pytest, torch
from autograder import checks

@pytest.mark.points(1)
def test_passes_with_a_figure():
    checks.show_accuracy(0.99, 0.9)

@pytest.mark.points(1)
def test_fails_with_figures():
    checks.show_gradient_norms(torch.ones(4), "rnn")
    checks.show(lambda: checks.figures.accuracy(0.5, 0.9, "lazy"))
    checks.reaches(0.5, 0.9, "held-out accuracy", "accuracy")

@pytest.mark.points(1)
def test_fails_without():
    assert False, "plain"
'''


def test_the_plugin_keeps_figures_of_failing_tests_only(tmp_path):
    tests = tmp_path / "test_figures_kept_by_the_plugin.py"  # a name no other test module has
    tests.write_text(HIDDEN)
    plugin = NnzooPlugin(GradingSession(subject=None, reference=None, source=""))
    pytest.main([str(tests), "-q", "-p", "no:cacheprovider", "--import-mode=importlib"], plugins=[plugin])
    got = {r.name: [(f.kind, f.title) for f in r.figures] for r in plugin.results}
    assert got == {"test_passes_with_a_figure": [], "test_fails_without": [],
                   "test_fails_with_figures": [("lines", "gradient norm per time step"), ("threshold", "lazy"),
                                               ("threshold", "held-out accuracy")]}


# -- a batch ------------------------------------------------------------------------------------

@pytest.fixture
def tiny_class(tiny_course, tmp_path):
    subs = tmp_path / "subs"
    for student, source in (("ann", CORRECT), ("bob", BROKEN)):
        (subs / student).mkdir(parents=True)
        (subs / student / "tiny.py").write_text(source)
    out = tmp_path / "out"
    summary = grade_class(load_class(subs, ["tiny"]), BatchOptions(out=out, assignments=["tiny"], limits=SandboxLimits(call_seconds=20)))
    return out, {r.student: r for r in summary.records}


def test_a_batch_records_time_and_figures_and_writes_html_pages(tiny_class):
    out, records = tiny_class
    bob = records["bob"].assignments["tiny"]
    assert bob.seconds > 0 and all(t.figures for t in bob.tests)
    assert not any(t.figures for t in records["ann"].assignments["tiny"].tests)
    stored = json.loads((out / "students" / "bob.json").read_text())["assignments"]["tiny"]
    assert stored["seconds"] > 0 and stored["tests"][0]["figures"]
    in_grades = json.loads((out / "grades.json").read_text())["students"][1]["assignments"]["tiny"]
    assert "seconds" not in in_grades and "figures" not in in_grades["tests"][0]  # grades.json: the same on every regrade
    page = (out / "feedback" / "bob.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "where double([1, 2]) differs" in page
    assert {p.name for p in out.iterdir()} >= {"overview.html", "overview.md", "grades.csv", "grades.json"}


def test_overview_html_is_redrawn_during_a_batch_only_as_often_as_it_stays_cheap(tmp_path):
    reports = ClassReports(tmp_path, {"generated": "now"})
    records = [StudentRecord("ann", {"tiny": AssignmentResult([TestResult("t", score=1, max_score=1, status="passed")])})]
    reports.write(records)
    first = (tmp_path / "overview.html").stat().st_mtime_ns
    reports.next_page = float("inf")  # as if the last drawing had been slow
    reports.write(records + [StudentRecord("bob")])
    assert (tmp_path / "overview.html").stat().st_mtime_ns == first and "2 students" in (tmp_path / "overview.md").read_text()
    reports.write(records + [StudentRecord("bob")], final=True)
    assert "2 students" in (tmp_path / "overview.html").read_text()


# -- the pages ------------------------------------------------------------------------------------

def failing(name: str, message: str, **kwargs) -> TestResult:
    return TestResult(name, "prop", 0.0, 1.0, "failed", message, "check", **kwargs)


def test_a_submission_that_did_not_run_gets_its_reason_once():
    message = "Your code raised FileNotFoundError when importing it"
    record = StudentRecord("carol", {"mlp": AssignmentResult([failing(f"test_{i}", message) for i in range(15)])})
    page = feedback_html(record, ["mlp"])
    assert page.count(message) == 1 and "Every test failed for one reason" in page and "<details>" in page


def test_a_reason_shared_by_some_tests_is_said_once_then_referred_to():
    tests = [failing("test_a", "raised NotImplementedError"), TestResult("test_b", status="passed"),
             failing("test_c", "raised NotImplementedError"), failing("test_d", "other")]
    page = feedback_html(StudentRecord("bob", {"mlp": AssignmentResult(tests)}), ["mlp"])
    assert page.count("raised NotImplementedError") == 1 and "Same reason as <span class=\"name\">test_a</span>" in page
    text = feedback_markdown(StudentRecord("bob", {"mlp": AssignmentResult(tests)}), ["mlp"])
    assert text.count("raised NotImplementedError") == 1 and "  > the same reason as test_a (above)" in text, text


def test_hidden_tests_are_counted_but_not_shown_and_their_figures_not_drawn():
    hidden = failing("test_secret", "secret reason", visibility="after_due_date",
                     figures=[Figure("threshold", "secret", {"yours": 0.1}, threshold=0.9)])
    page = feedback_html(StudentRecord("dan", {"mlp": AssignmentResult([hidden, failing("test_open", "open")])}), ["mlp"])
    assert "secret" not in page and "1 test shown after the due date" in page


def test_the_page_escapes_what_a_student_wrote():
    record = StudentRecord("eve", {"mlp": AssignmentResult([failing("test_x", "<script>alert(1)</script>")])},
                           notes=["<img src=x onerror=alert(1)>"])
    page = feedback_html(record, ["mlp"])
    assert "<script>alert" not in page and "<img src=x" not in page


def test_the_markdown_feedback_shows_what_a_student_wrote_as_text():
    """An outside audit's (2026-12-05): a message and a note reached feedback/<student>.md as raw HTML
    (an image beacon in a viewer that renders it) and raw terminal escapes (`cat` ran them)."""
    message = bounded_feedback("raised Boom: <img src=http://evil/x.png> \x1b]0;pwned\x07\x1b[2J \u202eevil")
    record = StudentRecord("eve", {"mlp": AssignmentResult([failing("test_x", message)])}, notes=["<script>alert(1)</script>"])
    text = feedback_markdown(record, ["mlp"])
    assert "<img" not in text and "<script" not in text and "&lt;img src=" in text, text
    assert not any(c in text for c in "\x1b\x07\u202e"), text


def test_the_overview_keeps_students_who_did_not_submit_out_and_groups_failures_by_their_words():
    def result(score: float, message: str = "accuracy 0.61 is below 0.90") -> AssignmentResult:
        passed = score > 0
        return AssignmentResult([TestResult("test_acc", "accuracy", score, 1.0, "passed" if passed else "failed",
                                            "" if passed else message)], seconds=2.0)
    records = [StudentRecord("ann", {"mlp": result(1)}),
               StudentRecord("bob", {"mlp": result(0, "accuracy 0.61 is below 0.90")}),
               StudentRecord("cat", {"mlp": result(0, "accuracy 0.58 is below 0.90")}),
               StudentRecord("dan", {"mlp": AssignmentResult([failing("test_acc", "no mlp.py")], submitted=False)}),
               StudentRecord("eve", {"mlp": AssignmentResult([TestResult("grading", status="error", message="boom")],
                                                             scan=["os.system"])})]
    view = ClassView.of(records, ["mlp"])
    (mlp,) = view.assignments
    assert mlp.not_submitted == ["dan"] and len(mlp.scores) == 4
    assert [(t.name, t.passed, t.graded) for t in mlp.tests] == [("test_acc", 1, 3), ("grading", 0, 1)]
    assert len(mlp.failures[0].students) == 2 and failure_key("accuracy 0.61 is below 0.90") == "accuracy # is below #"
    assert [f.student for f in view.grader_errors] == ["eve"] and [f.student for f in view.flagged] == ["eve"]
    page = overview_html(records, ["mlp"])
    assert "Not submitted (1)" in page and "Grader errors" in page and "os.system" in page and "data:image/png" in page


def test_every_picture_kind_draws(tmp_path: Path):
    from autograder.report.pictures import draw, score_histogram

    kinds = [figures.training_curve([1.0, 0.5, 0.4], [1.0, 0.2, 0.1]), figures.accuracy(0.5, 0.9, "acc"),
             figures.gradient_norms(torch.logspace(-12, 0, 50), "rnn"), figures.heatmap("w", torch.rand(2, 4, 4)),
             figures.per_item("per node", torch.rand(30)), Figure("lines", "all NaN", {"v": [math.nan] * 3}, log=True)]
    for figure in kinds:
        assert draw(figure).uri.startswith("data:image/png;base64,")
    assert score_histogram([], 10, "empty").uri and score_histogram([0.5, 7.25, 7.25], 7.5, "halves").uri
