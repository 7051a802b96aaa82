"""Requests pipelined to a sandboxed worker (`SandboxSubject.run_each`): each request is
sent before the answer to the one before is read.  The answers are the ones asked for, in
order, whatever the consumer does: stop early, meet a raised error, a hang or a crash.
And a request submitted (`submit`) while the judge works: its answer, read later, is its
own, with the same errors as `run`, and misuse is the grader's error."""

from __future__ import annotations

import time

import pytest
import torch

from autograder.errors import GraderError, StudentCodeError, SubmissionFailure
from autograder.judge.subject import LocalSubject, Raised, SandboxSubject, submit
from autograder.sandbox import SandboxLimits
from autograder.sandbox.client import AHEAD_BYTES

LIMITS = SandboxLimits(call_seconds=5)
MODULE = """
import os, time
import torch

def double(x):
    if float(x.flatten()[0]) == -1:
        raise ValueError("minus one")
    if float(x.flatten()[0]) == -2:
        time.sleep(3600)
    if float(x.flatten()[0]) == -3:
        os._exit(1)
    return x * 2

def widen(x):
    return x.repeat(4)

def grow(x):
    return x.repeat(2**20)
"""


def requests(*firsts: float, size: int = 1, call: str = "double") -> list[dict]:
    return [dict(call=call, args=(torch.full((size,), float(v)),), backward=False) for v in firsts]


@pytest.fixture
def subject():
    sub = SandboxSubject(MODULE, "mlp", LIMITS)
    yield sub
    sub.close()


def outputs(results) -> list[float]:
    return [float(r["output"][0]) for r in results]


def test_answers_come_in_order_and_equal_one_by_one(subject):
    asked = requests(1, 2, 3, 4)
    assert outputs(subject.run_each("run", asked)) == [2, 4, 6, 8]
    assert outputs(subject.run("run", **r) for r in asked) == [2, 4, 6, 8]


def test_requests_and_answers_larger_than_the_pipe_do_not_deadlock(subject):
    """A request over `AHEAD_BYTES` waits for the answer before it; answers of 4 MB each
    (far over the pipe's buffer) are read while the next, small request waits in the worker."""
    n = AHEAD_BYTES // 4 + 1000  # float32: each request is over the limit
    big = requests(1, 2, 3, size=n, call="widen")
    assert [r["output"].numel() for r in subject.run_each("run", big)] == [4 * n] * 3
    huge = requests(5, 6, 7, call="grow")  # 4 bytes in, 4 MB out
    assert outputs(subject.run_each("run", huge)) == [5, 6, 7]


def test_a_consumer_that_stops_early_never_reads_a_stale_answer(subject):
    pipeline = subject.run_each("run", requests(1, 2, 3))
    assert outputs([next(pipeline)]) == [2]  # the answer to 2 is in flight: abandoned
    assert outputs([subject.run("run", **requests(10)[0])]) == [20]
    assert outputs(subject.run_each("run", requests(11, 12))) == [22, 24]


def test_a_raised_error_comes_at_its_request_and_the_next_answer_is_its_own(subject):
    got = []
    with pytest.raises(StudentCodeError) as info:
        for result in subject.run_each("run", requests(1, -1, 3)):
            got.append(float(result["output"][0]))
    assert got == [2] and "ValueError" in info.value.types
    assert outputs([subject.run("run", **requests(4)[0])]) == [8]


@pytest.mark.parametrize("bad, reason", [(-2, "timeout"), (-3, "exit")])
def test_a_hang_or_a_crash_mid_pipeline_fails_at_its_request(subject, bad, reason):
    got = []
    with pytest.raises(SubmissionFailure) as info:
        for result in subject.run_each("run", requests(1, bad, 3)):
            got.append(float(result["output"][0]))
    assert got == [2] and info.value.reason == reason
    assert outputs([subject.run("run", **requests(4)[0])]) == [8]


def test_a_check_that_interleaves_its_requests_with_a_pipeline_is_a_grader_error(subject):
    pipeline = subject.run_each("run", requests(1, 2, 3))
    next(pipeline)
    assert outputs([subject.run("run", **requests(10)[0])]) == [20]  # restarts: 2 is in flight
    with pytest.raises(GraderError):
        next(pipeline)


# -- submit: send now, read later --------------------------------------------------------------

def test_a_submitted_answer_is_read_after_the_judge_worked_and_read_once(subject):
    answer = submit(subject, "run", **requests(3)[0])
    assert subject.worker._in_flight == 1  # sent before the judge reads it
    assert outputs([answer()]) == [6]
    assert answer() is answer()  # read once, then the same result
    assert outputs([subject.run("run", **requests(4)[0])]) == [8]


def test_a_submitted_call_is_timed_from_its_submission():
    limits = SandboxLimits(call_seconds=2)
    sub = SandboxSubject(MODULE, "mlp", limits)
    try:
        answer = submit(sub, "run", **requests(-2)[0])  # hangs
        time.sleep(limits.call_seconds + 0.2)  # the judge's own work outlasted the call's time
        start = time.monotonic()
        with pytest.raises(SubmissionFailure) as info:
            answer()
        assert info.value.reason == "timeout" and time.monotonic() - start < 1  # not another call's time
    finally:
        sub.close()


@pytest.mark.parametrize("bad, outcome", [(-1, "raised"), (-3, "exit")])
def test_a_submitted_call_raises_what_run_raises_when_it_is_read(subject, bad, outcome):
    answer = submit(subject, "run", **requests(bad)[0])  # nothing raised yet
    if outcome == "raised":
        with pytest.raises(StudentCodeError) as info:
            answer()
        assert "ValueError" in info.value.types
        assert isinstance(submit(subject, "run", allow_error=True, **requests(bad)[0])(), Raised)
    else:
        with pytest.raises(SubmissionFailure) as info:
            answer()
        assert info.value.reason == "exit"
    assert outputs([subject.run("run", **requests(5)[0])]) == [10]


def test_an_answer_never_read_is_never_read_by_the_next_request(subject):
    submit(subject, "run", **requests(1)[0])  # the check failed before reading it
    assert outputs([subject.run("run", **requests(7)[0])]) == [14]


def test_a_request_sent_before_a_submitted_answer_was_read_is_a_grader_error(subject):
    answer = submit(subject, "run", **requests(1)[0])
    assert outputs([subject.run("run", **requests(2)[0])]) == [4]  # restarts: 1 is in flight
    with pytest.raises(GraderError):
        answer()


def test_submit_runs_at_once_on_a_subject_in_this_process():
    namespace = type("Module", (), {"double": staticmethod(lambda x: x * 2)})
    local = LocalSubject(namespace)
    answer = submit(local, "run", **requests(3)[0])
    assert outputs([answer()]) == [6]
