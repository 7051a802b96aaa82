"""`nnzoo pack`: which file of each assignment is packed, and a file that does not parse or
import is refused with its reason (the full round trip — pack the references, grade the
zip, full marks — is in test_bundle_install.py)."""

import hashlib
import json
import subprocess
import sys
import zipfile

import nbformat

from autograder import pack
from autograder.bundle import MARKER


def folder_with(tmp_path, files):
    for rel, text in files.items():
        path = tmp_path / "assignments" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "assignments"


def test_a_file_that_does_not_parse_or_import_is_refused_with_its_reason(tmp_path):
    folder = folder_with(tmp_path, {"mlp/mlp.py": "def f(:\n", "rnn/rnn.py": "x = 1\ny = undefined_name\n",
                                    "gnn/gnn.py": "def f():\n    return 1\n"})
    chosen = [pack.choose(folder, a, {}) for a in ("mlp", "rnn", "gnn")]
    problems = pack.import_problems(chosen)
    assert problems["mlp"] == "syntax error at line 1: invalid syntax"
    assert problems["rnn"] == "importing it raised NameError: name 'undefined_name' is not defined (line 2: y = undefined_name)"
    assert problems["gnn"] == ""


def test_a_file_that_prints_without_a_newline_or_replaces_stdout_imports(tmp_path):
    """The check's answer is a line of its own on the real stdout: a print with `end=""` at the
    top level had it refused ("ended the interpreter"), though it grades in full (an outside
    audit, 2026-12-04)."""
    folder = folder_with(tmp_path, {"gnn/gnn.py": "print('loading', end='')\n",
                                    "rnn/rnn.py": "import io, sys\nsys.stdout = io.StringIO()\n"})
    assert pack.import_problems([pack.choose(folder, a, {}) for a in ("gnn", "rnn")]) == {"gnn": "", "rnn": ""}


def test_a_file_saved_with_a_bom_is_packed_as_python_imports_it(tmp_path):
    folder = folder_with(tmp_path, {"gnn/gnn.py": "\ufeffdef f():\n    return 1\n"})
    assert pack.import_problems([pack.choose(folder, "gnn", {})]) == {"gnn": ""}


def test_a_file_in_the_encoding_its_coding_line_names_is_packed_as_python_imports_it(tmp_path):
    folder = folder_with(tmp_path, {})
    (folder / "gnn").mkdir(parents=True)
    (folder / "gnn" / "gnn.py").write_bytes('# coding: latin-1\nassert "é" == "\\u00e9"\n'.encode("latin-1"))
    assert pack.import_problems([pack.choose(folder, "gnn", {})]) == {"gnn": ""}


def test_an_untouched_stub_is_left_out_and_a_notebook_beside_it_is_packed(tmp_path):
    stub = "def f():\n    raise NotImplementedError('write me')\n"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("def f():\n    return 1")]
    folder = folder_with(tmp_path, {"mlp/mlp.py": stub, "rnn/rnn.py": stub, "rnn/rnn.ipynb": nbformat.writes(nb)})
    stubs = {a: hashlib.sha256(stub.encode()).hexdigest() for a in ("mlp", "rnn")}
    assert "still the stub as released" in pack.choose(folder, "mlp", stubs)
    chosen = pack.choose(folder, "rnn", stubs)
    assert chosen.path.name == "rnn.ipynb" and "def f():" in chosen.code


def test_nnzoo_pack_refuses_and_writes_no_zip_then_packs_once_fixed(tmp_path):
    folder = folder_with(tmp_path, {"mlp/mlp.py": "import torch\nx = torch.ones(2) @ torch.ones(3)\n",
                                    "rnn/rnn.py": "def f():\n    return 1\n"})
    (tmp_path / MARKER).write_text(json.dumps({"stubs_sha256": {}}))
    command = [sys.executable, "-m", "autograder.cli", "pack", "--student", "Ana Lee", "--no-tests", "--path", str(folder)]
    refused = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 1 and not list(tmp_path.glob("*.zip"))
    assert "refused mlp: importing it raised RuntimeError" in refused.stderr and "add -a rnn to pack" in refused.stderr
    alone = subprocess.run([*command, "-a", "mlp"], capture_output=True, text=True, timeout=300)
    assert alone.returncode == 1 and alone.stderr.rstrip().endswith("fix the file(s) above"), alone.stderr
    (folder / "mlp" / "mlp.py").write_text("import torch\n")
    packed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert packed.returncode == 0, packed.stderr
    assert sorted(zipfile.ZipFile(tmp_path / "Ana_Lee.zip").namelist()) == ["mlp.py", "rnn.py"]


def test_a_student_id_that_names_no_one_is_refused(tmp_path):
    folder = folder_with(tmp_path, {"rnn/rnn.py": "def f():\n    return 1\n"})
    for student in ("", " ./ "):
        result = subprocess.run([sys.executable, "-m", "autograder.cli", "pack", "--student", student, "--no-tests",
                                 "--path", str(folder)], capture_output=True, text=True, timeout=300)
        assert result.returncode == 2 and "names no one" in result.stderr and not list(tmp_path.glob("*.zip"))
