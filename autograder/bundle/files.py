"""The files the student bundle writes for itself: README.md, Makefile and its own
pyproject.toml (only what a student's install needs — never the instructor's).
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import packages_distributions, requires
from pathlib import Path

from autograder import __version__

#: What every student's install holds: torch, the data libraries the checks use, pytest
#: with its time limits, rich (the points table).  More is added only where a bundled
#: public test imports it (`needs.py`), e.g. scikit-learn for its bundled digits.
STUDENT_PACKAGES = ("torch", "numpy", "networkx", "pytest", "pytest-timeout", "rich")

#: Never in a student's install: the grading side (sandbox, wire format, nbgrader, Jupyter).
INSTRUCTOR_ONLY = frozenset({"nbgrader", "ipykernel", "nbformat", "pyseccomp", "safetensors", "torch-geometric",
                             "torch_geometric"})

#: `pip install -e '.[notebooks]'`: what `nnzoo pack` needs to read a notebook as the grader does
NOTEBOOK_EXTRA = ("nbformat", "ipython")

README = """\
# nnzoo — the Neural Net Zoo assignments

```bash
make          # once: creates .venv with PyTorch (CPU) and nnzoo, then says what to do next
make test     # runs the public tests on your code: points per test and a hint per failure
```

Assignments: {assignments}.  For each one, fill in the stubs in `assignments/<a>/<a>.py`
— every function's docstring gives the formula, the shapes and an example — and run its
public tests:

```bash
make test A=mlp                          # one assignment (or: .venv/bin/nnzoo test mlp)
.venv/bin/nnzoo test mlp --quick         # seconds: leaves out the tests that train a model
.venv/bin/pytest assignments/mlp         # plain pytest works too (full tracebacks of your code)
```

Each test shows the property of the lecture it checks.  Your grade comes from hidden
tests that check the same properties more thoroughly, so passing the public tests is a
good sign but not the whole grade.  Do not rename the functions, classes or their
arguments, and do not use the PyTorch built-in a task asks you to write (each
assignment's docstring lists them): that costs the points of the task.  Each public test
has a time limit: code that does not return in time (an endless loop) fails that test,
naming your function, and the other tests still run.

`datasets/` holds the data the assignments use; nothing is downloaded.

## Handing in

Hand in ONE file: `<your student id>.zip`, made by

```bash
make pack STUDENT=<your student id>      # or: .venv/bin/nnzoo pack --student <your student id>
```

It runs the public tests once more (the result is printed; failing tests do not stop
packing), refuses a file that does not import (it names the file and the reason: fix it,
or leave that assignment out with `-a`), and writes `<your student id>.zip` holding, at its
root, one file per assignment you started: `mlp.py`, `attention.py`, `rnn.py`, `gnn.py`,
`transfer.py` — exactly what the grader reads.  Upload that zip where your course says.

- Only `assignments/<a>/<a>.py` goes in: keep your code in that file, under that name.
- Worked in a notebook?  Save it as `assignments/<a>/<a>.ipynb` and leave `<a>.py` as it
  came: the notebook is packed instead (to check it the way the grader reads it, once:
  `.venv/bin/pip install -e '.[notebooks]'`).
- An assignment still exactly as it came is left out (it would score 0 anyway).
- Pack again whenever you change your code; the zip is replaced.
"""

MAKEFILE = """\
# nnzoo (students) — `make` sets up .venv once; `make test` runs the public tests;
# `make pack STUDENT=<id>` writes <id>.zip, the file you hand in.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := {torch}
# PyPI's torch for Linux brings CUDA (gigabytes); these assignments need only the CPU build.
# With a GPU you want to use, or a wheel of your own: make TORCH_INDEX=
TORCH_INDEX ?= $(if $(filter Linux,$(shell uname -s)),--index-url https://download.pytorch.org/whl/cpu)
# one assignment: make test A=mlp
A ?=
STUDENT ?=

.PHONY: setup test pack clean

setup: $(BIN)/nnzoo
\t@echo "Ready. Fill in assignments/<a>/<a>.py, then run: make test   (one assignment: make test A=mlp)"

$(BIN)/nnzoo: pyproject.toml
\t$(PYTHON) -m venv $(VENV)
\t$(BIN)/pip install -q --upgrade pip
\t$(BIN)/pip install -q $(TORCH_INDEX) $(TORCH)
\t$(BIN)/pip install -q -e .
\ttouch $@

test: $(BIN)/nnzoo
\t$(BIN)/nnzoo test $(A)

pack: $(BIN)/nnzoo
\t@test -n "$(STUDENT)" || (echo "usage: make pack STUDENT=<your student id>"; exit 2)
\t$(BIN)/nnzoo pack --student "$(STUDENT)"

clean:
\trm -rf $(VENV) *.egg-info
"""

PYPROJECT = """\
# nnzoo for students — written by `nnzoo release --out`: only what the public tests,
# `nnzoo test` and `nnzoo pack` need (the instructor's grading side is not installed).
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "nnzoo-student"
version = "{version}"
description = "The Neural Net Zoo assignments: stubs, public tests and `nnzoo test`."
requires-python = ">=3.11"
dependencies = [
{dependencies}
]

[project.optional-dependencies]
notebooks = [
{notebooks}
]

[project.scripts]
nnzoo = "autograder.cli:main"

[project.entry-points.pytest11]
nnzoo = "autograder.judge.plugin"

[tool.setuptools.packages.find]
include = ["autograder*"]

[tool.pytest.ini_options]
addopts = "-p no:cacheprovider"
# every public test has a time limit: its own @pytest.mark.timeout, or nnzoo's default
# (autograder/judge/public.py), set by nnzoo's pytest plugin
"""


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def project_requirements(root: Path) -> dict[str, str]:
    """The instructor's requirements (`pyproject.toml`, extras included) by distribution name;
    from the installed nnzoo's metadata where `root` is not a source checkout."""
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    except FileNotFoundError:
        listed = [r.split(";")[0].strip() for r in requires("nnzoo") or []]
    else:
        listed = [*data.get("dependencies", []),
                  *(r for extra in data.get("optional-dependencies", {}).values() for r in extra)]
    return {_name(r): r for r in listed}


def distribution_of(module: str) -> str:
    """The distribution that installs top-level `module` (`sklearn` → `scikit-learn`)."""
    found = packages_distributions().get(module, [])
    return _name(found[0]) if found else _name(module)


def student_pyproject(root: Path, packages: set[str]) -> str:
    """The bundle's pyproject.toml: STUDENT_PACKAGES plus `packages` (distribution names),
    each with the instructor's version bounds."""
    known = project_requirements(root)
    wanted = [*STUDENT_PACKAGES, *sorted(set(packages) - set(STUDENT_PACKAGES))]
    dependencies = ",\n".join(f'    "{known.get(p, p)}"' for p in wanted)
    notebooks = ",\n".join(f'    "{known.get(p, p)}"' for p in NOTEBOOK_EXTRA)
    return PYPROJECT.format(version=__version__, dependencies=dependencies, notebooks=notebooks)


def torch_pin(root: Path) -> str:
    """The torch the instructor's Makefile installs first (e.g. `torch==2.13.0`); without
    one, the version installed here."""
    from importlib.metadata import version

    makefile = root / "Makefile"
    match = re.search(r"^TORCH\s*:=\s*(\S+)", makefile.read_text(), re.M) if makefile.is_file() else None
    return match.group(1) if match else f"torch=={version('torch').split('+')[0]}"
