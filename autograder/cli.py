"""The `nnzoo` command: parses, calls one verb, prints.

    nnzoo test [A]        student: public tests, points and hints
    nnzoo grade SUBS      instructor: hidden tests in the sandbox → the gradebook folder
    nnzoo demo            grade the bundled sample class
    nnzoo release         the student bundle, or nbgrader source notebooks
    nnzoo stubs           regenerate assignments/<a>/<a>.py from the references
    nnzoo selfcheck [A]   instructor: the hidden tests on correct variants and mutants
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder import __version__, course
from autograder.worker.limits import SandboxLimits


def _public_dir(assignment: str, path: str | None) -> Path:
    if path:
        return Path(path)
    for base in (Path.cwd() / "assignments", Path.cwd(), course.project_root() / "assignments"):
        if (base / assignment / f"test_{assignment}.py").is_file():
            return base / assignment
    return course.project_root() / "assignments" / assignment


def cmd_test(args: argparse.Namespace) -> int:
    import pytest

    assignments = [args.assignment] if args.assignment else course.names(hidden=False)
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


def _fail(message: str) -> int:
    print(f"nnzoo grade: {message}", file=sys.stderr)
    return 2


def check_output_folder(root: Path, out: Path) -> str:
    """Why `out` cannot hold the gradebook of the class in `root` (one line), or ""."""
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file — give a folder for the grades"
    r, o = root.resolve(), out.resolve()
    if o == r or r in o.parents:
        return f"--out {out} is inside the submissions folder {root} — it would be graded as a student; put it elsewhere"
    return ""


def _assignments_for(requested: list[str] | None, submissions: list) -> list[str]:
    graded = course.names(hidden=True)
    if requested:
        unknown = [a for a in requested if a not in graded]
        if unknown:
            raise course.UnknownAssignment(f"no hidden tests for {', '.join(unknown)} (known: {', '.join(graded)})")
        return course.in_order(set(requested))
    present = {a for s in submissions for a in (*s.sources, *s.problems)}
    return [a for a in graded if a in present] or graded


def run_grading(root: Path, out: Path, requested: list[str] | None, jobs: int, resume: bool,
                students: list[str] | None = None, limits: SandboxLimits = SandboxLimits(),
                allow_weak_sandbox: bool = False) -> int:
    from autograder.batch import BatchOptions, grade_class, grader_errors
    from autograder.export.grades import max_scores
    from autograder.load import IdCollision, NothingToGrade, load_class
    from autograder.report.console import gradebook_table
    from autograder.report.progress import grading_progress
    from autograder.sandbox.preflight import grading_refusal

    problem = check_output_folder(root, out)
    if problem:
        return _fail(problem)
    try:
        submissions = load_class(root, course.names(hidden=True))
        assignments = _assignments_for(requested, submissions)
    except (NothingToGrade, IdCollision, course.UnknownAssignment) as exc:
        return _fail(str(exc))
    if students:
        unknown = sorted(set(students) - {s.student for s in submissions})
        if unknown:
            return _fail(f"no student {', '.join(unknown)} in {root} (ids as in grades.csv)")
        submissions = [s for s in submissions if s.student in students]
    refusal = grading_refusal(root, out, allow_weak=allow_weak_sandbox)
    if refusal:
        return _fail(refusal)
    options = BatchOptions(out=out, assignments=assignments, jobs=jobs, resume=resume, limits=limits)
    with grading_progress(len(submissions)) as on_done:
        summary = grade_class(submissions, options, on_done=on_done)
    records = [r for r in summary.records if r.student in {s.student for s in submissions}]
    rows = [{"student": r.student, "scores": {a: r.assignments[a].score for a in assignments if a in r.assignments},
             "total": sum(r.assignments[a].score for a in assignments if a in r.assignments)} for r in records]
    for row in rows:
        row["scores"] = {a: row["scores"].get(a, 0.0) for a in assignments}
    print(gradebook_table(rows, assignments, max_scores(records, assignments)))
    print(f"{summary.describe()} (student × assignment)")
    levels = next((res.sandbox for r in records for res in r.assignments.values() if res.sandbox), {})
    if levels:
        print("sandbox: " + "; ".join(f"{k}: {v}" for k, v in levels.items()))
    flagged = sorted({r.student for r in records for res in r.assignments.values() if res.scan})
    if flagged:
        print(f"for human review (suspicious calls): {', '.join(flagged)} — see grades.json")
    print(f"wrote {out / 'grades.csv'}, {out / 'grades.json'}, {out / 'overview.md'} and {out / 'feedback'}/")
    errors = grader_errors(records)
    if errors:
        print(f"grader error — rerun with --resume after fixing the grader: {', '.join(errors)}", file=sys.stderr)
        return 1
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        return _fail(f"-j must be at least 1, not {args.jobs}")
    if args.call_seconds <= 0 or args.submission_seconds <= 0:
        return _fail("--call-seconds and --submission-seconds must be positive")
    if args.nbgrader:
        from autograder.nbgrader.cli import grade_nbgrader

        return grade_nbgrader(args)
    limits = SandboxLimits(call_seconds=args.call_seconds, submission_seconds=args.submission_seconds)
    return run_grading(Path(args.submissions), Path(args.out), args.assignment, args.jobs, args.resume, args.student,
                       limits, allow_weak_sandbox=args.allow_weak_sandbox)


def cmd_demo(args: argparse.Namespace) -> int:
    root = course.project_root() / "examples" / "submissions"
    print(f"Grading the sample submissions in {root} …")
    # nnzoo's own sample submissions: a weak sandbox is said, not refused
    return run_grading(root, Path(args.out), None, args.jobs, resume=False, allow_weak_sandbox=True)


def cmd_release(args: argparse.Namespace) -> int:
    if args.out:
        from autograder.bundle import release_bundle

        return release_bundle(Path(args.out), args.assignment)
    from autograder.nbgrader.cli import release_nbgrader

    return release_nbgrader(Path(args.nbgrader), args.assignment)


def cmd_stubs(args: argparse.Namespace) -> int:
    from autograder.course.stubs import write_stubs

    changed = write_stubs(course.assignments(hidden=True))
    print("\n".join(f"updated {p}" for p in changed) or "stubs are up to date")
    return 0


def cmd_selfcheck(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress

    from autograder.selfcheck import RESULTS, SelfcheckOptions, generator_names, run_selfcheck
    from autograder.selfcheck.console import per_test_table, print_details, summary_table

    if args.jobs < 1 or (args.limit is not None and args.limit < 0):
        print("nnzoo selfcheck: -j must be at least 1 and --limit not negative", file=sys.stderr)
        return 2
    unknown = sorted(set(args.only or ()) - set(generator_names()))
    if unknown:
        print(f"nnzoo selfcheck: --only {', '.join(unknown)}: no such transform or mutation operator "
              f"(known: {', '.join(generator_names())})", file=sys.stderr)
        return 2
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        print(f"nnzoo selfcheck: --out {out} is a file — give a folder", file=sys.stderr)
        return 2
    options = SelfcheckOptions(out=out, jobs=args.jobs, limit=args.limit, only=frozenset(args.only or ()))
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("selfcheck", total=None)
        reports, unknown = run_selfcheck(
            args.assignment or course.names(hidden=True), options, say=lambda line: progress.console.print(line, markup=False, highlight=False, soft_wrap=True),
            on_candidates=lambda n: progress.reset(task, total=n),
            on_graded=lambda record: progress.advance(task))
    out_console = Console(soft_wrap=True)
    if not out_console.is_terminal:
        out_console.width = 150
    for report in reports:
        print_details(out_console, report)
        if args.per_test:
            out_console.print(per_test_table(report))
    if reports:
        out_console.print(summary_table(reports))
        print(f"wrote {out / RESULTS} (candidates and their grades in {out}/<assignment>/)")
    if unknown:
        return 2
    return 0 if all(r.goals_met for r in reports) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nnzoo", description="Auto-graded assignments for the Neural Net Zoo lecture.")
    parser.add_argument("--version", action="version", version=f"nnzoo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    known = course.names(hidden=False) or course.names(hidden=True)

    p = sub.add_parser("test", help="student: run the public tests, with points and hints",
                       description="Run an assignment's public tests on your code and show points per test.")
    p.add_argument("assignment", nargs="?", choices=known, help="which assignment (default: all)")
    p.add_argument("--path", help="folder holding <assignment>.py and test_<assignment>.py")
    p.set_defaults(func=cmd_test)

    p = sub.add_parser("grade", help="instructor: grade a class against the hidden tests",
                       description="Grade every student folder or .zip in SUBMISSIONS in the sandbox.")
    p.add_argument("submissions", help="folder with one folder or .zip per student")
    p.add_argument("--out", required=True, help="the gradebook folder: grades.csv, grades.json, feedback/, students/")
    p.add_argument("-a", "--assignment", action="append", help="grade only these (repeatable); the others stay as graded")
    p.add_argument("-j", "--jobs", type=int, default=1, help="students graded in parallel (default 1)")
    p.add_argument("--resume", action="store_true",
                   help="keep grades of unchanged code graded by the same grader; regrade the rest")
    p.add_argument("--student", action="append", metavar="ID", help="grade only this student (repeatable)")
    defaults = SandboxLimits()
    p.add_argument("--call-seconds", type=float, default=defaults.call_seconds, metavar="S",
                   help=f"wall-clock limit of one probe call (default {defaults.call_seconds:g})")
    p.add_argument("--submission-seconds", type=float, default=defaults.submission_seconds, metavar="S",
                   help=f"wall-clock budget of one student's assignment (default {defaults.submission_seconds:g})")
    p.add_argument("--nbgrader", metavar="COURSE_DIR",
                   help="SUBMISSIONS is this nbgrader course's submitted/ folder; also write the scores to its gradebook")
    p.add_argument("--allow-weak-sandbox", action="store_true",
                   help="grade even where student code could read the reference, hidden tests or other students' files "
                        "(no mount namespaces here); the weak levels are recorded per student")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("demo", help="grade the bundled sample submissions and print the gradebook",
                       description="Grade examples/submissions/ and print the gradebook.")
    p.add_argument("--out", default="demo-grades", help="output folder (default: demo-grades)")
    p.add_argument("-j", "--jobs", type=int, default=1)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("release", help="instructor: write the student bundle, or nbgrader source notebooks",
                       description="Write what students receive (--out DIR), or an nbgrader course's source notebooks "
                                   "(--nbgrader COURSE_DIR), from the reference solutions.")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", metavar="DIR", help="write the student bundle into DIR (new, or a previous bundle)")
    target.add_argument("--nbgrader", metavar="COURSE_DIR",
                        help="write COURSE_DIR/source/<a>/<a>.ipynb (and nbgrader_config.py if missing)")
    p.add_argument("-a", "--assignment", action="append", help="only these (repeatable)")
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("stubs", help="instructor: regenerate assignments/<a>/<a>.py from the references",
                       description="Regenerate the student stubs from solutions/<a>/<a>.py.")
    p.set_defaults(func=cmd_stubs)

    p = sub.add_parser("selfcheck", help="instructor: how well the hidden tests tell correct code from bugs",
                       description="Grade the reference, its stubs, generated correct variants (must score full marks) "
                                   "and generated mutants (should be killed) in the sandbox; report failing variants, "
                                   "the mutation score and every surviving mutant. See docs/selfcheck.md.")
    p.add_argument("assignment", nargs="*", help="assignments to check (default: all)")
    p.add_argument("-j", "--jobs", type=int, default=1, help="candidates graded in parallel (default 1)")
    p.add_argument("--out", default="selfcheck-results", help="output folder (default: selfcheck-results)")
    p.add_argument("--limit", type=int, metavar="K", help="at most K mutants per assignment (a sample over every operator)")
    p.add_argument("--only", action="append", metavar="NAME", help="only this transform or mutation operator (repeatable)")
    p.add_argument("--per-test", action="store_true", help="also print the mutants each test kills")
    p.set_defaults(func=cmd_selfcheck)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
