"""One student must never take the class down, nor cost the judge more than allowed
(docs/threat-model.md, "Judge side").

A class of two honest students and one hostile student of each kind the outside review
found — a source Python cannot compile, replies over the size limit, a reply whose
structure nests without end, exception type names of megabytes, strings no file can hold,
a zip of thousands of entries, a link to the reference, a notebook that fights back — is
graded by `nnzoo grade` in a process of its own: the honest students get
exactly the grades they get alone, the batch finishes with exit code 0 (student failures
are not grader errors), grades.json stays small, and the judge's peak memory stays within
2× of grading the honest students alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from autograder.course import assignment

HERE = Path(__file__).parent
CORRECT = (HERE / "submissions" / "mlp" / "correct_einsum.py").read_text()
BROKEN = (HERE / "submissions" / "mlp" / "broken_no_value_error.py").read_text()


def sends(payload: str) -> str:
    """A correct submission whose worker sends `payload` (an expression for the bytes of a
    frame, given the frame it meant to send as `frame`) instead of each probe's reply."""
    return CORRECT + textwrap.dedent(f"""
        from multiprocessing.connection import Connection as _Connection
        _honest = _Connection.send_bytes
        _greeted = []

        def _send(self, frame, *args):
            if len(_greeted) < 1:  # the import greeting goes through: the probes' replies are forged
                _greeted.append(1)
                return _honest(self, frame, *args)
            return _honest(self, {payload}, *args)

        _Connection.send_bytes = _send
        """)


HOSTILE = {
    "deep": "x = " + "+".join(["1"] * 200_000) + "\n" + CORRECT,
    "huge_reply": sends("b'0' * (64 * 1024 * 1024)"),
    "json_bomb": sends("__import__('safetensors.torch').torch.save({}, metadata={'structure': '[' * 200000 + ']' * 200000})"),
    "long_type": sends("__import__('autograder.worker.encoding').worker.encoding.encode("
                       "{'raised': {'types': ['E' * 20000] * 40, 'message': 'm', 'where': ''}})"),
    "surrogates": sends("__import__('autograder.worker.encoding').worker.encoding.encode("
                        "{'raised': {'types': ['E\\ud800'], 'message': '\\ud800' * 100, 'where': ''}})"),
}


def make_class(root: Path, *, hostile: bool) -> Path:
    subs = root / "subs"
    for name, source in {"honest_ann": CORRECT, "honest_bob": BROKEN}.items():
        (subs / name).mkdir(parents=True)
        (subs / name / "mlp.py").write_text(source)
    if not hostile:
        return subs
    for name, source in HOSTILE.items():
        (subs / name).mkdir()
        (subs / name / "mlp.py").write_text(source)
    with zipfile.ZipFile(subs / "many_entries.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(5000):
            zf.writestr(f"junk/{i}/mlp.py", "x" * 10_000)  # thousands of candidates: only the shallowest is read
        zf.writestr("mlp.py", CORRECT)
    with zipfile.ZipFile(subs / "too_many.zip", "w") as zf:
        for i in range(10_001):
            zf.writestr(f"{i}.txt", "")
    os.symlink(assignment("mlp").solution_dir, subs / "link_to_reference")
    (subs / "file_link").mkdir()
    os.symlink(assignment("mlp").reference, subs / "file_link" / "mlp.py")
    (subs / "bad_notebook").mkdir()
    (subs / "bad_notebook" / "mlp.ipynb").write_text('{"cells": [' * 100_000)
    return subs


DRIVER = """
import resource, sys
from autograder.cli import main
code = main(sys.argv[1:])
print("PEAK_KIB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(code)
"""


def start_grading(subs: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", DRIVER, "grade", str(subs), "--out", str(out), "-a", "mlp",
                             "--call-seconds", "10"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> tuple[subprocess.CompletedProcess, int]:
    stdout, stderr = process.communicate(timeout=900)
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    peak = int(stdout.rsplit("PEAK_KIB", 1)[1].split()[0]) if "PEAK_KIB" in stdout else 0
    return result, peak


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    """The honest class and the hostile one, graded at once (the hostile one mostly waits
    on its hangs' timeouts)."""
    base = tmp_path_factory.mktemp("hostile")
    honest = start_grading(make_class(base / "honest", hostile=False), base / "honest_out")
    hostile = start_grading(make_class(base / "hostile", hostile=True), base / "hostile_out")
    (honest, honest_peak), (hostile, hostile_peak) = finish(honest), finish(hostile)
    return {"honest": honest, "hostile": hostile, "honest_peak": honest_peak, "hostile_peak": hostile_peak,
            "honest_out": base / "honest_out", "hostile_out": base / "hostile_out"}


def students(out: Path) -> dict:
    return {s["student"]: s for s in json.loads((out / "grades.json").read_text())["students"]}


def test_the_batch_finishes_with_exit_code_0(graded):
    assert graded["honest"].returncode == 0, graded["honest"].stderr[-2000:]
    assert graded["hostile"].returncode == 0, graded["hostile"].stderr[-2000:]


def test_honest_students_get_exactly_their_usual_grades(graded):
    alone, together = students(graded["honest_out"]), students(graded["hostile_out"])
    for name in ("honest_ann", "honest_bob"):
        assert together[name]["assignments"]["mlp"]["tests"] == alone[name]["assignments"]["mlp"]["tests"]


def test_every_hostile_student_is_graded_with_a_reason_and_no_grader_error(graded):
    graded_students = students(graded["hostile_out"])
    expected = {*HOSTILE, "many_entries", "too_many", "link_to_reference", "file_link", "bad_notebook"}
    assert expected <= set(graded_students)
    for name in expected - {"many_entries"}:
        tests = graded_students[name]["assignments"]["mlp"]["tests"]
        assert all(t["status"] == "failed" and t["message"] for t in tests), (name, tests[:2])
    assert graded_students["many_entries"]["total"] == graded_students["honest_ann"]["total"]


def test_the_reasons_say_what_happened(graded):
    s = students(graded["hostile_out"])
    first = {name: s[name]["assignments"]["mlp"]["tests"][0]["message"] for name in s}
    assert "nests too deeply" in first["deep"]
    assert "MiB limit" in first["huge_reply"]
    assert "refuses" in first["json_bomb"] and "refuses" in first["long_type"]
    assert "link" in first["link_to_reference"] and "at most 10000" in first["too_many"]
    assert "mlp.py is a link; links are not followed" in first["file_link"]  # said as what it is, not "no mlp.py"
    assert "link" in " ".join(s["file_link"].get("notes", []))
    assert "could not be read" in first["bad_notebook"]


def test_grades_json_stays_small(graded):
    per_student = (graded["hostile_out"] / "grades.json").stat().st_size / len(students(graded["hostile_out"]))
    assert per_student < 64 * 1024


def test_the_judge_peak_memory_stays_within_twice_an_honest_class(graded):
    assert graded["honest_peak"] > 0 and graded["hostile_peak"] > 0
    assert graded["hostile_peak"] <= 2 * graded["honest_peak"], (graded["hostile_peak"], graded["honest_peak"])


def test_a_frame_sent_in_half_and_never_finished_times_out(tmp_path):
    """The judge reads a reply against the call's deadline: a worker that sends a frame's
    length and a few bytes, then stalls, costs one call's limit, not a hung judge."""
    from autograder.errors import SubmissionFailure
    from autograder.judge.subject import SandboxSubject
    from autograder.worker.limits import SandboxLimits

    stall = CORRECT + textwrap.dedent("""
        import os, time
        from multiprocessing.connection import Connection as _Connection
        _honest = _Connection.send_bytes
        _greeted = []

        def _send(self, frame, *args):
            if not _greeted:
                _greeted.append(1)
                return _honest(self, frame, *args)
            os.write(self.fileno(), (1000).to_bytes(4, "big") + b"x" * 10)
            time.sleep(3600)

        _Connection.send_bytes = _send
        """)
    subject = SandboxSubject(stall, "mlp", SandboxLimits(call_seconds=2))
    try:
        with pytest.raises(SubmissionFailure) as info:
            subject.run("state_dict", model=__import__("autograder.worker.spec").worker.spec.Build("Linear", 2, 3))
    finally:
        subject.close()
    assert info.value.reason == "timeout"
