"""Wall time of a whole class through `nnzoo grade`, for N students × every assignment, on
each executor: `-j 1`, `-j 2`, and `--executor dask -j 2` (a LocalCluster of 2 processes
× 1 thread) — with the three gradebooks shown identical.

Student i hands in, for each assignment, copy i of the pool of the sample and test
submissions (`examples/submissions`, `tests/submissions/<a>/`: correct and broken ones).
Sizes run smallest first and the executors interleave within a size (j1, j2, dask), so
that the load from other users hits them alike; the load average is printed with each.

From two sizes the marginal cost of a student (slope) and the fixed cost (intercept) of
each executor follow.  As root with a cgroup-v1 `cpuacct` hierarchy, each run also goes in
a cgroup of its own and its CPU seconds (judge, fork servers, sandboxed workers, Dask) are
printed: the work done, whatever the load from other users — CPU(-j 2) / CPU(-j 1) is
what parallelism costs, and 2 × CPU(-j 1) / CPU(-j 2) bounds the speed-up on an idle
2-core machine.

Usage: python bench/scaling.py [N ...] [--only j1,j2,dask]     (default: 10 40, all three)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CPUACCT = Path("/sys/fs/cgroup/cpuacct")
EXECUTORS = {"-j 1": ["-j", "1"], "-j 2": ["-j", "2"], "dask 2×1": ["--executor", "dask", "-j", "2"]}
SHORT = {"j1": "-j 1", "j2": "-j 2", "dask": "dask 2×1"}


def pool(assignment: str) -> list[Path]:
    """The submissions a student may hand in for `assignment` (sample ones first)."""
    samples = sorted((ROOT / "examples" / "submissions").glob(f"*/{assignment}.py"))
    return samples + sorted((ROOT / "tests" / "submissions" / assignment).glob("*.py"))


def make_class(folder: Path, n: int, assignments: list[str]) -> None:
    pools = {a: pool(a) for a in assignments}
    for i in range(n):
        student = folder / f"s{i:05d}"
        student.mkdir(parents=True)
        for a in assignments:
            (student / f"{a}.py").write_bytes(pools[a][i % len(pools[a])].read_bytes())


def cpu_group(name: str) -> Path | None:
    """A fresh cpuacct cgroup, or None where there is none to make (not root, cgroup v2)."""
    if os.geteuid() != 0 or not (CPUACCT / "cpuacct.usage").is_file():
        return None
    group = CPUACCT / f"nnzoo-bench-{os.getpid()}-{name}"
    try:
        group.mkdir()
    except OSError:
        return None
    return group


def grade(subs: Path, out: Path, flags: list[str]) -> tuple[float, float | None]:
    """(wall s, CPU s of the whole process tree or None) of one `nnzoo grade`."""
    group = cpu_group(out.name)
    join = (lambda: (group / "cgroup.procs").write_text(str(os.getpid()))) if group else None
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", str(subs), "--out", str(out), *flags],
                            capture_output=True, text=True, check=False, preexec_fn=join)
    seconds = time.perf_counter() - start
    cpu = None
    if group:
        cpu = int((group / "cpuacct.usage").read_text()) / 1e9
        time.sleep(1)  # stragglers (a nanny's worker) leave the group
        for pid in (group / "cgroup.procs").read_text().split():
            (CPUACCT / "cgroup.procs").write_text(pid)
        group.rmdir()
    if result.returncode not in (0, 1):  # 1: a grader error somewhere, said in the table
        raise RuntimeError(f"nnzoo grade {' '.join(flags)} failed: {result.stderr[-2000:]}")
    return seconds, cpu


def main() -> None:
    from autograder.course import names

    args = sys.argv[1:]
    only = args[args.index("--only") + 1].split(",") if "--only" in args else list(SHORT)
    executors = {SHORT[o]: EXECUTORS[SHORT[o]] for o in only}
    sizes = [int(a) for a in args if a.isdigit()] or [10, 40]
    assignments = names(hidden=True)
    rows: dict[int, dict[str, tuple[float, float, float | None]]] = {}
    print(f"{os.cpu_count()} cpus; assignments: {', '.join(assignments)}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            subs = Path(tmp) / "subs"
            make_class(subs, n, assignments)
            rows[n] = {}
            books = {}
            for name, flags in executors.items():
                load = os.getloadavg()[0]
                seconds, cpu = grade(subs, Path(tmp) / name.replace(" ", "").replace("×", "x"), flags)
                load = max(load, os.getloadavg()[0])
                rows[n][name] = (seconds, load, cpu)
                books[name] = (Path(tmp) / name.replace(" ", "").replace("×", "x") / "grades.csv").read_text()
                used = f", CPU {cpu:.1f} s" if cpu is not None else ""
                print(f"  {n} students × {len(assignments)}: {name}: {seconds:.1f} s (load ≤ {load:.1f}{used})", flush=True)
            same = len(set(books.values())) == 1
            print(f"  identical grades.csv on the {len(executors)} executors: {same}", flush=True)
            assert same, "the executors disagree"
    print("\nwall s (CPU s of the process tree), load average: the higher of before and after")
    print("| students × 5 | " + " | ".join(executors) + " | -j 2 / -j 1 speed-up, wall (idle-machine bound from CPU) |")
    print("|---|" + "---|" * (len(executors) + 1))
    for n, row in rows.items():
        cells = " | ".join(f"{s:.0f}" + (f" ({c:.0f})" if c is not None else "") + f", load {l:.1f}" for s, l, c in row.values())
        if "-j 1" not in row or "-j 2" not in row:
            print(f"| {n} | {cells} | — |")
            continue
        cpu1, cpu2 = row["-j 1"][2], row["-j 2"][2]
        bound = f" ({2 * cpu1 / cpu2:.2f}×)" if cpu1 and cpu2 else ""
        print(f"| {n} | {cells} | {row['-j 1'][0] / row['-j 2'][0]:.2f}×{bound} |")
    if len(sizes) >= 2:
        a, b = sizes[0], sizes[-1]
        print(f"\nfrom {a} and {b} students: marginal cost per student (slope), fixed cost (intercept)")
        for name in executors:
            slope = (rows[b][name][0] - rows[a][name][0]) / (b - a)
            line = f"  {name}: wall {slope:.2f} s/student, fixed {rows[a][name][0] - a * slope:.1f} s"
            if rows[a][name][2] is not None and rows[b][name][2] is not None:
                cpu_slope = (rows[b][name][2] - rows[a][name][2]) / (b - a)
                line += f"; CPU {cpu_slope:.2f} s/student, fixed {rows[a][name][2] - a * cpu_slope:.1f} s"
            print(line)


if __name__ == "__main__":
    main()
