"""`nbgrader autograde` against `nnzoo grade --nbgrader` on the same class of mlp notebooks
(one run each, same machine), with the scores of both shown equal.

The class (24 notebooks by default): the released mlp notebook filled with every sample
submission of tests/submissions/mlp (correct ones and ones broken in one property), plus
partial notebooks (the first k parts only), a syntax error, a failing scratch cell,
unanswered and wrong conceptual answers.

Usage: python bench/nbgrader_vs_nnzoo.py [N]      (the venv's bin/ must be on PATH)
"""

from __future__ import annotations

import ast
import copy
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "tests" / "submissions" / "mlp").glob("*.py"))
PARTS = ["Linear", "relu", "MLP", "train_classifier", "accuracy"]
KEY = {"q1": "c", "q2": "a", "q3": "d"}


def cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def parts_of(source: str) -> dict[str, str]:
    """A module split into the notebook's answer cells: each part's definition; imports and
    helpers go into the first cell (where a student would put them)."""
    tree = ast.parse(source)
    lines = source.splitlines()
    cells = {p: "" for p in PARTS}
    extra = []
    for node in tree.body:
        text = "\n".join(lines[min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))]) - 1:node.end_lineno])
        name = getattr(node, "name", None)
        if name in cells:
            cells[name] = text
        elif not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)) and "__future__" not in text:
            extra.append(text)
    cells["Linear"] = "\n\n".join([*extra, cells["Linear"]])
    return cells


def notebook(released, parts: dict[str, str], choices: dict[str, str], extra_cell: str = ""):
    nb = copy.deepcopy(released)
    for name, code in parts.items():
        cell(nb, f"answer_{name}").source = code
    for q, letter in choices.items():
        cell(nb, f"answer_{q}").source = f'answer_{q} = "{letter}"'
    if extra_cell:
        nb.cells.append(nbformat.v4.new_code_cell(extra_cell))
    return nb


def make_class(released, n: int) -> dict:
    correct = parts_of((ROOT / "tests" / "submissions" / "mlp" / "correct_loops.py").read_text())
    wrong = {"q1": "a", "q2": "b", "q3": "c"}
    students = {}
    for i, sample in enumerate(SAMPLES):
        students[sample.stem] = notebook(released, parts_of(sample.read_text()), KEY if i % 3 else wrong)
    for k in range(5):
        students[f"partial_{k}"] = notebook(released, {p: correct[p] for p in PARTS[:k]}, dict(list(KEY.items())[:k % 4]))
    broken = dict(correct, MLP="class MLP(nn.Module)\n    pass")
    students["syntax_error"] = notebook(released, broken, KEY)
    students["scratch_cell"] = notebook(released, correct, KEY, "print(MLP(2, [3], 1)(torch.randn(4, 5)))")
    students["questions_only"] = notebook(released, {}, KEY)
    students["wrong_answers"] = notebook(released, correct, wrong)
    base = sorted(students)
    names = list(base)
    while len(names) < n:  # copies of the class, for a bigger one
        source = base[len(names) % len(base)]
        names.append(f"{source}_copy{len(names)}")
        students[names[-1]] = students[source]
    return {s: students[s] for s in names}


def run(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args[:4])} failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - start


def gradebook_scores(course: Path, students) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s: gb.find_submission("mlp", s).score for s in students}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 24
    os.environ["PATH"] = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp) / "course"
        run([sys.executable, "-c", f"from autograder.nbgrader.course import write_source; write_source(__import__('pathlib').Path({str(course)!r}), ['mlp'])"], ROOT)
        run([sys.executable, "-m", "nbgrader", "generate_assignment", "mlp"], course)
        released = nbformat.read(course / "release" / "mlp" / "mlp.ipynb", as_version=4)
        students = make_class(released, n)
        for s, nb in students.items():
            (course / "submitted" / s / "mlp").mkdir(parents=True)
            nbformat.write(nb, course / "submitted" / s / "mlp" / "mlp.ipynb")
        print(f"{len(students)} mlp notebooks, {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}")

        t_nbgrader = run([sys.executable, "-m", "nbgrader", "autograde", "mlp"], course)
        by_nbgrader = gradebook_scores(course, students)
        timings = {}
        for jobs in (1, 2):
            out = Path(tmp) / f"nnzoo-j{jobs}"
            code = ("import sys; from pathlib import Path; from autograder.nbgrader.bridge import grade_nbgrader_course; "
                    f"sys.exit(grade_nbgrader_course(Path({str(course)!r}), ['mlp'], Path({str(out)!r}), jobs={jobs}, log=lambda s: None))")
            timings[jobs] = run([sys.executable, "-c", code], ROOT)
            with open(out / "grades.csv") as fh:
                by_nnzoo = {row["student"]: float(row["total"]) for row in csv.DictReader(fh)}
            if by_nnzoo != by_nbgrader:
                diff = {s: (by_nbgrader[s], by_nnzoo.get(s)) for s in by_nbgrader if by_nbgrader[s] != by_nnzoo.get(s)}
                raise SystemExit(f"scores differ (nbgrader, nnzoo): {diff}")
        by_gradebook = gradebook_scores(course, students)
        assert by_gradebook == by_nbgrader, "the gradebook does not hold nnzoo's scores"

        print(f"{'student':<32}{'nbgrader':>10}{'nnzoo':>8}")
        for s in students:
            print(f"{s:<32}{by_nbgrader[s]:>10g}{by_gradebook[s]:>8g}")
        print("scores: equal for every student (nnzoo's grades.csv and the gradebook it wrote = nbgrader autograde's)")
        print(f"nbgrader autograde:           {t_nbgrader:6.1f} s  ({t_nbgrader / len(students):.2f} s per notebook)")
        for jobs, t in timings.items():
            print(f"nnzoo grade --nbgrader -j {jobs}:  {t:6.1f} s  ({t / len(students):.2f} s per notebook, "
                  f"{t_nbgrader / t:.2f}x nbgrader's speed)")


if __name__ == "__main__":
    main()
