"""The student bundle: stubs, public tests, the checks and a two-command set-up — and no
line of any solution, no hidden test, nothing of solutions/."""

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from autograder import course
from autograder.bundle import ENGINE_PROJECT, BundleError, check_needs, torch_pin, write_bundle
from autograder.bundle.leaks import is_trivial, solution_lines, strip_leaks
from autograder.course.stubs import expected_stub
from autograder.nbgrader.segments import named_tests

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "nnzoo-student"
    report = write_bundle(out)
    return out, report


def text_files(root):
    for path in sorted(root.rglob("*")):
        if path.is_file():
            try:
                yield path, path.read_text()
            except UnicodeDecodeError:
                continue  # binary data (datasets)


def test_bundle_holds_no_line_of_any_solution_region(bundle):
    out, _ = bundle
    lines = solution_lines(ROOT / "solutions")
    assert len(lines) > 50  # the check has teeth: every assignment's regions count
    leaks = [f"{path.relative_to(out)}: {line.strip()}" for path, text in text_files(out)
             for line in text.splitlines() if line.strip() and not is_trivial(line) and line.split("#")[0].strip() in lines]
    assert leaks == []


def test_bundle_holds_nothing_of_solutions_and_no_hidden_test(bundle):
    out, _ = bundle
    names = [str(p.relative_to(out)) for p in out.rglob("*")]
    assert not [n for n in names if "solutions" in n or n.endswith(("test_hidden.py", "answer_key.py"))]
    public = "".join((ROOT / "assignments" / a / f"test_{a}.py").read_text() for a in course.names(hidden=False))
    everything = "\n".join(text for _, text in text_files(out))
    for hidden in sorted(ROOT.glob("solutions/*/test_hidden.py")):
        for test in named_tests(hidden.read_text()):
            body = test.source.split("\n", 1)[1]
            if f"def {test.name}(" not in public:
                assert f"def {test.name}(" not in everything, test.name
            assert body[:300] not in everything, test.name


def test_bundle_has_the_stubs_the_public_tests_and_two_commands(bundle):
    out, _ = bundle
    for a in course.names(hidden=False):
        assert (out / "assignments" / a / f"test_{a}.py").is_file()
    assert (out / "assignments" / "mlp" / "mlp.py").read_text() == expected_stub(course.assignment("mlp"))
    assert (out / "autograder" / "judge" / "plugin.py").is_file() and (out / "pyproject.toml").is_file()
    readme, makefile = (out / "README.md").read_text(), (out / "Makefile").read_text()
    assert "make          #" in readme and "make test     #" in readme
    assert re.search(r"^setup: ", makefile, re.M) and "\t$(BIN)/nnzoo test $(A)" in makefile
    assert makefile.index("setup:") < makefile.index("test:")  # plain `make` sets up


def test_the_makefile_installs_the_cpu_torch_on_linux_unless_told_otherwise(bundle):
    out, _ = bundle
    pin = torch_pin(ENGINE_PROJECT)

    def torch_install(*args: str) -> str:
        dry = subprocess.run(["make", "-n", "-B", *args], cwd=out, capture_output=True, text=True, check=True).stdout
        return next(line for line in dry.splitlines() if line.endswith(pin))

    assert torch_install().endswith(f"pip install -q --index-url https://download.pytorch.org/whl/cpu {pin}")  # Linux here
    assert torch_install("TORCH_INDEX=").endswith(f"pip install -q  {pin}")


def test_grader_reimplementations_of_student_tasks_are_stubbed(bundle):
    out, report = bundle
    for entry in report.stubbed:
        file, name = entry.split(":")
        assert f"{name} is part of the grader" in (out / file).read_text()


def test_nnzoo_test_inside_the_bundle_runs_and_scores_the_stubs_zero(bundle):
    out, _ = bundle
    env = {**os.environ, "NNZOO_ROOT": str(out), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    where = subprocess.run([sys.executable, "-c", "import autograder; print(autograder.__file__)"],
                           cwd=out, env=env, capture_output=True, text=True)
    assert where.stdout.strip() == str(out / "autograder" / "__init__.py")  # the bundle's own package
    result = subprocess.run([sys.executable, "-m", "autograder.cli", "test", "mlp"], cwd=out, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode != 0
    assert f"public tests in {out / 'assignments' / 'mlp'}" in result.stdout
    total = re.search(r"total\s*│\s*│\s*(\d+)/(\d+)", result.stdout)
    assert total and total.group(1) == "0" and int(total.group(2)) > 0, result.stdout[-2000:]


def test_a_folder_with_other_files_is_refused_and_a_bundle_is_replaced(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(BundleError, match="not empty"):
        write_bundle(tmp_path)
    target = tmp_path / "bundle"
    write_bundle(target, ["mlp"])
    (target / "assignments" / "mlp" / "scratch.py").write_text("x = 1")
    write_bundle(target, ["mlp"])
    assert not (target / "assignments" / "mlp" / "scratch.py").exists()
    assert [p.name for p in (target / "assignments").iterdir()] == ["mlp"]


def test_strip_leaks_replaces_only_the_definitions_that_repeat_a_solution_line():
    lines = {"return torch.cat([edge_index, loops], dim=1)"}
    source = ("import torch\n\n\ndef helper():\n    return 1\n\n\n"
              "def trusted_loops(edge_index, loops):\n    return torch.cat([edge_index, loops], dim=1)\n\n\n"
              "class Keep:\n    pass\n")
    new, names = strip_leaks(source, lines)
    assert names == ["trusted_loops"]
    assert "torch.cat" not in new and "def helper" in new and "class Keep" in new
    namespace = {}
    exec(new, namespace)
    with pytest.raises(RuntimeError, match="not in the student bundle"):
        namespace["trusted_loops"]()


def test_the_bundles_pyproject_lists_only_what_a_student_needs(bundle):
    out, report = bundle
    listed = tomllib.loads((out / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=!~; ]", d)[0] for d in listed["dependencies"]}
    assert {"torch", "numpy", "networkx", "pytest", "pytest-timeout", "rich"} <= names
    assert not names & {"nbgrader", "ipykernel", "nbformat", "pyseccomp", "safetensors", "torch_geometric"}
    assert names - {"torch", "numpy", "networkx", "pytest", "pytest-timeout", "rich"} == set(report.packages)
    assert listed["scripts"]["nnzoo"] == "autograder.cli:main"


def test_the_readme_says_what_to_hand_in_and_how(bundle):
    out, _ = bundle
    readme, makefile = (out / "README.md").read_text(), (out / "Makefile").read_text()
    assert "## Handing in" in readme and "make pack STUDENT=<your student id>" in readme
    assert "`<your student id>.zip`" in readme and "`mlp.py`, `attention.py`" in readme
    assert '\t$(BIN)/nnzoo pack --student "$(STUDENT)"' in makefile


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_public_test_reaching_a_stubbed_definition_or_an_instructor_package_is_unmet(tmp_path):
    write(tmp_path / "autograder" / "probes.py",
          "def trusted_scatter(*args, **kwargs):\n    raise RuntimeError('not in the bundle')\n\n\n"
          "def helper(x):\n    return trusted_scatter(x)\n\n\ndef fine(x):\n    return x\n")
    write(tmp_path / "assignments" / "a" / "test_a.py", "from autograder.probes import helper\n\n\n"
          "def test_x(submission):\n    helper(1)\n")
    write(tmp_path / "assignments" / "b" / "test_b.py", "from autograder.probes import fine\nimport safetensors\n")
    write(tmp_path / "assignments" / "c" / "test_c.py", "import torch\nfrom autograder.probes import fine\n\n\n"
          "def test_y(submission):\n    submission.run('run', call='fine')\n")
    unmet, packages = check_needs(tmp_path, [("autograder/probes.py", "trusted_scatter")])
    assert len(unmet) == 2
    assert unmet[0].startswith("assignments/a/test_a.py needs trusted_scatter (through helper → trusted_scatter)")
    assert unmet[1].startswith("assignments/b/test_b.py imports safetensors")
    assert "torch" in packages


def test_nnzoo_release_fails_exactly_when_a_public_test_need_is_unmet(tmp_path):
    result = subprocess.run([sys.executable, "-m", "autograder.cli", "release", "--out", str(tmp_path / "b")],
                            capture_output=True, text=True, timeout=600)
    report = write_bundle(tmp_path / "again")
    assert (result.returncode != 0) == bool(report.unmet), result.stderr
    for line in report.unmet:
        assert line in result.stderr
