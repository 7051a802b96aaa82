"""What the HTML reports add to grading a class, as a ratio measured in one run.

A class of N students (default 40) is graded on mlp through `batch.grade_class`, in this
process (`-j 1`), exactly as `nnzoo grade` does.  The students are copies of the sample
submissions (examples/submissions: alice passes, bob fails some tests, carol does not
import) and of two broken ones that draw pictures (tests/submissions/mlp: no zero_grad —
a training curve beside the reference's and the accuracy against its threshold; bias
ignored — where the outputs differ), in turn.

Timed inside that run, as the reports' cost:
- the figures the checks attach, built after a test failed (`checks.figures.take`: the
  differences, and the reference's training run for the curve — once per process);
- every feedback page (`feedback_html`, its pictures drawn with matplotlib; the cache of
  drawn pictures is emptied before each student, as if no two students failed alike);
- every overview page drawn (`overview_html`: at the end, and throttled during the batch).
The ratio is that cost over the rest of the batch's wall time (the grading, and the
grade files and Markdown reports the batch wrote before).  Budget: 10 %.

Usage: python bench/report_overhead.py [N]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import autograder.batch as batch
import autograder.report.html as report_html
from autograder.batch import BatchOptions, grade_class
from autograder.checks import figures
from autograder.load import load_class
from autograder.sandbox.client import ForkServer

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = [ROOT / "examples" / "submissions" / s / "mlp.py" for s in ("alice", "bob", "carol")] + \
          [ROOT / "tests" / "submissions" / "mlp" / f"{s}.py" for s in ("broken_no_zero_grad", "broken_bias_ignored")]
BUDGET = 0.10


class Stopwatch:
    """Seconds spent in each wrapped function, and how often it ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, name: str, fn: Callable[..., Any], before: Callable[[], None] = lambda: None) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            before()
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
                self.calls[name] = self.calls.get(name, 0) + 1
        return timed


def make_class(root: Path, n: int) -> Path:
    for i in range(n):
        folder = root / f"s{i:03d}"
        folder.mkdir(parents=True)
        shutil.copy(SAMPLES[i % len(SAMPLES)], folder / "mlp.py")
    return root


def main(n: int) -> int:
    watch = Stopwatch()
    batch.feedback_html = watch.wrap("feedback pages", batch.feedback_html, before=report_html._drawn.clear)
    batch.overview_html = watch.wrap("overview pages", batch.overview_html)
    figures.take = watch.wrap("figures after a failure", figures.take)
    with tempfile.TemporaryDirectory() as tmp:
        subs = make_class(Path(tmp) / "subs", n)
        ForkServer.get()  # started once per grading run, as `nnzoo grade` does before the first student
        start = time.perf_counter()
        summary = grade_class(load_class(subs, ["mlp"]), BatchOptions(out=Path(tmp) / "out", assignments=["mlp"]))
        wall = time.perf_counter() - start
        pictures = sum(page.count("data:image/png") for page in
                       (p.read_text() for p in (Path(tmp) / "out" / "feedback").glob("*.html")))
    reports = sum(watch.seconds.values())
    grading = wall - reports
    ratio = reports / grading
    print(f"{len(summary.records)} students graded on mlp in {wall:.1f} s ({wall / n:.2f} s per student); "
          f"{pictures} pictures on the feedback pages")
    for name, seconds in watch.seconds.items():
        print(f"  {name:<26} {seconds:7.2f} s in {watch.calls[name]} calls")
    print(f"HTML reports: {reports:.1f} s against {grading:.1f} s of grading: {100 * ratio:.1f} % "
          f"(budget {100 * BUDGET:.0f} %) — {'OK' if ratio <= BUDGET else 'OVER BUDGET'}")
    return 0 if ratio <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 40))
