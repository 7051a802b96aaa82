"""The student's loop, timed (issue 13): `nnzoo test <a>` on the reference solution, full and
`--quick`, against the hidden grading (`nnzoo grade`) of the same file.

Each run is a fresh process, as a student or an instructor starts it, pinned to N cores
(`sched_setaffinity`, inherited by every child; OMP_NUM_THREADS=N): a 1-core and a
2-core machine.  Per assignment and core count: wall seconds of `nnzoo test <a>`,
`nnzoo test <a> --quick`, `nnzoo grade` of a one-student class holding the reference,
and the ratios to the grading; once per assignment, the slowest public tests (pytest's
`--durations`, on one core).  Targets (issue 13): full ≤ 10 s, quick ≤ 3 s.

Usage: python bench/student_loop.py [-a A ...] [--cpus 1 2] [--no-hidden]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder import course  # noqa: E402

TARGET_FULL_S, TARGET_QUICK_S = 10.0, 3.0


@dataclass
class Timing:
    wall: float  # seconds, as the person waits
    cpu: float  # user + system seconds of the process and its children (less sensitive to a busy machine)

    def __str__(self) -> str:
        return f"{self.wall:.1f} ({self.cpu:.1f} cpu)"


def timed(args: list[str], cpus: int, cwd: Path) -> tuple[Timing, str, int]:
    """Wall and CPU seconds, output and exit code of `python args…` on `cpus` cores."""
    env = {**os.environ, "OMP_NUM_THREADS": str(cpus)}
    env.pop("NNZOO_ROOT", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=1800,
                          preexec_fn=lambda: os.sched_setaffinity(0, set(range(cpus))))
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timing(wall, cpu), done.stdout + done.stderr, done.returncode


def reference_folder(base: Path, a: str) -> Path:
    """`base/<a>/` with the public tests and the reference as `<a>.py` (what a finished student has)."""
    folder = base / a
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "assignments" / a / f"test_{a}.py", folder)
    shutil.copy(ROOT / "solutions" / a / f"{a}.py", folder)
    return folder


def slowest(folder: Path, a: str, cwd: Path, n: int = 3) -> list[str]:
    _, output, _ = timed(["-m", "pytest", str(folder / f"test_{a}.py"), "-q", "--tb=no", "-rN", "-p", "no:cacheprovider",
                          f"--durations={n}"], 1, cwd)
    return [f"{m.group(2)} {m.group(1)}s" for m in re.finditer(r"^([0-9.]+)s call\s+\S+::(\S+)", output, re.M)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-a", "--assignment", action="append", help="only these (default: every assignment)")
    parser.add_argument("--cpus", type=int, nargs="+", default=[1, 2], help="core counts to run under (default 1 2)")
    parser.add_argument("--no-hidden", action="store_true", help="skip the hidden grading (no ratios)")
    args = parser.parse_args()
    assignments = args.assignment or course.names(hidden=False)
    rows, notes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for a in assignments:
            folder = reference_folder(base / "public", a)
            (base / "class" / a / "ref").mkdir(parents=True)
            shutil.copy(ROOT / "solutions" / a / f"{a}.py", base / "class" / a / "ref")
            for cpus in args.cpus:
                full, out_full, rc_full = timed(["-m", "autograder.cli", "test", a, "--path", str(folder)], cpus, base)
                quick, _, _ = timed(["-m", "autograder.cli", "test", a, "--path", str(folder), "--quick"], cpus, base)
                hidden = None
                if not args.no_hidden:
                    grades = base / "grades" / f"{a}-{cpus}"
                    hidden, out_hidden, rc = timed(["-m", "autograder.cli", "grade", str(base / "class" / a), "--out",
                                                    str(grades), "-a", a], cpus, base)
                    hidden = hidden if rc == 0 else None
                    if rc != 0:
                        notes.append(f"{a} ({cpus} cores): nnzoo grade failed: {out_hidden.strip().splitlines()[-1:]}")
                total = re.search(r"total\s*│\s*│\s*([\d.]+)/([\d.]+)", out_full)
                rows.append((a, cpus, full, quick, hidden, f"{total.group(1)}/{total.group(2)}" if total else f"rc {rc_full}"))
            notes.append(f"{a}: slowest public tests (1 core): {', '.join(slowest(folder, a, base)) or '—'}")

    print("| assignment | cores | `nnzoo test` full s | quick s | hidden grading s | full/hidden | quick/hidden | public points |")
    print("|---|---|---|---|---|---|---|---|")
    for a, cpus, full, quick, hidden, points in rows:
        ratio = (lambda x: f"{x.wall / hidden.wall:.2f}") if hidden else (lambda x: "—")
        mark = lambda x, target: f"{x}" + ("" if x.wall <= target else " ✗")  # noqa: E731
        print(f"| {a} | {cpus} | {mark(full, TARGET_FULL_S)} | {mark(quick, TARGET_QUICK_S)} | "
              f"{hidden if hidden else '—'} | {ratio(full)} | {ratio(quick)} | {points} |")
    print(f"(seconds: wall, and in brackets the CPU seconds of the process and its children; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end)")
    print("")
    print("\n".join(notes))
    print(f"(✗: above the target — full ≤ {TARGET_FULL_S:g} s, quick ≤ {TARGET_QUICK_S:g} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
