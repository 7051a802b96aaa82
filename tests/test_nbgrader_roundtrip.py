"""The real nbgrader round trip for mlp: `nnzoo release --nbgrader` → `nbgrader
generate_assignment` → students' notebooks → `nbgrader autograde` → `nbgrader
generate_feedback`, and the same notebooks through `nnzoo grade --nbgrader` →
`generate_feedback`: the same total for every student, in the same gradebook, visible to
`nbgrader export` — and no file a student could get (release/, submitted/, autograded/,
feedback/ of both routes, nnzoo's feedback) holds a reference line, a hidden test or the
answer key.

Slow by nature (a kernel per notebook): one assignment, three students.
"""

import argparse
import copy
import csv
import html
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook, MissingEntry

from autograder import course
from autograder.bundle.leaks import code_part, is_trivial, solution_lines
from autograder.cli import main
from autograder.nbgrader.bridge import grade_nbgrader_course
from autograder.nbgrader.cli import grade_nbgrader
from autograder.nbgrader.course import write_source
from autograder.nbgrader.runtime import answer_digest
from autograder.nbgrader.segments import named_tests

ANSWER_KEY = {"mlp": course.assignment("mlp").answer_key}

ROOT = Path(__file__).resolve().parent.parent
# nbgrader runs `alembic` and the kernel's `python` by name: the venv's must come first
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
os.environ["PATH"] = ENV["PATH"]

EXPECTED = {"ann": 26, "bob": 8, "cal": 17}


def nbgrader(*args, cwd, env=ENV):
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)


def cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def solution_code(source_nb, grade_id):
    return "\n".join(l for l in cell(source_nb, grade_id).source.splitlines() if "### " not in l)


def filled(released, source_nb, answers, choices):
    """The released notebook with these answer cells filled from the reference, and these choices."""
    nb = copy.deepcopy(released)
    for gid in answers:
        cell(nb, gid).source = solution_code(source_nb, gid)
    for q, letter in choices.items():
        cell(nb, f"answer_{q}").source = f'answer_{q} = "{letter}"'
    return nb


def class_of(released, source_nb):
    parts = ["answer_Linear", "answer_relu", "answer_MLP", "answer_train_classifier", "answer_accuracy"]
    ann = filled(released, source_nb, parts, ANSWER_KEY["mlp"])
    bob = filled(released, source_nb, parts[:2], {"q1": ANSWER_KEY["mlp"]["q1"], "q2": "b"})
    cal = filled(released, source_nb, parts, {"q1": "a", "q2": "b", "q3": "a"})
    cell(cal, "answer_MLP").source = "class MLP(nn.Module)\n    pass  # a syntax error"
    cal.cells.append(nbformat.v4.new_code_cell("print(MLP(2, [3], 1))  # a scratch cell that fails"))
    return {"ann": ann, "bob": bob, "cal": cal}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("nbgrader") / "course"
    write_source(root, ["mlp"])
    result = nbgrader("generate_assignment", "mlp", cwd=root)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return root


@pytest.fixture(scope="module")
def released(course):
    return nbformat.read(course / "release" / "mlp" / "mlp.ipynb", as_version=4)


@pytest.fixture(scope="module")
def source_nb(course):
    return nbformat.read(course / "source" / "mlp" / "mlp.ipynb", as_version=4)


def scores(course, students):
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s: gb.find_submission("mlp", s).score for s in students}


@pytest.fixture(scope="module")
def graded(course, released, source_nb, tmp_path_factory):
    for student, nb in class_of(released, source_nb).items():
        folder = course / "submitted" / student / "mlp"
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / "mlp.ipynb")
    kernels_tmp = tmp_path_factory.mktemp("kernels-tmp")  # where each notebook's kernel writes its tests
    result = nbgrader("autograde", "mlp", cwd=course, env={**ENV, "TMPDIR": str(kernels_tmp)})
    assert result.returncode == 0, result.stderr[-3000:]
    by_nbgrader = scores(course, EXPECTED)
    # what students would get back on nbgrader's own route, kept before nnzoo grades the same notebooks
    nbgrader_route = tmp_path_factory.mktemp("nbgrader-route")
    generate_feedback(course)
    for folder in ("autograded", "feedback"):
        shutil.copytree(course / folder, nbgrader_route / folder)
    out = tmp_path_factory.mktemp("nnzoo-grades")
    args = argparse.Namespace(submissions=str(course / "submitted"), nbgrader=str(course), out=str(out),
                              assignment=["mlp"], jobs=1, resume=False, student=None)
    assert grade_nbgrader(args) == 0
    by_nnzoo_db = scores(course, EXPECTED)
    generate_feedback(course)
    export = nbgrader("export", cwd=course)
    assert export.returncode == 0, export.stderr[-2000:]
    with open(course / "grades.csv") as fh:
        exported = {row["student_id"]: float(row["score"]) for row in csv.DictReader(fh)}
    with open(out / "grades.csv") as fh:
        nnzoo_csv = {row["student"]: float(row["total"]) for row in csv.DictReader(fh)}
    return {"nbgrader": by_nbgrader, "nnzoo_db": by_nnzoo_db, "export": exported, "nnzoo_csv": nnzoo_csv, "out": out,
            "nbgrader_route": nbgrader_route, "left_in_tmp": sorted(p.name for p in kernels_tmp.iterdir())}


def generate_feedback(course):
    result = nbgrader("generate_feedback", "mlp", "--force", cwd=course)
    assert result.returncode == 0, result.stderr[-3000:]


def test_released_notebook_has_stubs_and_no_solution_or_hidden_test(released):
    text = "\n".join(c.source for c in released.cells)
    lines = solution_lines(ROOT / "solutions")
    assert not [l for l in text.splitlines() if l.split("#")[0].strip() in lines]
    for forbidden in ("BEGIN HIDDEN TESTS", "load_hidden", "nnzoo.grade(", "BEGIN SOLUTION", "def train_classifier(\n    model"):
        assert forbidden not in text or forbidden.startswith("def ")
    for q, letter in ANSWER_KEY["mlp"].items():
        assert answer_digest("mlp", q, letter) not in text
        assert f'answer_{q} = "{letter}"' not in text
    for gid in ("answer_Linear", "answer_MLP", "answer_accuracy"):
        assert "raise NotImplementedError()" in cell(released, gid).source


def test_nbgrader_autograde_gives_the_expected_scores(graded):
    assert graded["nbgrader"] == EXPECTED


def test_autograding_leaves_no_copy_of_the_hidden_tests_in_the_temporary_folder(graded):
    """Each notebook's kernel writes the public and hidden tests to a folder of its own; it
    used to stay behind, one copy of the hidden tests per notebook graded."""
    assert graded["left_in_tmp"] == []


def test_nnzoo_grade_gives_every_student_the_same_total_as_nbgrader(graded):
    assert graded["nnzoo_csv"] == graded["nbgrader"]
    assert graded["nnzoo_db"] == graded["nbgrader"]


def test_nbgrader_export_shows_nnzoos_scores(graded):
    assert graded["export"] == graded["nnzoo_csv"]


def test_gradebook_holds_nnzoos_score_per_cell_and_its_reasons(course):
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        grades = {g.name: g.auto_score for g in gb.find_submission_notebook("mlp", "mlp", "bob").grades}
    assert grades["test_Linear"] == 6 and grades["test_relu"] == 1 and grades["test_MLP"] == 0
    assert grades["grade_q1"] == 1 and grades["grade_q2"] == 0
    autograded = nbformat.read(course / "autograded" / "cal" / "mlp" / "mlp.ipynb", as_version=4)
    shown = cell(autograded, "test_MLP").outputs[0]["text"]
    assert "Graded by nnzoo" in shown and "✗ test_mlp_layers_follow_sizes" in shown


def test_notes_on_a_notebook_reach_the_students_feedback(graded):
    feedback = (graded["out"] / "feedback" / "cal.md").read_text()
    assert "answer_MLP has a syntax error" in feedback


def test_bad_notebooks_get_clear_messages_and_the_batch_goes_on(course, released, source_nb, tmp_path):
    bad = tmp_path / "course"
    shutil.copytree(course, bad, ignore=shutil.ignore_patterns("submitted", "autograded", "feedback"))
    parts = ["answer_Linear", "answer_relu", "answer_MLP", "answer_train_classifier", "answer_accuracy"]
    eve = filled(released, source_nb, parts, ANSWER_KEY["mlp"])
    twin = copy.deepcopy(cell(eve, "answer_relu"))
    twin.id = "relu-twin"
    eve.cells.insert(eve.cells.index(cell(eve, "answer_relu")), twin)
    mlp, linear = eve.cells.index(cell(eve, "answer_MLP")), eve.cells.index(cell(eve, "answer_Linear"))
    eve.cells[mlp], eve.cells[linear] = eve.cells[linear], eve.cells[mlp]
    cell(eve, "test_Linear").source = "pass  # trust me"
    eve.cells.append(nbformat.v4.new_code_cell("### END HIDDEN TESTS\nscratch = 1  # a marker of her own"))
    fay = filled(released, source_nb, parts, ANSWER_KEY["mlp"])
    fay.cells.remove(cell(fay, "answer_relu"))
    cell(fay, "answer_accuracy").source = ""
    gus = copy.deepcopy(released)
    gus.cells = [c for c in gus.cells if c.cell_type == "markdown"]
    for student, nb in {"eve": eve, "fay": fay, "gus": gus}.items():
        (bad / "submitted" / student / "mlp").mkdir(parents=True)
        nbformat.write(nb, bad / "submitted" / student / "mlp" / "mlp.ipynb")
    (bad / "submitted" / "dan" / "mlp").mkdir(parents=True)
    (bad / "submitted" / "dan" / "mlp" / "mlp.ipynb").write_text("{ this is not json")

    assert grade_nbgrader_course(bad, ["mlp"], tmp_path / "out", log=lambda line: None) == 0
    got = scores(bad, ["dan", "eve", "fay", "gus"])
    assert got == {"dan": 0, "eve": 26, "fay": 24, "gus": 0}
    feedback = {s: (tmp_path / "out" / "feedback" / f"{s}.md").read_text() for s in got}
    assert "not a valid notebook" in feedback["dan"]
    assert "answer_relu appears 2 times" in feedback["eve"] and "not in their released order" in feedback["eve"]
    assert "the read-only cell test_Linear was changed" in feedback["eve"]
    assert "answer_relu is missing" in feedback["fay"] and "answer_accuracy is empty" in feedback["fay"]
    assert "holds no code" in feedback["gus"]


def test_resume_keeps_unchanged_students_and_regrades_a_changed_notebook(course, graded, source_nb, tmp_path,
                                                                        monkeypatch, capsys):
    again = tmp_path / "course"
    shutil.copytree(course, again, ignore=shutil.ignore_patterns("autograded", "feedback"))
    out = tmp_path / "grades"
    shutil.copytree(graded["out"], out)
    before = {s: (out / "students" / f"{s}.json").read_text() for s in EXPECTED}
    path = again / "submitted" / "cal" / "mlp" / "mlp.ipynb"
    cal = nbformat.read(path, as_version=4)
    cell(cal, "answer_MLP").source = solution_code(source_nb, "answer_MLP")  # fixes the syntax error
    cell(cal, "answer_q1").source = f'answer_q1 = "{ANSWER_KEY["mlp"]["q1"]}"'
    nbformat.write(cal, path)
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich draws its progress bar as on a terminal
    monkeypatch.setenv("TTY_INTERACTIVE", "1")

    assert main(["grade", str(again / "submitted"), "--nbgrader", str(again), "--out", str(out), "-a", "mlp",
                 "--resume"]) == 0
    shown = capsys.readouterr()
    assert "kept 2, graded 1 (1 changed code)" in shown.out
    assert "grading 3 students" in shown.err  # the same bar as `nnzoo grade`, on stderr
    after = {s: (out / "students" / f"{s}.json").read_text() for s in EXPECTED}
    assert after["ann"] == before["ann"] and after["bob"] == before["bob"] and after["cal"] != before["cal"]
    assert scores(again, EXPECTED) == {"ann": 26, "bob": 8, "cal": 24}
    with open(out / "grades.csv") as fh:
        assert {row["student"]: float(row["total"]) for row in csv.DictReader(fh)} == {"ann": 26, "bob": 8, "cal": 24}


def test_a_folder_that_is_not_an_nbgrader_course_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "submitted").mkdir()
    assert grade_nbgrader_course(tmp_path, ["mlp"], tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not an nbgrader course" in err


def test_a_course_without_the_released_assignment_is_a_one_line_error(tmp_path, capsys):
    write_source(tmp_path, ["mlp"])
    (tmp_path / "submitted" / "ann" / "mlp").mkdir(parents=True)
    assert grade_nbgrader_course(tmp_path, ["mlp"], tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nbgrader generate_assignment mlp" in err


# -- every student folder counts, once, as itself -----------------------------------------------

PARTS = ["answer_Linear", "answer_relu", "answer_MLP", "answer_train_classifier", "answer_accuracy"]


def course_copy(course, tmp_path):
    """The released course with an empty submitted/."""
    root = tmp_path / "course"
    shutil.copytree(course, root, ignore=shutil.ignore_patterns("submitted", "autograded", "feedback"))
    (root / "submitted").mkdir()
    return root


def without_ids(nb):
    """A notebook as an older Jupyter saves it (format 4.5, cells without an id)."""
    raw = json.loads(nbformat.writes(nb))
    for c in raw["cells"]:
        c.pop("id", None)
    return json.dumps(raw)


@pytest.fixture(scope="module")
def odd_class(course, released, source_nb, tmp_path_factory):
    """Graded once: `cut` deleted a grade cell, `ren` handed in `mlp (1).ipynb`, `py` an mlp.py,
    `nil` an empty folder, `dan` a file that is not a notebook, `ida` a notebook without cell ids."""
    root = course_copy(course, tmp_path_factory.mktemp("odd"))
    cut = filled(released, source_nb, PARTS, ANSWER_KEY["mlp"])
    cut.cells.remove(cell(cut, "test_Linear"))
    files = {"cut/mlp/mlp.ipynb": nbformat.writes(cut), "ren/mlp/mlp (1).ipynb": nbformat.writes(cut),
             "py/mlp/mlp.py": "def relu(x):\n    return x\n", "dan/mlp/mlp.ipynb": "{ this is not json",
             "ida/mlp/mlp.ipynb": without_ids(released)}
    for rel, text in files.items():
        (root / "submitted" / rel).parent.mkdir(parents=True)
        (root / "submitted" / rel).write_text(text)
    (root / "submitted" / "nil").mkdir()
    out, console = tmp_path_factory.mktemp("odd-grades"), []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert grade_nbgrader_course(root, ["mlp"], out, log=console.append) == 0
    with open(out / "grades.csv") as fh:
        totals = {row["student"]: float(row["total"]) for row in csv.DictReader(fh)}
    return {"root": root, "out": out, "console": "\n".join(console), "totals": totals,
            "warnings": [f"{w.category.__name__}: {w.message}" for w in caught]}


def test_every_student_folder_is_graded_or_listed_with_the_reason(odd_class):
    root, console = odd_class["root"], odd_class["console"]
    assert set(odd_class["totals"]) == {"cut", "ren", "py", "nil", "dan", "ida"}
    assert "ren/mlp: 0/26 — no mlp.ipynb; found mlp (1).ipynb — rename it to mlp.ipynb" in console
    assert "py/mlp: 0/26 — no mlp.ipynb; found mlp.py — hand in the notebook mlp.ipynb" in console
    assert "nil/mlp: 0/26 — not submitted (no mlp/ folder)" in console
    assert "found mlp (1).ipynb" in (odd_class["out"] / "feedback" / "ren.md").read_text()
    # nbgrader's own autograde gives a missing notebook 0; here with the reason in the feedback too
    assert scores(root, ["ren", "py"]) == {"ren": 0, "py": 0}
    assert "rename it to mlp.ipynb" in readable_text(root / "autograded" / "ren" / "mlp" / "mlp.ipynb")
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        gb.find_student("nil")  # listed by `nbgrader export`, with 0 for mlp: nbgrader collected nothing of hers
        with pytest.raises(MissingEntry):
            gb.find_submission("mlp", "nil")


def test_a_deleted_grade_cell_counts_the_same_in_nnzoo_and_in_the_gradebook(odd_class):
    root = odd_class["root"]
    assert odd_class["totals"]["cut"] == 26 and scores(root, ["cut"]) == {"cut": 26}
    autograded = nbformat.read(root / "autograded" / "cut" / "mlp" / "mlp.ipynb", as_version=4)
    assert "✓ test_linear_forward_matches_reference" in cell(autograded, "test_Linear").outputs[0]["text"]
    assert "test_Linear is missing (deleted?); it was added back" in (odd_class["out"] / "feedback" / "cut.md").read_text()


def test_an_invalid_notebook_scores_out_of_the_notebooks_total(odd_class):
    assert "dan/mlp: 0/26 — mlp.ipynb is not a valid notebook" in odd_class["console"]
    assert "## mlp: 0 / 26" in (odd_class["out"] / "feedback" / "dan.md").read_text()


def test_a_notebook_without_cell_ids_is_graded_without_a_warning(odd_class):
    assert "ida/mlp: 0/26" in odd_class["console"]
    assert not [w for w in odd_class["warnings"] if "id" in w.lower() and "Cell" in w]


def test_two_folders_of_one_student_id_are_refused_before_anything_is_graded(course, released, tmp_path, capsys):
    root = course_copy(course, tmp_path)
    for name in ("Ana Lee", "Ana_Lee"):
        (root / "submitted" / name / "mlp").mkdir(parents=True)
        nbformat.write(released, root / "submitted" / name / "mlp" / "mlp.ipynb")
    assert grade_nbgrader_course(root, ["mlp"], tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'Ana Lee' and 'Ana_Lee' would both be graded as student 'Ana_Lee'" in err
    assert not (tmp_path / "out").exists() and not (root / "autograded").exists()


def test_out_that_is_a_file_or_inside_submitted_is_a_one_line_error(course, released, tmp_path, capsys):
    root = course_copy(course, tmp_path)
    (root / "submitted" / "ann" / "mlp").mkdir(parents=True)
    nbformat.write(released, root / "submitted" / "ann" / "mlp" / "mlp.ipynb")
    afile = tmp_path / "grades.txt"
    afile.write_text("keep me")
    for out, says in ((afile, "is a file"), (root / "submitted" / "grades", "inside the submissions folder")):
        args = argparse.Namespace(submissions=str(root), nbgrader=str(root), out=str(out), assignment=["mlp"], jobs=1,
                                  resume=False, student=None)
        assert grade_nbgrader(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and says in err
    assert afile.read_text() == "keep me" and not (root / "submitted" / "grades").exists()


# -- nothing that reaches a student leaks ------------------------------------------------------

def readable_text(path):
    """What a person can read in `path`: a notebook's sources and outputs, an HTML page's text,
    any other text file as is; None for binary files."""
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        parts = []
        for c in nb.cells:
            parts.append(c.source)
            for out in c.get("outputs", []):
                parts += [out.get("text", ""), out.get("ename", ""), out.get("evalue", ""), *out.get("traceback", [])]
                parts += [v if isinstance(v, str) else "\n".join(map(str, v)) for v in out.get("data", {}).values()]
        return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", "\n".join(parts))
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        return None
    if path.suffix in (".html", ".htm"):
        text = html.unescape(re.sub(r"<[^>]*>", "", text))
    return text


def secret_lines(source):
    return {code_part(l) for l in source.splitlines() if not is_trivial(l)}


def files_under(roots):
    """(root, file) for every file under `roots` (a root may be a file)."""
    for root in roots:
        for path in ([root] if root.is_file() else sorted(root.rglob("*"))):
            if path.is_file():
                yield root, path


def student_of(root, path, students):
    """The student a file belongs to (None: released to everyone, or class-wide)."""
    rel = path.relative_to(root) if root.is_dir() else Path(path.name)
    return next((s for s in students if s in rel.parts or rel.stem == s), None)


CLASS_WIDE = {"grades.json", "grades.csv", "overview.md", "overview.html"}


def leaks_in(roots, course, students):
    """Every (file, kind, text) where a file under `roots` holds a reference solution line, a line of a
    hidden test, or the answer key in a form the file's student did not write; and what was scanned."""
    public = "\n".join([readable_text(course / "release" / "mlp" / "mlp.ipynb"),
                        (ROOT / "assignments" / "mlp" / "test_mlp.py").read_text(),
                        (ROOT / "assignments" / "mlp" / "mlp.py").read_text()])
    hidden_source = (ROOT / "solutions" / "mlp" / "test_hidden.py").read_text()
    secrets = {"reference": {l for l in solution_lines(ROOT / "solutions") if l not in public},
               "hidden test": {l for t in named_tests(hidden_source) for l in secret_lines(t.source) if l not in public}}
    own = {s: readable_text(course / "submitted" / s / "mlp" / "mlp.ipynb") for s in students}
    key = ANSWER_KEY["mlp"]
    found, scanned = [], {"files": 0, "checks": 0}
    for root, path in files_under(roots):
        text = readable_text(path)
        if text is None:
            continue
        scanned["files"] += 1
        student = student_of(root, path, students)
        # a class-wide file (grades.json, overview.md) may repeat what any student wrote
        mine = own[student] if student else ("\n".join(own.values()) if path.name in CLASS_WIDE else "")
        for kind, lines in secrets.items():
            for line in lines:
                scanned["checks"] += 1
                if line in text and line not in mine:
                    found.append((str(path), kind, line))
        for q, letter in key.items():
            for form in (answer_digest("mlp", q, letter), f'answer_{q} = "{letter}"'):
                scanned["checks"] += 1
                if form in text and form not in mine:
                    found.append((str(path), "answer key", form))
    return found, scanned


def test_nothing_that_reaches_a_student_holds_reference_code_hidden_tests_or_the_answer_key(course, graded):
    roots = [course / "release", course / "submitted", course / "autograded", course / "feedback",
             graded["nbgrader_route"], graded["out"]]
    found, scanned = leaks_in(roots, course, EXPECTED)
    print(f"scanned {scanned['files']} files, {scanned['checks']} (file, secret line) checks")
    assert not found, "\n".join(f"{p}: {kind}: {line}" for p, kind, line in found[:40]) + f"\n({len(found)} in all)"
    htmls = [p for root in roots if root != graded["out"] for p in root.rglob("*.html")]
    assert len(htmls) == 2 * len(EXPECTED)  # nbgrader's feedback of both routes, one page per student
    nnzoo_pages = {p.relative_to(graded["out"]).as_posix() for p in graded["out"].rglob("*.html")}
    assert nnzoo_pages == {f"feedback/{s}.html" for s in EXPECTED} | {"overview.html"}  # scanned above too


def test_the_leak_scan_reads_feedback_pages_and_finds_what_is_there(course, graded):
    """The scan has teeth: with nothing counted as the student's own, ann's feedback pages show her
    code (reference lines), and the instructor's source notebook holds the reference and the key."""
    ann = [p for root in (course / "feedback", graded["nbgrader_route"] / "feedback") for p in root.rglob("*.html")
           if "ann" in p.parts]
    found, _ = leaks_in(ann, course, [])
    assert {p for p, kind, _ in found if kind == "reference"} == {str(p) for p in ann}
    found, _ = leaks_in([course / "source"], course, [])
    assert {"reference", "answer key"} <= {kind for _, kind, _ in found}
