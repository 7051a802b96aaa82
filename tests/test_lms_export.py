"""`nnzoo export canvas|moodle GRADEBOOK --roster R --out F`: the gradebook as an LMS import.

Formats (autograder/export/lms.py): Canvas's gradebook CSV (its own export's columns,
which its import reads: Student, ID, SIS User ID, SIS Login ID, Section, a column per
assignment, a "Points Possible" row); Moodle's CSV grade import (an identity column the
import form maps to a user field, a column per assignment mapped to a grade item).
The gradebook here is written directly (records as `nnzoo grade` stores them): no grading.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from autograder.judge.result import AssignmentResult, StudentRecord, TestResult
from test_gradebook_term import nnzoo


def gradebook(tmp_path: Path, scores: dict[str, dict[str, float | None]]) -> Path:
    """A gradebook folder: student → assignment → score out of 3 (None: not submitted)."""
    out = tmp_path / "grades"
    (out / "students").mkdir(parents=True)
    for student, assignments in scores.items():
        record = StudentRecord(student)
        for a, score in assignments.items():
            tests = [TestResult("test_doubles", "doubling", score or 0.0, 3.0, "passed" if score == 3 else "failed")]
            record.assignments[a] = AssignmentResult(tests=tests, submitted=score is not None,
                                                     submitted_at="2026-10-22T12:00:00+00:00")
        (out / "students" / f"{student}.json").write_text(json.dumps(record.to_json()))
    return out


def roster(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    return path


def read(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text())))


def test_canvas_gets_its_gradebook_columns_a_points_row_and_final_scores(two_tiny_assignments, tmp_path):
    (two_tiny_assignments / "nnzoo.toml").write_text(
        '[late]\npercent_per_day = 50\n[assignments.tiny]\ndue = 2026-10-21T12:00:00Z\nlms_column = "Tiny (4711)"\n')
    book = gradebook(tmp_path, {"ann": {"tiny": 3.0, "teeny": 3.0}, "bob": {"tiny": 2.0, "teeny": None}})
    people = roster(tmp_path, "student,name,canvas_id,sis_user_id,sis_login_id,section\n"
                              'ann,"Lee, Ann",101,S1,ann@uni,A\nbob,"Ray, Bob",102,S2,bob@uni,A\n')
    result = nnzoo("export", "canvas", str(book), "--roster", str(people), "--out", str(tmp_path / "canvas.csv"))
    assert result.returncode == 0, result.stderr
    assert read(tmp_path / "canvas.csv") == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Tiny (4711)", "A tiny assignment"],
        ["    Points Possible", "", "", "", "", "3", "3"],
        ["Lee, Ann", "101", "S1", "ann@uni", "A", "1.5", "3"],  # a day late: −50%
        ["Ray, Bob", "102", "S2", "bob@uni", "A", "1", "0"],  # teeny not submitted: 0
    ]


def test_moodle_gets_the_identity_columns_the_roster_has_and_a_column_per_assignment(tiny_course, tmp_path):
    book = gradebook(tmp_path, {"Ana_Lee": {"tiny": 3.0}, "bob": {"tiny": 1.0}})
    # a spreadsheet's byte-order mark, Moodle's own header words, a folder name as the nnzoo id
    people = roster(tmp_path, "\ufeffStudent,Email Address,ID Number,Phone\nAna Lee,ana@uni,9001,123\nbob,bob@uni,9002,\n")
    result = nnzoo("export", "moodle", str(book), "--roster", str(people), "--out", str(tmp_path / "moodle.csv"))
    assert result.returncode == 0, result.stderr
    assert read(tmp_path / "moodle.csv") == [
        ["ID number", "Email address", "A tiny assignment"],
        ["9001", "ana@uni", "3"],
        ["9002", "bob@uni", "1"],
    ]


def test_students_not_on_the_roster_or_never_graded_are_reported_and_left_out(two_tiny_assignments, tmp_path):
    book = gradebook(tmp_path, {"ann": {"tiny": 3.0}, "zed": {"tiny": 3.0}, "bob": {"teeny": 3.0}})
    people = roster(tmp_path, "student,email\nann,ann@uni\nbob,bob@uni\ncarl,carl@uni\n")
    result = nnzoo("export", "moodle", str(book), "--roster", str(people), "--out", str(tmp_path / "m.csv"))
    assert result.returncode == 1  # a graded student's grade would be lost: the instructor must act
    assert "not on the roster, left out: zed" in result.stderr
    assert "on the roster but never graded, left out: carl" in result.stderr
    rows = read(tmp_path / "m.csv")
    assert [r[0] for r in rows[1:]] == ["ann@uni", "bob@uni"]
    assert rows[2] == ["bob@uni", "", "3"]  # tiny never graded for bob: blank, the LMS keeps its value


def test_an_id_that_differs_from_the_roster_only_in_case_is_matched_and_said(tiny_course, tmp_path):
    """A folder `S1234` and a roster's `s1234` are one student (a grade left out for the case
    of a letter is a grade lost); two ids that fold to one spelling stay unmatched."""
    book = gradebook(tmp_path, {"S1234": {"tiny": 3.0}, "Kim": {"tiny": 1.0}, "KIM": {"tiny": 2.0}})
    people = roster(tmp_path, "student,email\ns1234,s1234@uni\nkim,kim@uni\n")
    result = nnzoo("export", "moodle", str(book), "--roster", str(people), "--out", str(tmp_path / "m.csv"))
    assert read(tmp_path / "m.csv")[1:] == [["s1234@uni", "3"]]
    assert "matched regardless of case: S1234 as s1234" in result.stderr, result.stderr
    assert "not on the roster, left out: KIM, Kim" in result.stderr and "never graded, left out: kim" in result.stderr
    assert result.returncode == 1


def test_a_roster_without_a_student_column_or_with_a_student_twice_is_one_line_error(tiny_course, tmp_path):
    book = gradebook(tmp_path, {"ann": {"tiny": 3.0}})
    for text, words in (("name,email\nAnn,ann@uni\n", "no `student` column"),
                        ("student,email\nann,a@uni\nann,b@uni\n", "listed twice")):
        result = nnzoo("export", "canvas", str(book), "--roster", str(roster(tmp_path, text)),
                       "--out", str(tmp_path / "c.csv"))
        assert result.returncode == 2 and words in result.stderr and result.stderr.count("\n") == 1, result.stderr
    result = nnzoo("export", "canvas", str(tmp_path / "nowhere"), "--roster", str(tmp_path / "roster.csv"),
                   "--out", str(tmp_path / "c.csv"))
    assert result.returncode == 2 and "nnzoo grade --out" in result.stderr


def test_the_export_never_replaces_the_roster_or_a_gradebook_file(tiny_course, tmp_path):
    """`--out` the roster, a file inside the gradebook, or a folder: refused in one line,
    and the file it named is unchanged."""
    book = gradebook(tmp_path, {"ann": {"tiny": 3.0}})
    people = roster(tmp_path, "student,email\nann,ann@uni\n")
    (book / "grades.csv").write_text("student,tiny,total\nann,3.0,3.0\n")
    for out, words in ((people, "is the roster"), (book / "grades.csv", "inside the gradebook"), (tmp_path, "is a folder")):
        before = out.read_text() if out.is_file() else None
        result = nnzoo("export", "canvas", str(book), "--roster", str(people), "--out", str(out))
        assert result.returncode == 2 and words in result.stderr and result.stderr.count("\n") == 1, result.stderr
        assert before is None or out.read_text() == before
