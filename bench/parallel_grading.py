"""Throughput of `nnzoo grade -j 1` against `-j 2` on a class of 40 mlp submissions
(a mix of correct and broken ones from tests/submissions/mlp), with the scores shown equal.

Usage: python bench/parallel_grading.py [N]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = sorted((Path(__file__).resolve().parent.parent / "tests" / "submissions" / "mlp").glob("*.py"))


def grade(subs: Path, out: Path, jobs: int) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autograder.cli", "grade", str(subs), "--out", str(out), "-a", "mlp", "-j", str(jobs)],
                   check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    with tempfile.TemporaryDirectory() as tmp:
        subs = Path(tmp) / "subs"
        for i in range(n):
            (subs / f"s{i:03d}").mkdir(parents=True)
            shutil.copy(VARIANTS[i % len(VARIANTS)], subs / f"s{i:03d}" / "mlp.py")
        t1 = grade(subs, Path(tmp) / "j1", 1)
        t2 = grade(subs, Path(tmp) / "j2", 2)
        same = (Path(tmp) / "j1" / "grades.csv").read_text() == (Path(tmp) / "j2" / "grades.csv").read_text()
    print(f"{n} submissions: -j 1 {t1:.1f} s ({n / t1:.2f}/s), -j 2 {t2:.1f} s ({n / t2:.2f}/s)")
    print(f"  speed-up -j 2 / -j 1: {t1 / t2:.2f}; identical grades.csv: {same}")


if __name__ == "__main__":
    main()
