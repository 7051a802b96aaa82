"""Class-level reports are paced: a slow rewrite (a huge class) is not repeated after every
student, yet the last one always reflects every record."""

from __future__ import annotations

import time

import autograder.batch as batch
from autograder.batch import BatchOptions, grade_class
from autograder.judge.result import AssignmentResult, StudentRecord
from autograder.load import StudentSubmission


class Instant:
    """An executor whose students are graded at once (no sandbox: only the batch is tested)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def run(self, todo, limits, prints):
        for sub, assignments in todo:
            yield StudentRecord(sub.student, {a: AssignmentResult(fingerprint=prints[a]) for a in assignments})


def test_a_slow_class_report_is_written_less_often_but_last(tiny_course, tmp_path, monkeypatch):
    written: list[int] = []

    def slow_grade_files(self, records, assignments):
        time.sleep(0.05)
        written.append(len(records))

    monkeypatch.setattr(batch.ClassReports, "write_grade_files", slow_grade_files)
    subs = [StudentSubmission(f"s{i:02d}", sources={"tiny": "x = 1\n"}) for i in range(40)]
    grade_class(subs, BatchOptions(out=tmp_path / "out", assignments=["tiny"], executor=Instant()))
    assert written[0] == 1 and written[-1] == 40
    assert len(written) < 10, "a rewrite 10x slower than a student should not follow every student"
