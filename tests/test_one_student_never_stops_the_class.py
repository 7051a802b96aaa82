"""Any exception while the judge handles one student's input — reading their zip, turning
their notebook into code, scanning it, decoding a reply, comparing, writing their report —
becomes that student's problem or grader error, and the batch goes on: the other two
students of a class of three are graded as usual.

The failures are injected (monkeypatched) at each stage for one student, the victim; the
class takes the throwaway `tiny` assignment (tests/conftest.py): a batch costs seconds.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, Callable

import nbformat
import pytest
import torch

import autograder.batch as batch
import autograder.judge.run as judge_run
import autograder.load as load
import autograder.sandbox.client as client
from autograder.batch import BatchOptions, grade_class
from autograder.checks import base as checks_base
from autograder.load import load_class
from autograder.worker.limits import SandboxLimits

CORRECT = "import torch\n\ndef double(x):\n    return x + x\n"
BROKEN = "import torch\n\ndef double(x):\n    return x * 3\n"
MARKER = "# the victim\n"
SEVEN = "import torch\n\ndef double(x):\n    return torch.full_like(x, 777.0)\n"  # a value the injection spots
LIMITS = SandboxLimits(call_seconds=20)


def failing(original: Callable, is_victim: Callable[..., bool]) -> Callable:
    """`original`, raising instead when called for the victim."""
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if is_victim(*args, **kwargs):
            raise RuntimeError("injected")
        return original(*args, **kwargs)
    return wrapper


def holds_777(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return value.is_floating_point() and bool((value == 777.0).any())
    if isinstance(value, (list, tuple)):
        return any(holds_777(v) for v in value)
    if isinstance(value, dict):
        return any(holds_777(v) for v in value.values())
    return False


def decode_failing_for_777(original: Callable) -> Callable:
    def decode(data: bytes, limits: Any) -> Any:
        value = original(data, limits)
        if holds_777(value):
            raise RuntimeError("injected")
        return value
    return decode


#: stage → (the victim's files, how to inject the failure)
STAGES: dict[str, tuple[dict[str, bytes], Callable[[pytest.MonkeyPatch], None]]] = {
    "zip reading": ({"dan.zip": b"zip"}, lambda mp: mp.setattr(
        load, "read_zip", failing(load.read_zip, lambda path, *_: path.name == "dan.zip"))),
    "notebook conversion": ({"dan/tiny.ipynb": b"notebook"}, lambda mp: mp.setattr(
        load, "read_notebook", failing(load.read_notebook, lambda data, *_: MARKER.strip().encode() in data))),
    "scan": ({"dan/tiny.py": (MARKER + CORRECT).encode()}, lambda mp: mp.setattr(
        judge_run, "scan_source", failing(judge_run.scan_source, lambda source: MARKER in source))),
    "reply decoding": ({"dan/tiny.py": SEVEN.encode()}, lambda mp: mp.setattr(
        client, "decode", decode_failing_for_777(client.decode))),
    "comparison": ({"dan/tiny.py": SEVEN.encode()}, lambda mp: mp.setattr(
        checks_base, "expect_close", failing(checks_base.expect_close, lambda actual, *a, **k: holds_777(actual)))),
    "report writing": ({"dan/tiny.py": CORRECT.encode()}, lambda mp: mp.setattr(
        batch, "feedback_markdown", failing(batch.feedback_markdown, lambda record, *a, **k: record.student == "dan"))),
}


def make_class(root: Path, victim: dict[str, bytes]) -> Path:
    """ann (correct), bob (broken), and the victim dan."""
    subs = root / "subs"
    for student, source in (("ann", CORRECT), ("bob", BROKEN)):
        (subs / student).mkdir(parents=True)
        (subs / student / "tiny.py").write_text(source)
    for rel, content in victim.items():
        path = subs / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".zip"):
            with zipfile.ZipFile(path, "w") as zf:
                zf.writestr("tiny.py", CORRECT)
        elif rel.endswith(".ipynb"):
            nb = nbformat.v4.new_notebook()
            nb.cells = [nbformat.v4.new_code_cell(MARKER + CORRECT)]
            nbformat.write(nb, path)
        else:
            path.write_bytes(content)
    return subs


@pytest.mark.parametrize("stage", list(STAGES))
def test_a_failure_at_each_stage_costs_one_student_only(stage, tiny_course, tmp_path, monkeypatch):
    victim, inject = STAGES[stage]
    subs = make_class(tmp_path, victim)
    inject(monkeypatch)
    out = tmp_path / "out"
    summary = grade_class(load_class(subs, ["tiny"]), BatchOptions(out=out, assignments=["tiny"], limits=LIMITS))
    records = {r.student: r for r in summary.records}
    assert records["ann"].assignments["tiny"].score == 3 and not records["ann"].assignments["tiny"].errors
    assert records["bob"].assignments["tiny"].score == 0 and not records["bob"].assignments["tiny"].errors
    dan = records["dan"].assignments["tiny"]
    if stage == "report writing":  # the grade is recorded; the feedback says why it is missing
        assert dan.score == 3 and "could not be written" in (out / "feedback" / "dan.md").read_text()
    else:
        assert dan.score == 0 and all(t.message for t in dan.tests)
    assert (out / "grades.csv").read_text().count("\n") == 4
