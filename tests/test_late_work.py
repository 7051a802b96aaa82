"""Due dates, late work and test visibility, as an instructor meets them across a term.

The term lives in `nnzoo.toml` at the course root (`autograder/course/term.py`); a
submission's time comes from the class folder (`autograder/load/timestamps.py`); grades.csv keeps
its binding header with final scores, grades.json and grades_detail.csv say raw score,
penalty and final score.  Grading runs the real `nnzoo` command on the throwaway `tiny`
assignment (tests/conftest.py), in this process.
"""

from __future__ import annotations

import csv
import json
import os
import struct
import warnings
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from autograder.course.term import Deadline, LatePolicy, Term, TermError, parse_time, read_term
from autograder.judge.result import AssignmentResult, StudentRecord, TestResult
from autograder.load import load_entry
from autograder.report.feedback import feedback_markdown
from test_gradebook_term import BROKEN, CORRECT, make_class, nnzoo, rows

DUE = datetime(2026, 10, 20, 23, 59, tzinfo=timezone.utc)


def write_term(root: Path, text: str) -> Path:
    (root / "nnzoo.toml").write_text(text)
    return root / "nnzoo.toml"


# -- the term file ------------------------------------------------------------------------

def test_a_term_reads_due_dates_in_its_time_zone_and_a_date_alone_is_the_end_of_that_day(tmp_path):
    term = read_term(write_term(tmp_path, '''
timezone = "Europe/Berlin"
[late]
percent_per_day = 10
[assignments.tiny]
due = 2026-10-20T23:59:00
[assignments.teeny]
due = 2026-11-03
percent_per_day = 25
'''))
    assert term.deadline("tiny").due == datetime(2026, 10, 20, 21, 59, tzinfo=timezone.utc)  # CEST is UTC+2
    assert term.deadline("teeny").due.astimezone(timezone.utc) == datetime(2026, 11, 3, 22, 59, 59, tzinfo=timezone.utc)
    assert term.deadline("tiny").policy.percent_per_day == 10 and term.deadline("teeny").policy.percent_per_day == 25
    assert term.deadline("other").due is None


@pytest.mark.parametrize("text, words", [
    ('[late]\nper_day = 10\n', ("unknown key per_day", "percent_per_day")),
    ('[assignments.tiny]\ndue = "next friday"\n', ("assignments.tiny", "due", "not a date")),
    ('timezone = "Mars/Olympus"\n', ("Mars/Olympus",)),
    ('[late]\nmax_percent = 150\n', ("max_percent", "at most 100")),
    ('[assignments.tiny]\ndue = 2026-10-20\nlate_until = 2026-10-01\n', ("late_until",)),
])
def test_a_mistake_in_the_term_file_is_an_error_naming_the_key(tmp_path, text, words):
    with pytest.raises(TermError) as caught:
        read_term(write_term(tmp_path, text))
    assert all(w in str(caught.value) for w in words) and str(tmp_path) in str(caught.value), caught.value


@pytest.mark.parametrize("late, days, fraction", [
    (timedelta(0), 0, 0.0),
    (timedelta(minutes=14), 0, 0.0),              # inside the grace period
    (timedelta(minutes=16), 1, 0.1),              # a started day counts
    (timedelta(days=1, minutes=1), 2, 0.2),
    (timedelta(days=9), 9, 0.5),                  # capped
])
def test_the_penalty_is_a_share_of_the_raw_score_per_started_day_after_the_grace_period(late, days, fraction):
    deadline = Deadline(DUE, None, LatePolicy(grace_minutes=15, percent_per_day=10, max_percent=50))
    lateness = deadline.lateness(DUE + late)
    assert (lateness.days, lateness.fraction) == (days, pytest.approx(fraction))
    assert lateness.penalty(3.0) == pytest.approx(3.0 * fraction)


def test_work_after_the_late_window_scores_zero_and_early_work_is_never_late():
    deadline = Deadline(DUE, DUE + timedelta(days=2), LatePolicy(percent_per_day=10))
    assert deadline.lateness(DUE + timedelta(days=3)).fraction == 1.0
    assert deadline.lateness(DUE - timedelta(days=3)).fraction == 0.0
    assert Deadline().lateness(DUE).fraction == 0.0  # no due date


# -- when a submission was handed in --------------------------------------------------------

def _utime(path: Path, when: datetime) -> None:
    os.utime(path, (when.timestamp(), when.timestamp()))


def test_a_folder_is_handed_in_when_its_graded_file_was_last_changed(tmp_path):
    entry = tmp_path / "ann"
    (entry / "deep").mkdir(parents=True)
    (entry / "deep" / "tiny.py").write_text(CORRECT)
    (entry / "notes.txt").write_text("later")
    _utime(entry / "deep" / "tiny.py", DUE + timedelta(hours=5))
    sub = load_entry(entry, ["tiny"])
    assert parse_time(sub.submitted_at["tiny"]) == DUE + timedelta(hours=5)


def test_a_zip_is_handed_in_at_its_own_time_never_at_its_members_times(tmp_path):
    """A member's time is what the student's zip tool wrote: back-dated (extended timestamp
    and DOS time) it once dodged a 50% late penalty.  The zip's own time on the grader's
    disk (what the LMS download left) is the time it was handed in, unless `<stem>.timestamp.txt`
    beside it says otherwise."""
    with zipfile.ZipFile(tmp_path / "ann.zip", "w") as zf:
        info = zipfile.ZipInfo("ann/tiny.py", date_time=(2026, 10, 1, 8, 0, 0))
        info.extra = struct.pack("<HHBi", 0x5455, 5, 1, int((DUE - timedelta(days=20)).timestamp()))
        zf.writestr(info, CORRECT)
    _utime(tmp_path / "ann.zip", DUE + timedelta(days=1))
    assert parse_time(load_entry(tmp_path / "ann.zip", ["tiny"]).submitted_at["tiny"]) == DUE + timedelta(days=1)
    # the instructor's record of the LMS's time, beside the zip, wins (a copy without `cp -p` left a late file time)
    (tmp_path / "ann.timestamp.txt").write_text("2026-10-20 22:00:00.000000 UTC\n")
    assert parse_time(load_entry(tmp_path / "ann.zip", ["tiny"]).submitted_at["tiny"]) == datetime(2026, 10, 20, 22, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("stamp, expected", [
    ("2026-10-21 10:00:00.000000 UTC", datetime(2026, 10, 21, 10, 0, tzinfo=timezone.utc)),  # nbgrader's default
    ("2026-10-21 12:00:00.000000 +0200", datetime(2026, 10, 21, 10, 0, tzinfo=timezone.utc)),
    ("2026-10-21T10:00:00Z", datetime(2026, 10, 21, 10, 0, tzinfo=timezone.utc)),
])
def test_the_instructors_timestamp_txt_beside_a_folder_says_when(tmp_path, stamp, expected):
    entry = tmp_path / "ann"
    (entry / "tiny").mkdir(parents=True)
    (entry / "tiny" / "tiny.py").write_text(CORRECT)
    _utime(entry / "tiny" / "tiny.py", DUE + timedelta(days=3))  # a copy without `cp -p`
    (tmp_path / "ann.timestamp.txt").write_text(stamp + "\n")
    assert parse_time(load_entry(entry, ["tiny"]).submitted_at["tiny"]) == expected


def test_a_timestamp_txt_inside_a_folder_is_not_believed(tmp_path):
    """An LMS that keeps each student's uploads in a folder of their own hands in whatever
    the student uploaded: a `timestamp.txt` of their own had back-dated a late hand-in (an
    audit, 2026-12-04).  The file's own time stands, and the entry's notes say why."""
    entry = tmp_path / "ann"
    (entry / "tiny").mkdir(parents=True)
    (entry / "tiny" / "tiny.py").write_text(CORRECT)
    (entry / "tiny" / "timestamp.txt").write_text("2020-01-01 00:00:00.000000 UTC")
    (entry / "timestamp.txt").write_text("2020-01-01 00:00:00.000000 UTC")
    _utime(entry / "tiny" / "tiny.py", DUE + timedelta(days=3))
    ann = load_entry(entry, ["tiny"])
    assert parse_time(ann.submitted_at["tiny"]) == DUE + timedelta(days=3)
    assert any("timestamp.txt was not used" in note and "its files' own" in note for note in ann.notes), ann.notes
    (tmp_path / "ann.timestamp.txt").write_text("2026-10-20 22:00:00.000000 UTC")  # the instructor's record
    ann = load_entry(entry, ["tiny"])
    assert parse_time(ann.submitted_at["tiny"]) == datetime(2026, 10, 20, 22, 0, tzinfo=timezone.utc)
    assert any("the instructor's record" in note for note in ann.notes), ann.notes


def test_a_timestamp_txt_inside_a_zip_is_the_students_and_not_believed(tmp_path):
    """A late student cannot cancel the penalty by zipping a stamp of their own: the time
    comes from the zip itself, and the entry's notes say the stamp was not used."""
    with zipfile.ZipFile(tmp_path / "ann.zip", "w") as zf:
        zf.writestr(zipfile.ZipInfo("tiny.py", date_time=(2026, 10, 25, 8, 0, 0)), CORRECT)
        zf.writestr("timestamp.txt", "2026-10-01 10:00:00.000000 UTC")
        zf.writestr("tiny/timestamp.txt", "2026-10-01 10:00:00.000000 UTC")
    _utime(tmp_path / "ann.zip", datetime(2026, 10, 25, 8, 0, tzinfo=timezone.utc))
    ann = load_entry(tmp_path / "ann.zip", ["tiny"])
    assert parse_time(ann.submitted_at["tiny"]) == datetime(2026, 10, 25, 8, 0, tzinfo=timezone.utc)
    assert any("timestamp.txt was not used" in note for note in ann.notes), ann.notes


# -- the grade files ----------------------------------------------------------------------

def test_grades_csv_keeps_its_header_with_final_scores_and_the_detail_says_raw_penalty_final(tiny_course, tmp_path):
    write_term(tiny_course, '[late]\ngrace_minutes = 10\npercent_per_day = 10\n'
                            '[assignments.tiny]\ndue = 2026-10-20T23:59:00Z\n')
    subs = make_class(tmp_path, {"ann": {"tiny.py": CORRECT}, "bob": {"tiny.py": CORRECT}, "cid": {"tiny.py": BROKEN}})
    _utime(subs / "ann" / "tiny.py", DUE - timedelta(hours=1))
    _utime(subs / "bob" / "tiny.py", DUE + timedelta(days=1, hours=2))  # 2 started days late: −20%
    _utime(subs / "cid" / "tiny.py", DUE + timedelta(days=5))
    out = tmp_path / "out"
    result = nnzoo("grade", str(subs), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert (out / "grades.csv").read_text().splitlines()[0] == "student,tiny,total"
    assert rows(out)["ann"] == {"student": "ann", "tiny": "3", "total": "3"}
    assert rows(out)["bob"] == {"student": "bob", "tiny": "2.4", "total": "2.4"}
    bob = next(s for s in json.loads((out / "grades.json").read_text())["students"] if s["student"] == "bob")
    tiny = bob["assignments"]["tiny"]
    assert (tiny["score"], tiny["raw_score"], tiny["penalty"], tiny["late_days"], bob["total"]) == (2.4, 3, 0.6, 2, 2.4)
    assert sum(t["score"] for t in tiny["tests"]) == 3  # the tests keep what they earned
    with (out / "grades_detail.csv").open() as fh:
        detail = {r["student"]: r for r in csv.DictReader(fh)}
    assert (detail["bob"]["raw_score"], detail["bob"]["penalty"], detail["bob"]["score"]) == ("3", "0.6", "2.4")
    assert detail["cid"]["days_late"] == "5" and detail["cid"]["score"] == "0"
    assert "2 days late: −20%" in (out / "feedback" / "bob.md").read_text()

    # an extension for everyone: no regrading, the grade files follow the term file
    write_term(tiny_course, '[late]\npercent_per_day = 10\n[assignments.tiny]\ndue = 2026-10-23T23:59:00Z\n')
    again = nnzoo("grade", str(subs), "--out", str(out), "--resume")
    assert again.returncode == 0 and "kept 3, graded 0" in again.stdout, again.stdout
    assert rows(out)["bob"]["tiny"] == "3"
    # … and so does the feedback of the students kept (it showed the old penalty until 2026-12-04)
    bob_feedback = (out / "feedback" / "bob.md").read_text() + (out / "feedback" / "bob.html").read_text()
    assert "late: −20%" not in bob_feedback and "2.4" not in bob_feedback


def test_a_broken_term_file_stops_grading_in_one_line(tiny_course, tmp_path):
    write_term(tiny_course, "[assignments.tiny]\ndue = 'soon'\n")
    subs = make_class(tmp_path, {"ann": {"tiny.py": CORRECT}})
    result = nnzoo("grade", str(subs), "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "nnzoo.toml" in result.stderr and result.stderr.count("\n") == 1, result.stderr


# -- visibility ---------------------------------------------------------------------------

def _record() -> StudentRecord:
    tests = [TestResult("test_open", "shapes", 0.0, 1.0, "failed", "wrong shape", visibility="visible"),
             TestResult("test_later", "training", 0.0, 1.0, "failed", "loss did not fall", visibility="after_due_date"),
             TestResult("test_secret", "edge case", 0.0, 1.0, "failed", "empty input", visibility="hidden")]
    return StudentRecord("ann", {"tiny": AssignmentResult(tests=tests)})


def test_feedback_lists_after_due_date_tests_only_once_the_due_date_passed_and_hidden_tests_never():
    term = Term({"tiny": Deadline(DUE)})
    before = feedback_markdown(_record(), ["tiny"], term=term, now=DUE - timedelta(days=1))
    after = feedback_markdown(_record(), ["tiny"], term=term, now=DUE + timedelta(days=1))
    assert "test_open" in before and "test_later" not in before and "loss did not fall" not in before
    assert "1 test shown after the due date" in before
    assert "test_later" in after and "loss did not fall" in after
    for text in (before, after):
        assert "test_secret" not in text and "empty input" not in text and "1 hidden test" in text


def test_nnzoo_feedback_rewrites_the_feedback_once_the_late_window_closed(tiny_course, tmp_path):
    hidden = tiny_course / "solutions" / "tiny" / "test_hidden.py"
    hidden.write_text(hidden.read_text().replace('@pytest.mark.property("gradients")',
                                                 '@pytest.mark.property("gradients")\n@pytest.mark.visibility("after_due_date")'))
    future = datetime.now(timezone.utc) + timedelta(days=30)
    write_term(tiny_course, f'[assignments.tiny]\ndue = {future.isoformat(timespec="seconds")}\n')
    subs = make_class(tmp_path, {"bob": {"tiny.py": BROKEN}})
    out = tmp_path / "out"
    assert nnzoo("grade", str(subs), "--out", str(out)).returncode == 0
    assert "test_doubles_like_the_reference" not in (out / "feedback" / "bob.md").read_text()
    write_term(tiny_course, '[assignments.tiny]\ndue = 2020-01-01T00:00:00Z\n')
    result = nnzoo("feedback", str(out))
    assert result.returncode == 0, result.stderr
    assert "test_doubles_like_the_reference" in (out / "feedback" / "bob.md").read_text()


# -- the nbgrader route -------------------------------------------------------------------

def nbgrader_course(root: Path, duedate: str | None) -> Path:
    """An nbgrader course whose gradebook holds `tiny` (one 3-point grade cell) and ann's submission."""
    from nbgrader.api import Gradebook

    root.mkdir(parents=True)
    (root / "nbgrader_config.py").write_text("c = get_config()\n")
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's add_submission trips SQLAlchemy's "not in session" (harmless)
        gb.add_assignment("tiny", duedate=duedate)
        gb.add_notebook("tiny", "tiny")
        gb.add_grade_cell("grade_double", "tiny", "tiny", max_score=3, cell_type="code")
        gb.add_student("ann")
        gb.add_submission("tiny", "ann")
        gb.find_grade("grade_double", "tiny", "tiny", "ann").auto_score = 3
        gb.db.commit()
    return root


def test_the_nbgrader_route_takes_nbgraders_due_date_and_timestamp_and_records_the_penalty_there(tiny_course, tmp_path):
    from nbgrader.api import Gradebook

    from autograder.nbgrader.bridge import course_term, handed_in
    from autograder.nbgrader.course import Course
    from autograder.nbgrader.gradebook import write_late_penalty

    write_term(tiny_course, "[late]\npercent_per_day = 50\n")  # the policy: nnzoo's; the due date: nbgrader's
    course = Course.open(nbgrader_course(tmp_path / "nbcourse", "2026-10-20 23:59:00 UTC"))
    term = course_term(course, ["tiny"])
    assert term.deadline("tiny").due == DUE and term.deadline("tiny").policy.percent_per_day == 50
    notebook = tmp_path / "nbcourse" / "submitted" / "ann" / "tiny" / "tiny.ipynb"
    notebook.parent.mkdir(parents=True)
    notebook.write_text("{}")
    (notebook.parent / "timestamp.txt").write_text("2026-10-21 10:00:00.000000 UTC")
    assert term.lateness("tiny", handed_in(notebook)).fraction == 0.5
    write_late_penalty(course.db_url, "tiny", "ann", 1.5)
    with Gradebook(course.db_url) as gb:
        submission = gb.find_submission("tiny", "ann")
        assert (submission.score, submission.late_submission_penalty) == (3, 1.5)


def test_a_grade_cell_lists_only_the_tests_the_student_may_see():
    from autograder.nbgrader.gradebook import _outputs

    tests = _record().assignments["tiny"].tests
    text = _outputs(tests)[0]["text"]
    assert "test_open" in text and "test_later" not in text and "test_secret" not in text and "2 more tests" in text
    text = _outputs(tests, visible=("visible", "after_due_date"))[0]["text"]
    assert "test_later" in text and "loss did not fall" in text and "test_secret" not in text


def test_an_extension_for_an_id_no_student_has_is_named(tiny_course, tmp_path):
    """An extension granted to a misspelt id ("alcie") changed nothing and said nothing (an
    outside audit, 2026-12-04): nnzoo grade names it, and grades as the file says."""
    write_term(tiny_course, '[assignments.tiny]\ndue = 2026-10-20T23:59:00Z\n[assignments.tiny.extensions]\nalcie = 2026-10-25T23:59:00Z\n')
    subs = make_class(tmp_path, {"alice": {"tiny.py": CORRECT}})
    result = nnzoo("grade", str(subs), "--out", str(tmp_path / "out"))
    assert result.returncode == 0 and "grants extensions to ids no student" in result.stderr and "alcie (tiny)" in result.stderr


def test_an_extension_moves_one_students_due_date_and_late_window(tmp_path):
    term = read_term(write_term(tmp_path, '[late]\npercent_per_day = 10\n[assignments.tiny]\n'
                                          'due = 2026-10-20T23:59:00Z\nlate_until = 2026-10-22T23:59:00Z\n'
                                          '[assignments.tiny.extensions]\nbob = 2026-10-25T23:59:00Z\n'))
    handed_in = "2026-10-24T10:00:00+00:00"
    assert term.lateness("tiny", handed_in, "ann").fraction == 1.0  # after ann's late window
    assert term.lateness("tiny", handed_in, "bob").fraction == 0.0
    assert term.deadline("tiny", "bob").late_until == datetime(2026, 10, 27, 23, 59, tzinfo=timezone.utc)
    assert term.visible("tiny", DUE + timedelta(days=3), "ann") != term.visible("tiny", DUE + timedelta(days=3), "bob")
