"""The public tests on a student's machine: one torch thread, a time limit per test that
names the function that did not return, failures at the student's own line (no grader
frames), parametrised ids kept, and one reason per cause — through `nnzoo test` and a
plain `pytest` run alike.

A toy assignment (`toy.py` and `test_toy.py`, written here) stands in for a real one, so
these tests do not change when the assignments' public tests do.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

TOY = '''\
import torch


def spin(x):
    n = 0
    while True:
        n += 1


def matmul_wrong(x):
    return x @ x


def unwritten(x):
    raise NotImplementedError("write me: return x + 1")
'''

TESTS = '''\
import pytest
import torch


@pytest.mark.points(1)
@pytest.mark.timeout(1)
def test_spin_returns(submission):
    submission.run("run", call="spin", args=(torch.ones(2),), backward=False)


@pytest.mark.points(1)
def test_threads_and_time_limit(submission, request):
    assert torch.get_num_threads() == 1
    assert request.node.get_closest_marker("timeout").args[0] > 0


@pytest.mark.points(1)
def test_matmul(submission):
    submission.run("run", call="matmul_wrong", args=(torch.ones(2, 3),), backward=False)


@pytest.mark.points(1)
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_unwritten(submission, cell):
    submission.run("run", call="unwritten", args=(torch.ones(2),), backward=False)


@pytest.mark.points(1)
@pytest.mark.trains
def test_training(submission):
    pass
'''

RUN = '''\
import sys, torch
from pathlib import Path
from autograder.cli import run_public_tests
torch.set_num_threads(2)
code = run_public_tests(Path(sys.argv[1]), quick=sys.argv[2] == "quick")
print("threads after:", torch.get_num_threads())
sys.exit(code)
'''


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("public") / "toy"
    folder.mkdir()
    (folder / "toy.py").write_text(TOY)
    (folder / "test_toy.py").write_text(TESTS)
    return folder


def run(*args, cwd=None):
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=cwd)
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def nnzoo_run(toy):
    """`nnzoo test` as it runs one assignment (run_public_tests), torch set to 2 threads before."""
    return run("-c", RUN, str(toy / "test_toy.py"), "full", cwd=toy)


@pytest.fixture(scope="module")
def pytest_run(toy):
    """A plain `pytest` run of the folder, as a student may type it."""
    return run("-m", "pytest", str(toy), "-q", "-p", "no:cacheprovider", cwd=toy)


def test_an_endless_loop_ends_naming_the_function_and_the_other_tests_run(nnzoo_run):
    assert "your `spin` did not return within 1 s — an endless loop?" in nnzoo_run
    assert "toy.py line 7, in spin: n += 1" in nnzoo_run or "toy.py line 6, in spin: while True:" in nnzoo_run
    assert re.search(r"4 failed, 2 passed", nnzoo_run), nnzoo_run[-2000:]


def test_public_tests_run_on_one_torch_thread_and_the_count_is_restored(nnzoo_run):
    assert "✓ test_threads_and_time_limit" in nnzoo_run
    assert "threads after: 2" in nnzoo_run


def test_a_failure_shows_the_students_line_and_no_grader_frames(nnzoo_run, pytest_run):
    assert "Your code raised RuntimeError" in nnzoo_run and "toy.py line 11, in matmul_wrong: return x @ x" in nnzoo_run
    for output in (nnzoo_run, pytest_run):
        assert "autograder/" not in output and "_pytest" not in output and "pluggy" not in output, output
    assert re.search(r"toy\.py:11: RuntimeError", pytest_run), pytest_run


def test_parametrised_tests_keep_their_ids(nnzoo_run):
    assert "✗ test_unwritten[lstm]" in nnzoo_run and "✗ test_unwritten[gru]" in nnzoo_run


def test_the_same_failure_is_given_once(nnzoo_run, pytest_run):
    assert nnzoo_run.count("`unwritten` is not written yet (toy.py line 15): write me: return x + 1") == 1
    assert "- test_unwritten[lstm], test_unwritten[gru]:" in nnzoo_run
    failures = pytest_run.split("nnzoo — points")[0]  # pytest's failure sections
    assert failures.count("NotImplementedError: write me") == 1
    assert "the same failure as test_unwritten[lstm] (above)" in pytest_run


def test_a_timeout_in_plain_pytest_reads_the_same(pytest_run):
    assert "your `spin` did not return within 1 s" in pytest_run
    assert "Timeout (>" not in pytest_run


def test_quick_leaves_out_the_tests_that_train(toy):
    output = run("-c", RUN, str(toy / "test_toy.py"), "quick", cwd=toy)
    assert "test_training" not in output and "test_matmul" in output


def test_nnzoo_test_on_the_untouched_mlp_stubs_is_short_and_says_each_reason_once():
    output = run("-m", "autograder.cli", "test", "mlp", cwd=ROOT)
    stubs = (ROOT / "assignments" / "mlp" / "mlp.py").read_text()
    unwritten = len(re.findall(r"raise NotImplementedError", stubs))
    assert "autograder/" not in output and "Traceback" not in output
    reasons = re.findall(r"`([\w.]+)` is not written yet", output)
    assert reasons and len(reasons) == len(set(reasons)) <= unwritten
    assert len(output.splitlines()) < 60, output



RUN_EACH = """\
import sys
from pathlib import Path
from autograder.cli import run_public_tests
for folder in sys.argv[1:]:
    print("=== " + folder, flush=True)
    sys.modules.pop("test_toy", None)  # each folder's test_toy.py is its own module
    run_public_tests(Path(folder) / "test_toy.py", quick=True)
"""


def test_a_syntax_error_or_a_missing_file_is_said_plainly(tmp_path):
    """Not "the test stopped on SyntaxError outside your file", not "Your code raised
    Failed": the same words as the batch's (all cases in one `nnzoo test`-like process); a
    top-level sys.exit() or input() named as what it is."""
    cases = {"syntax": ("def toy(:\n    pass\n", "toy.py has a syntax error (line 1: invalid syntax); fix it so Python can "
                                                 "import the file"),
             "missing": (None, "toy.py not found next to the tests in"),
             # a SyntaxError the student's own code raises is their exception, at their line
             "evaluated": ("x = eval('(')\n", "Your code raised SyntaxError"),
             # top-level code that exits or asks for input: said once for every test (it was "a check failed" after the
             # first test for sys.exit, and pytest's "reading from stdin while output is captured" for input())
             "exits": ("import sys\nsys.exit(0)\n", "importing toy.py called sys.exit(0) — code at the top level"),
             "asks": ("name = input('your name: ')\n", "importing toy.py asked for keyboard input (input())")}
    for name, (content, _) in cases.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "test_toy.py").write_text(TESTS)
        if content is not None:
            (tmp_path / name / "toy.py").write_text(content)
    output = run("-c", RUN_EACH, *(str(tmp_path / name) for name in cases), cwd=tmp_path)
    for name, (_, reason) in cases.items():
        part = output.split(f"=== {tmp_path / name}")[1].split("=== ")[0]
        assert reason in part and "outside your file" not in part and "a check failed" not in part, part[-1500:]
        assert name == "evaluated" or "raised" not in part, part[-1500:]
