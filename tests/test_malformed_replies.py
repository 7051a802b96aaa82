"""A reply the worker forged without the parts a probe sends (a missing key, a short list)
is the student's failure — never a "grader could not evaluate" error that asks for a rerun."""

from __future__ import annotations

import pytest

from autograder.errors import SubmissionFailure
from autograder.judge.verdict import verdict_for
from autograder.sandbox.client import as_reply


def test_a_missing_key_of_a_reply_is_a_student_failure():
    reply = as_reply({"ok": {"output": [1.0], "nested": {"a": 1}}})
    with pytest.raises(SubmissionFailure) as info:
        reply["ok"]["param_grads"]
    assert verdict_for(info.value, in_process=False).status == "failed"
    with pytest.raises(SubmissionFailure):
        reply["ok"]["nested"]["b"]
    with pytest.raises(SubmissionFailure):
        reply["ok"]["output"][3]
    assert reply["ok"].get("missing") is None and reply["ok"]["output"][0] == 1.0
