"""The `nnzoo` command: `test` (students), `grade`, `demo`, `release` and `stubs` (staff)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.paths import ASSIGNMENTS, available_assignments, project_root
from autograder.release.cli import add_commands as add_release_commands


def _public_dir(assignment: str, path: str | None) -> Path:
    if path:
        return Path(path)
    for base in (Path.cwd() / "assignments", Path.cwd(), project_root() / "assignments"):
        if (base / assignment / f"test_{assignment}.py").is_file():
            return base / assignment
    return project_root() / "assignments" / assignment


def cmd_test(args: argparse.Namespace) -> int:
    import pytest

    assignments = [args.assignment] if args.assignment else available_assignments(hidden=False)
    code = 0
    for a in assignments:
        folder = _public_dir(a, args.path)
        tests = folder / f"test_{a}.py"
        if not tests.is_file():
            print(f"nnzoo test: no public tests {tests} — pass the assignment's folder with --path", file=sys.stderr)
            return 2
        print(f"== {a}: public tests in {folder}")
        result = pytest.main([str(tests), "-q", "-p", "no:cacheprovider", "--tb=short", "--no-header",
                              "--rootdir", str(folder), "-W", "ignore::DeprecationWarning"])
        code = code or int(result)
    return code


def _assignments_for(requested: list[str] | None, submissions: list) -> list[str]:
    graded = available_assignments(hidden=True)
    if requested:
        unknown = [a for a in requested if a not in graded]
        if unknown:
            raise SystemExit(f"nnzoo grade: no hidden tests for {', '.join(unknown)} (known: {', '.join(graded)})")
        return [a for a in ASSIGNMENTS if a in requested]
    present = {a for s in submissions for a in (*s.sources, *s.problems)}
    return [a for a in graded if a in present] or graded


def run_grading(root: Path, out: Path, requested: list[str] | None, jobs: int, resume: bool) -> int:
    from rich.console import Console
    from rich.progress import Progress

    from autograder.batch import BatchOptions, grade_class, grader_errors
    from autograder.load import NothingToGrade, load_class
    from autograder.report.console import gradebook_table
    from autograder.report.gradebook import max_scores

    console = Console(stderr=True)
    try:
        submissions = load_class(root, list(ASSIGNMENTS))
    except NothingToGrade as exc:
        print(f"nnzoo grade: {exc}", file=sys.stderr)
        return 2
    assignments = _assignments_for(requested, submissions)
    options = BatchOptions(out=out, assignments=assignments, jobs=jobs, resume=resume)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"grading {len(submissions)} students", total=len(submissions))
        records = grade_class(submissions, options, on_done=lambda r: progress.advance(task))
    rows = [{"student": r["student"], "scores": {a: r["assignments"][a]["score"] for a in assignments},
             "total": sum(r["assignments"][a]["score"] for a in assignments)} for r in records]
    print(gradebook_table(rows, assignments, max_scores(records, assignments)))
    levels = next((res["sandbox"] for r in records for res in r["assignments"].values() if res["sandbox"]), {})
    if levels:
        print("sandbox: " + "; ".join(f"{k}: {v}" for k, v in levels.items()))
    flagged = sorted({r["student"] for r in records for res in r["assignments"].values() if res["scan"]})
    if flagged:
        print(f"for human review (suspicious calls): {', '.join(flagged)} — see grades.json")
    print(f"wrote {out / 'grades.csv'}, {out / 'grades.json'}, {out / 'overview.md'} and {out / 'feedback'}/")
    errors = grader_errors(records)
    if errors:
        print(f"grader error — rerun with --resume after fixing the grader: {', '.join(errors)}", file=sys.stderr)
        return 1
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    if args.nbgrader:
        from autograder.release.cli import grade_nbgrader

        return grade_nbgrader(args)
    return run_grading(Path(args.submissions), Path(args.out), args.assignment, args.jobs, args.resume)


def cmd_demo(args: argparse.Namespace) -> int:
    root = project_root() / "examples" / "submissions"
    print(f"Grading the sample submissions in {root} …")
    return run_grading(root, Path(args.out), None, args.jobs, resume=False)


def cmd_stubs(args: argparse.Namespace) -> int:
    from autograder.stubs import write_stubs

    changed = write_stubs(available_assignments(hidden=True))
    print("\n".join(f"updated {p}" for p in changed) or "stubs are up to date")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nnzoo", description="Auto-graded assignments for the Neural Net Zoo lecture.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("test", help="student: run the public tests, with points and hints",
                       description="Run an assignment's public tests on your code and show points per test.")
    p.add_argument("assignment", nargs="?", choices=ASSIGNMENTS, help="which assignment (default: all)")
    p.add_argument("--path", help="folder holding <assignment>.py and test_<assignment>.py")
    p.set_defaults(func=cmd_test)

    p = sub.add_parser("grade", help="instructor: grade a class against the hidden tests",
                       description="Grade every student folder or .zip in SUBMISSIONS in the sandbox.")
    p.add_argument("submissions", help="folder with one folder or .zip per student")
    p.add_argument("--out", required=True, help="where grades.csv, grades.json and feedback/ go")
    p.add_argument("-a", "--assignment", action="append", choices=ASSIGNMENTS, help="grade only these (repeatable)")
    p.add_argument("-j", "--jobs", type=int, default=1, help="students graded in parallel (default 1)")
    p.add_argument("--resume", action="store_true", help="keep the grades of unchanged, already graded students")
    p.add_argument("--nbgrader", metavar="COURSE_DIR",
                   help="SUBMISSIONS is this nbgrader course's submitted/ folder; also write the scores to its gradebook")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("demo", help="grade the bundled sample submissions and print the gradebook",
                       description="Grade examples/submissions/ and print the gradebook.")
    p.add_argument("--out", default="demo-grades", help="output folder (default: demo-grades)")
    p.add_argument("-j", "--jobs", type=int, default=1)
    p.set_defaults(func=cmd_demo)

    add_release_commands(sub)

    p = sub.add_parser("stubs", help="instructor: regenerate assignments/<a>/<a>.py from the references",
                       description="Regenerate the student stubs from solutions/<a>/<a>.py.")
    p.set_defaults(func=cmd_stubs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
