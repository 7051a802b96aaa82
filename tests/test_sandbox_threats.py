"""The threat model (docs/threat-model.md), one test per line: what a hostile submission
tries, and that it gains nothing, harms no one and is reported with a reason.

Most tests drive a sandboxed worker directly with the `run` probe (fast); a few grade a
whole hostile submission to show the score is only what it earns.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import torch

from autograder.course import project_root
from autograder.errors import StudentCodeError, SubmissionFailure
from autograder.judge.run import grade_source
from autograder.judge.scan import scan_source
from autograder.judge.subject import SandboxSubject
from autograder.load import load_class
from autograder.sandbox import SandboxLimits
from autograder.sandbox.client import claim_worker_uid
from autograder.sandbox.reap import live_processes as _live_processes

LIMITS = SandboxLimits(call_seconds=3)  # single probes: a hang costs 3 s
GRADING = SandboxLimits(call_seconds=60)  # whole gradings: training must not time out on a loaded machine
CORRECT = (Path(__file__).parent / "submissions" / "mlp" / "correct_einsum.py").read_text()
ROOT = os.getuid() == 0


def relu_of(body: str, header: str = "") -> str:
    """A submission whose `relu` runs `body` (indented) before computing the right answer."""
    body = "".join(f"    {line}\n" for line in body.strip().splitlines())
    return header + "\nimport torch\n\ndef relu(x):\n" + body + "    return torch.clamp(x, min=0)\n"


def call_relu(source: str):
    subject = SandboxSubject(source, "mlp", LIMITS)
    try:
        return subject.run("run", call="relu", args=(torch.tensor([-1.0, 2.0]),), backward=False)["output"]
    finally:
        subject.close()


def failure_of(source: str) -> SubmissionFailure | StudentCodeError:
    with pytest.raises((SubmissionFailure, StudentCodeError)) as info:
        call_relu(source)
    return info.value


def worker_processes() -> list[int]:
    """Live processes of this judge's worker uid."""
    return _live_processes(claim_worker_uid(LIMITS.worker_uid))


# -- exiting early ---------------------------------------------------------------------------

def test_os_exit_mid_call_is_reported_as_exit():
    assert failure_of(relu_of("import os\nos._exit(0)")).reason == "exit"


def test_sys_exit_at_import_is_an_import_error():
    err = failure_of("import sys\nsys.exit(0)\n")
    assert isinstance(err, StudentCodeError) and err.type_name == "SystemExit" and err.during


def test_keyboard_interrupt_mid_call_is_the_students_exception():
    err = failure_of(relu_of("raise KeyboardInterrupt"))
    assert isinstance(err, StudentCodeError) and err.type_name == "KeyboardInterrupt"


# -- hanging ---------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    "import signal\nfor s in (signal.SIGTERM, signal.SIGALRM, signal.SIGXCPU, signal.SIGINT):\n    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass",
    "import time\ntime.sleep(3600)",
    "import threading\nthreading.Lock().acquire(); threading.Lock().acquire()\nl = threading.Lock(); l.acquire(); l.acquire()",
])
def test_hangs_that_ignore_signals_are_killed_at_the_wall_clock(body):
    start = time.monotonic()
    assert failure_of(relu_of(body)).reason == "timeout"
    assert time.monotonic() - start < LIMITS.call_seconds + 3


def test_input_gets_end_of_file_instead_of_waiting():
    err = failure_of(relu_of("input('answer? ')"))
    assert isinstance(err, StudentCodeError) and err.type_name == "EOFError"


# -- processes left behind -------------------------------------------------------------------

@pytest.mark.skipif(not ROOT, reason="a per-worker uid (to kill every leftover) needs root")
def test_a_daemon_holding_the_pipe_is_killed_and_costs_nothing():
    daemon = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(1000)\n    os._exit(0)"
    assert torch.equal(call_relu(relu_of(daemon)), torch.tensor([0.0, 2.0]))
    assert worker_processes() == []


@pytest.mark.skipif(not ROOT, reason="the PID namespace needs root (or user namespaces)")
def test_the_worker_sees_no_process_but_its_own():
    """PID 1 of its own namespace, with a /proc of its own: the judge, the fork server and
    other students' workers are invisible (no pid to signal, no cmdline to read)."""
    peek = ("import os\npids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
            "if os.getpid() != 1 or pids != [1]:\n    raise RuntimeError(f'pid {os.getpid()}, sees {pids}')")
    assert torch.equal(call_relu(relu_of(peek)), torch.tensor([0.0, 2.0]))


@pytest.mark.skipif(not ROOT, reason="RLIMIT_NPROC only binds another uid than root")
def test_a_fork_bomb_is_bounded_and_cleaned_up():
    bomb = "import os, time\nfor _ in range(10000):\n    if os.fork() == 0:\n        time.sleep(1000)\n        os._exit(0)"
    err = failure_of(relu_of(bomb))
    assert isinstance(err, StudentCodeError) and "BlockingIOError" in err.types or "OSError" in err.types
    assert worker_processes() == []


# -- resources -------------------------------------------------------------------------------

def test_allocating_far_too_much_memory_fails_inside_the_worker():
    err = failure_of(relu_of("hog = torch.ones(2**34, dtype=torch.uint8)"))
    assert "memory" in str(err).lower()


def test_many_threads_do_not_break_the_worker():
    assert torch.equal(call_relu(relu_of("torch.set_num_threads(64)")), torch.tensor([0.0, 2.0]))


def test_printing_megabytes_is_capped_not_shown():
    source = relu_of("import sys\nfor _ in range(200):\n    sys.stdout.write('x' * 1_000_000)")
    err = failure_of(source)
    assert "File too large" in str(err)


def test_filling_the_disk_stays_in_a_capped_private_tmpfs():
    fill = "for i in range(100):\n    open(f'/tmp/fill{i}', 'wb').write(b'0' * 50_000_000)"
    err = failure_of(relu_of(fill))
    assert "No space left" in str(err) or "File too large" in str(err)
    assert not Path("/tmp/fill0").exists()


def test_network_is_unreachable():
    err = failure_of(relu_of("import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=1)"))
    assert isinstance(err, StudentCodeError) and ("PermissionError" in err.types or "OSError" in err.types)


# -- reading what it must not ----------------------------------------------------------------

def test_solutions_are_unreadable_from_the_worker():
    target = project_root() / "solutions" / "mlp" / "mlp.py"
    err = failure_of(relu_of(f"open({str(target)!r}).read()"))
    # hidden behind an empty tmpfs, or (for a checkout under /tmp) not there at all
    assert isinstance(err, StudentCodeError) and err.type_name in ("PermissionError", "FileNotFoundError")


def test_walking_up_from_file_and_cwd_finds_no_solutions():
    walk = (
        "import os\nfound = []\n"
        "for start in (os.path.dirname(__file__), os.getcwd()):\n"
        "    d = start\n"
        "    while d != '/':\n"
        "        p = os.path.join(d, 'solutions', 'mlp', 'mlp.py')\n"
        "        try:\n            found.append(open(p).read())\n        except OSError:\n            pass\n"
        "        d = os.path.dirname(d)\n"
        "if found:\n    raise RuntimeError('read the reference')"
    )
    assert torch.equal(call_relu(relu_of(walk)), torch.tensor([0.0, 2.0]))


def test_memory_of_the_worker_holds_no_reference_or_expected_values():
    snoop = (
        "import gc, sys\n"
        "leaks = [m for m in sys.modules if 'nnzoo_reference' in m or 'test_hidden' in m]\n"
        "leaks += [o for o in gc.get_objects() if isinstance(o, dict) and 'test_linear_forward_matches_reference' in o]\n"
        "if leaks:\n    raise RuntimeError(f'found {leaks[:3]}')"
    )
    assert torch.equal(call_relu(relu_of(snoop)), torch.tensor([0.0, 2.0]))


# -- lying to the judge ----------------------------------------------------------------------

def test_a_tensor_subclass_that_lies_is_rejected():
    liar = (
        "class Liar(torch.Tensor):\n"
        "    def __eq__(self, other):\n        return True\n"
        "    @classmethod\n"
        "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n        return True\n"
        "def relu(x):\n    return torch.zeros(2).as_subclass(Liar)\n"
    )
    out = call_relu("import torch\n" + liar)
    assert isinstance(out, dict) and out.get("__nontensor__") == "Liar"


def test_a_crafted_pickle_sent_to_the_judge_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    forge = (
        "import os, pickle, struct\n"
        "class Evil:\n"
        f"    def __reduce__(self):\n        return (os.system, ('touch {marker}',))\n"
        "payload = pickle.dumps(Evil())\n"
        "for fd in range(3, 64):\n"
        "    try:\n        os.write(fd, struct.pack('!i', len(payload)) + payload)\n    except OSError:\n        pass\n"
        "os._exit(0)"
    )
    err = failure_of(relu_of(forge))
    assert isinstance(err, SubmissionFailure) and err.reason in ("crash", "exit")
    assert not marker.exists()


def test_monkeypatching_comparisons_in_the_worker_changes_nothing():
    cheat = CORRECT.replace("        return y if self.bias is None else y + self.bias", "        return y") + (
        "\nimport numpy\ntorch.allclose = lambda *a, **k: True\ntorch.testing.assert_close = lambda *a, **k: None\n"
        "torch.Tensor.__eq__ = lambda self, other: True\nnumpy.allclose = lambda *a, **k: True\n"
    )
    result = grade_source(cheat, "mlp", GRADING)
    failed = {t.name for t in result.tests if t.status != "passed"}
    assert failed == {"test_linear_forward_matches_reference", "test_linear_gradients_match_reference"}


def test_nan_outputs_fail_with_a_reason():
    result = grade_source(CORRECT.replace("    return torch.where(x > 0, x, torch.zeros_like(x))", "    return x * float('nan')"), "mlp", GRADING)
    relu = next(t for t in result.tests if t.name == "test_relu_matches_reference")
    assert relu.status == "failed" and "NaN" in relu.message


def test_fake_pytest_output_and_fake_result_files_change_nothing(tmp_path):
    fake = (
        "import os, sys\nprint('=== 15 passed in 0.1s ===')\n"
        "for d in (os.getcwd(), '/tmp', os.path.dirname(os.getcwd()), '/'):\n"
        "    try:\n        open(os.path.join(d, 'grades.json'), 'w').write('{}')\n    except OSError:\n        pass\n"
    )
    result = grade_source(fake + "\nraise RuntimeError('nothing else')\n", "mlp", GRADING)
    assert result.score == 0
    assert not Path("/tmp/grades.json").exists() and not Path("/grades.json").exists()


def test_only_the_assignment_file_is_taken_from_a_submission(tmp_path):
    student = tmp_path / "subs" / "mallory"
    (student / "torch").mkdir(parents=True)
    (student / "torch" / "__init__.py").write_text("raise SystemExit")
    (student / "conftest.py").write_text("import os; os._exit(1)")
    (student / "sitecustomize.py").write_text("import os; os._exit(1)")
    (student / "evil.pth").write_text("import os; os._exit(1)")
    (student / "mlp.py").write_text(CORRECT)
    [sub] = load_class(tmp_path / "subs", ["mlp"])
    assert sub.sources == {"mlp": CORRECT}


def test_suspicious_calls_are_flagged_for_review():
    flagged = scan_source("import ctypes, gc, sys\nf = sys._getframe(1)\nexec('1')\n").suspicious()
    assert {"ctypes", "gc", "sys._getframe", "exec"} <= set(flagged)


def test_forbidden_builtin_through_an_alias_is_found():
    scan = scan_source("from torch.nn import functional as Fn\nfrom torch import nn as N\ny = Fn.linear(x, w)\nL = N.Linear\n")
    assert scan.forbidden(["torch.nn.Linear", "torch.nn.functional.linear"]) == ["torch.nn.Linear", "torch.nn.functional.linear"]


def test_the_sandbox_level_in_force_is_reported():
    subject = SandboxSubject(CORRECT, "mlp", LIMITS)
    try:
        subject.run("run", call="relu", args=(torch.ones(1),), backward=False)
        levels = subject.worker.levels
    finally:
        subject.close()
    assert set(levels) >= {"network", "processes", "file system", "user", "limits", "scratch", "seccomp"}
    if ROOT:
        assert levels["network"] == "no network (namespace)"
        assert levels["processes"] == "own PID namespace"
        assert levels["file system"].startswith("allow-list root")
        assert levels["user"] == "own unprivileged uid"


def test_a_sandbox_that_cannot_start_is_a_grader_error_not_a_zero(monkeypatch):
    from autograder.sandbox import client

    def broken(self):
        raise OSError("fork server unavailable")

    monkeypatch.setattr(client.ForkServer, "get", classmethod(lambda cls: broken(cls)))
    result = grade_source(CORRECT, "mlp", GRADING)
    assert {t.status for t in result.tests} == {"error"}
    assert all(t.message.startswith("grader error — rerun") for t in result.tests)
