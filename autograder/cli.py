"""The `nnzoo` command: parses, calls one verb, prints.

    nnzoo test [A]        student: public tests, points and hints (--quick: no training)
    nnzoo pack            student: the zip to hand in, <student>.zip (alias: submit)
    nnzoo grade SUBS      instructor: hidden tests in the sandbox → the gradebook folder
    nnzoo demo            grade the bundled sample class
    nnzoo release         the student bundle, or nbgrader source notebooks
    nnzoo stubs           regenerate assignments/<a>/<a>.py from the references
    nnzoo feedback OUT    rewrite the students' feedback (e.g. after the due date)
    nnzoo export canvas|moodle OUT   the gradebook as an LMS import
    nnzoo gradescope build|run       Gradescope's autograder zip, and what it runs there
    nnzoo selfcheck [A]   instructor: the hidden tests on correct variants and mutants
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from autograder import __version__, course
from autograder.worker.limits import SandboxLimits

if TYPE_CHECKING:
    from autograder.batch.executors import Executor


def _public_dir(assignment: str, path: str | None) -> Path:
    if path:  # the assignment's own folder, or the folder of all of them
        given = Path(path)
        return given / assignment if (given / assignment / f"test_{assignment}.py").is_file() else given
    here = Path.cwd()
    if (here / f"test_{assignment}.py").is_file():  # standing in the assignment's folder
        return here
    for base in (here / "assignments", here, course.project_root() / "assignments"):
        if (base / assignment / f"test_{assignment}.py").is_file():
            return base / assignment
    return course.project_root() / "assignments" / assignment


def _elsewhere_note(assignment: str, folder: Path) -> str | None:
    """A note when `./<a>.py` exists but the tests found are another file's: the student
    would otherwise read points of code they are not editing."""
    mine, tested = Path.cwd() / f"{assignment}.py", folder / f"{assignment}.py"
    if not mine.is_file() or (tested.exists() and mine.samefile(tested)):
        return None
    return (f"nnzoo test: note: this tests {tested}, not ./{mine.name} — the public tests run on the "
            f"{mine.name} beside test_{assignment}.py; copy {folder / f'test_{assignment}.py'} next to "
            f"./{mine.name}, or run nnzoo test in your own assignment folder")


def _notebook_note(assignment: str, folder: Path) -> str | None:
    """A note when the tested `<a>.py` is still the stub as released and `<a>.ipynb` is
    beside it (the bundle's notebook route): the points are not those of the notebook.
    As `nnzoo pack` tells (`pack.is_released_stub`): in a bundle, the course's stub is the
    file the student edits."""
    from autograder import pack

    py, notebook = folder / f"{assignment}.py", folder / f"{assignment}.ipynb"
    if not (notebook.is_file() and pack.is_released_stub(py, assignment, pack.released_stubs(folder.parent.parent))):
        return None
    return (f"nnzoo test: note: {py.name} is the stub as released and {notebook.name} is beside it — these points are "
            f"the stub's; run the test cells of {notebook.name} in Jupyter (nnzoo pack packs the notebook)")


def public_test_args(tests: Path, *, quick: bool = False) -> list[str]:
    """pytest's arguments for one assignment's public tests as `nnzoo test` runs them: the
    reasons go to the points table (no tracebacks, no short summary); `quick` leaves out
    the tests marked `trains`."""
    args = [str(tests), "-q", "-p", "no:cacheprovider", "--tb=no", "-rN", "--no-header",
            "--rootdir", str(tests.parent), "-W", "ignore::DeprecationWarning",
            "-W", "ignore::pytest.PytestAssertRewriteWarning"]  # nnzoo's own modules, imported before pytest starts
    return [*args, "-m", "not trains"] if quick else args


def run_public_tests(tests: Path, *, quick: bool = False) -> int:
    """Run one public test file in this process, torch pinned to one thread; pytest's exit code."""
    import pytest

    from autograder.batch.interrupt import import_torch_whole

    import_torch_whole()
    from autograder.worker.probes import one_thread

    with one_thread():
        return int(pytest.main(public_test_args(tests, quick=quick)))


def cmd_test(args: argparse.Namespace) -> int:
    assignments = [args.assignment] if args.assignment else course.names(hidden=False)
    if not args.assignment:  # `--path assignments/rnn`, or standing in it: that one assignment
        folder = Path(args.path) if args.path else Path.cwd()
        assignments = [a for a in assignments if (folder / f"test_{a}.py").is_file()] or assignments
    code = 0
    for a in assignments:
        folder = _public_dir(a, args.path)
        tests = folder / f"test_{a}.py"
        if not tests.is_file():
            print(f"nnzoo test: no public tests {tests} — pass the assignment's folder with --path", file=sys.stderr)
            return 2
        for note in (_elsewhere_note(a, folder), _notebook_note(a, folder)):
            if note:
                print(note, file=sys.stderr)
        quick = " (quick: the tests that train a model are left out)" if args.quick else ""
        print(f"== {a}: public tests in {folder}{quick}")
        result = run_public_tests(tests, quick=args.quick)
        if result == 5 and args.quick:  # every test trains: nothing left to run is not a failure
            result = 0
        code = code or result
    return code


def _assignments_folder(path: str | None) -> Path:
    if path:
        return Path(path)
    here = Path.cwd() / "assignments"
    return here if here.is_dir() else course.project_root() / "assignments"


def cmd_pack(args: argparse.Namespace) -> int:
    from autograder import pack
    from autograder.load import student_id

    if not any(c.isalnum() for c in args.student):
        print(f"nnzoo pack: --student {args.student!r} names no one — give your student id, e.g. --student ana_lee",
              file=sys.stderr)
        return 2
    sid = student_id(args.student)
    folder = _assignments_folder(args.path)
    if not folder.is_dir():
        print(f"nnzoo pack: no folder {folder} — run it in your nnzoo folder, or pass --path assignments/", file=sys.stderr)
        return 2
    stubs = pack.released_stubs(folder.parent)
    chosen: list[pack.Chosen] = []
    for a in args.assignment or course.names(hidden=False):
        picked = pack.choose(folder, a, stubs)
        if isinstance(picked, str):
            print(f"{a}: {picked}")
        else:
            chosen.append(picked)
            print(f"{a}: {picked.path}" + (f" — {picked.note}" if picked.note else ""))
    if not chosen:
        print("nnzoo pack: nothing to pack — fill in assignments/<a>/<a>.py first", file=sys.stderr)
        return 2
    problems = {a: why for a, why in pack.import_problems(chosen).items() if why}
    for a, why in problems.items():
        print(f"nnzoo pack: refused {a}: {why}", file=sys.stderr)
    if problems:
        rest = " ".join(f"-a {c.assignment}" for c in chosen if c.assignment not in problems)
        print("nnzoo pack: no zip written — fix the file(s) above"
              + (f", or add {rest} to pack only the others" if rest else ""), file=sys.stderr)
        return 1
    results: dict[str, str] = {}
    for c in chosen:
        tests = c.path.parent / f"test_{c.assignment}.py"
        if args.no_tests or c.path.suffix != ".py" or not tests.is_file():
            results[c.assignment] = "public tests not run"
            continue
        print(f"== {c.assignment}: public tests")
        code = run_public_tests(tests)
        results[c.assignment] = "public tests pass" if code == 0 else "some public tests fail (packed anyway)"
    out = Path(args.out) if args.out else folder.parent
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{sid}.zip"
    pack.write_zip(target, chosen)
    print("")
    for c in chosen:
        print(f"packed {c.path.name:<16} {results[c.assignment]}")
    renamed = f" (your id as the grader reads it: {sid})" if sid != args.student else ""
    print(f"wrote {target}{renamed} — hand in this file")
    return 0


def _fail(message: str) -> int:
    print(f"nnzoo grade: {message}", file=sys.stderr)
    return 2


def _assignments_for(requested: list[str] | None, submissions: list) -> list[str]:
    graded = course.names(hidden=True)
    if requested:
        unknown = [a for a in requested if a not in graded]
        if unknown:
            raise course.UnknownAssignment(f"no hidden tests for {', '.join(unknown)} (known: {', '.join(graded)})")
        return course.in_order(set(requested))
    # an entry that could not be read at all (a corrupt zip) has a problem in every assignment: it says
    # nothing about which assignments the class handed in
    unreadable = [s for s in submissions if not s.sources and set(s.problems) >= set(graded)]
    present = {a for s in submissions if s not in unreadable for a in (*s.sources, *s.problems)}
    return [a for a in graded if a in present] or graded


#: how many students' hand-in problems the console lists (all of them are in the feedback)
MOST_PROBLEMS_SHOWN = 20


def _print_problems(submissions: list, assignments: list[str]) -> None:
    """One line per assignment a student handed in wrongly (a misnamed file, a zip inside the
    submission, an unreadable notebook, an empty zip) — what their zero is for."""
    from autograder.load.files import printable

    lines = [printable(f"  {s.student}, {a}: {s.problems[a]}") for s in submissions for a in assignments if a in s.problems]
    if lines:
        print("handed in, but not gradable as it stands (the feedback says the same):")
        print("\n".join(lines[:MOST_PROBLEMS_SHOWN]))
        if len(lines) > MOST_PROBLEMS_SHOWN:
            print(f"  … and {len(lines) - MOST_PROBLEMS_SHOWN} more: see the feedback files")


def run_grading(root: Path, out: Path, requested: list[str] | None, jobs: int, resume: bool,
                students: list[str] | None = None, limits: SandboxLimits = SandboxLimits(),
                allow_weak_sandbox: bool = False, executor: Executor | None = None) -> int:
    from autograder.atomic import FolderBusy, cannot_write, sole_writer
    from autograder.batch import BatchOptions, check_output_folder, grade_class, grader_errors
    from autograder.batch.cluster import WorkerRefused
    from autograder.batch.executors import LocalExecutor
    from autograder.batch.interrupt import CtrlC
    from autograder.course.term import TermError, load_term
    from autograder.export.grades import max_scores, score
    from autograder.judge.result import StudentRecord
    from autograder.load import IdCollision, NothingToGrade, hidden_entries, load_class, loose_files, student_id
    from autograder.report.console import gradebook_table
    from autograder.report.progress import grading_progress

    problem = check_output_folder(root, out)
    if problem:
        return _fail(problem)
    try:
        term = load_term()
        submissions = load_class(root, course.names(hidden=True))
        in_class = {s.student for s in submissions}
        assignments = _assignments_for(requested, submissions)
    except (NothingToGrade, IdCollision, course.UnknownAssignment, TermError) as exc:
        return _fail(str(exc))
    typos = term.unknown(course.names(hidden=True))
    if typos:
        print(f"nnzoo grade: {term.path} names assignments the course does not have: {', '.join(typos)}",
              file=sys.stderr)
    strangers = sorted(f"{sid} ({a})" for a, deadline in term.deadlines.items() for sid in deadline.extensions
                       if sid not in in_class)
    if strangers:
        print(f"nnzoo grade: {term.path} grants extensions to ids no student in {root} has: {', '.join(strangers)} — "
              "ids are as in grades.csv (a folder \"Liam O'Brien\" has the id Liam_O_Brien)", file=sys.stderr)
    if students:
        wanted = {student_id(s): s for s in students}  # a folder's name ("Zoë Ångström") names its student too
        unknown = sorted(name for sid, name in wanted.items() if sid not in in_class)
        if unknown:
            return _fail(f"no student {', '.join(unknown)} in {root} (ids as in grades.csv)")
        submissions = [s for s in submissions if s.student in wanted]
    done: list[str] = []  # the students whose records are written (or kept): said if Ctrl-C stops the batch
    try:
        with sole_writer(out), CtrlC() as ctrl_c, executor or LocalExecutor(jobs) as run_on:
            refusal = run_on.refusal(assignments, root, out, allow_weak=allow_weak_sandbox)
            if refusal:
                return _fail(refusal)
            options = BatchOptions(out=out, assignments=assignments, jobs=jobs, resume=resume, limits=limits, term=term,
                                   executor=run_on)
            try:
                with grading_progress(len(submissions)) as advance:
                    def on_done(record: StudentRecord) -> None:
                        advance(record)
                        done.append(record.student)
                        ctrl_c.check()  # a press that landed in a destructor stops the batch here

                    summary = grade_class(submissions, options, on_done=on_done)
            except WorkerRefused as exc:
                return _fail(exc.batch_stopped())
    except KeyboardInterrupt:  # the class files were written with the last record (`grade_class`)
        print(f"nnzoo grade: interrupted — {len(done)} of {len(submissions)} students are graded and in {out}; the same "
              "command with --resume grades the rest", file=sys.stderr)
        return 130
    except FolderBusy as exc:
        return _fail(str(exc))
    except OSError as exc:
        line = cannot_write(exc, out)
        if not line:
            raise
        kept = f"; the {len(done)} students graded so far are kept, and --resume grades the rest" if done else ""
        return _fail(line + kept)
    records = [r for r in summary.records if r.student in {s.student for s in submissions}]
    rows = [{"student": r.student, "scores": {a: score(r, a, term) for a in assignments if a in r.assignments},
             "total": sum(score(r, a, term) for a in assignments if a in r.assignments)} for r in records]
    for row in rows:
        row["scores"] = {a: row["scores"].get(a, 0.0) for a in assignments}
    print(gradebook_table(rows, assignments, max_scores(records, assignments)))
    if any(set(r.assignments) - set(assignments) for r in summary.records):
        print(f"(the total is of the assignments graded now; {out / 'grades.csv'} has every assignment's)")
    _print_problems(submissions, assignments)
    print(f"{summary.describe()} (student × assignment)")
    levels = next((res.sandbox for r in records for res in r.assignments.values() if res.sandbox), {})
    if levels:
        print("sandbox: " + "; ".join(f"{k}: {v}" for k, v in levels.items()))
    flagged = sorted({r.student for r in records for res in r.assignments.values() if res.scan})
    if flagged:
        print(f"for human review (suspicious calls): {', '.join(flagged)} — see grades.json")
    print(f"wrote {out / 'grades.csv'}, {out / 'grades.json'}, {out / 'overview.html'} (and .md) and {out / 'feedback'}/")
    for name in hidden_entries(root):
        print(f"not graded: {root / name} (a name starting with a dot is hidden; rename it to grade it)")
    for name in loose_files(root):
        print(f"not graded: {root / name} (neither a student's folder nor a .zip: unpack an archive into a folder named "
              "after the student, or move a file into its student's folder)")
    gone = sorted({r.student for r in summary.records} - in_class)
    if gone:
        print(f"grades.csv still lists {len(gone)} student(s) graded into {out} before but not in {root} now: "
              f"{', '.join(gone[:10])}{' …' * (len(gone) > 10)} (delete their {out / 'students'}/<id>.json to drop them)")
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
    if args.scheduler and args.executor != "dask":
        return _fail("--scheduler is the address of a Dask scheduler: add --executor dask")
    if args.scheduler and args.jobs != 1:
        return _fail("-j sizes a local run; on a Dask scheduler the workers are the jobs (start more `dask worker`s)")
    if args.nbgrader:
        from autograder.nbgrader.cli import grade_nbgrader

        return grade_nbgrader(args)
    from autograder.batch.executors import executor_for

    limits = SandboxLimits(call_seconds=args.call_seconds, submission_seconds=args.submission_seconds,
                           child_processes=args.allow_child_processes)
    executor = executor_for(args.executor, args.jobs, args.scheduler)
    return run_grading(Path(args.submissions), Path(args.out), args.assignment, args.jobs, args.resume, args.student,
                       limits, allow_weak_sandbox=args.allow_weak_sandbox, executor=executor)


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


def cmd_feedback(args: argparse.Namespace) -> int:
    from autograder.atomic import FolderBusy, sole_writer
    from autograder.batch import load_records, write_student
    from autograder.course.term import TermError, load_term

    out = Path(args.gradebook)
    try:
        term = load_term()
    except TermError as exc:
        print(f"nnzoo feedback: {exc}", file=sys.stderr)
        return 2
    records = load_records(out)
    if not records:
        print(f"nnzoo feedback: no students/*.json in {out} — give the folder `nnzoo grade --out` wrote", file=sys.stderr)
        return 2
    try:
        with sole_writer(out):
            for record in records.values():
                write_student(out, record, term)
    except (FolderBusy, OSError) as exc:
        print(f"nnzoo feedback: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(records)} feedback files in {out / 'feedback'}/ (tests marked after_due_date are listed for "
          "assignments whose due date has passed)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from autograder.atomic import write_atomic
    from autograder.batch import load_records
    from autograder.course.term import TermError, load_term
    from autograder.export.lms import EXPORTERS, RosterError, read_roster

    def fail(message: str) -> int:
        print(f"nnzoo export: {message}", file=sys.stderr)
        return 2

    records = load_records(Path(args.gradebook))
    if not records:
        return fail(f"no students/*.json in {args.gradebook} — give the folder `nnzoo grade --out` wrote")
    try:
        term = load_term()
        roster = read_roster(Path(args.roster))
    except (TermError, RosterError) as exc:
        return fail(str(exc))
    graded = course.in_order({a for r in records.values() for a in r.assignments})
    unknown = [a for a in args.assignment or [] if a not in graded]
    if unknown:
        return fail(f"{', '.join(unknown)} not in the gradebook (graded: {', '.join(graded)})")
    assignments = course.in_order(set(args.assignment)) if args.assignment else graded
    out, gradebook = Path(args.out), Path(args.gradebook).resolve()
    if out.resolve() == Path(args.roster).resolve():
        return fail(f"--out {out} is the roster — the export would replace it; write it to a new file")
    if gradebook in out.resolve().parents:
        return fail(f"--out {out} is inside the gradebook {args.gradebook} — nnzoo writes there; write the export elsewhere")
    if out.is_dir():
        return fail(f"--out {out} is a folder — give a file name, e.g. {out / f'{args.lms}.csv'}")
    export = EXPORTERS[args.lms]([records[s] for s in sorted(records)], assignments, roster, term)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, export.text)
    except OSError as exc:
        return fail(f"cannot write {out}: {exc.strerror or exc}")
    print(f"wrote {out}: {export.rows} students × {len(assignments)} assignments ({', '.join(assignments)}), "
          "final scores")
    for line in export.report():
        print(f"nnzoo export: {line}", file=sys.stderr)
    return 1 if export.unknown or export.unidentified else 0


def cmd_gradescope(args: argparse.Namespace) -> int:
    if args.action == "run":
        from autograder.gradescope.run import main as run_main

        return run_main(args.root)
    from autograder.gradescope.build import BuildOptions, build_zip

    if not args.assignment:
        print("nnzoo gradescope build: name the assignment (e.g. `nnzoo gradescope build mlp --out mlp.zip`)",
              file=sys.stderr)
        return 2
    options = BuildOptions(args.assignment, timeout_seconds=args.timeout, torch=args.torch or "",
                           allow_weak_sandbox=args.allow_weak_sandbox)
    try:
        names = build_zip(Path(args.out), options)
    except (course.UnknownAssignment, ValueError) as exc:
        print(f"nnzoo gradescope build: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({len(names)} files: setup.sh and run_autograder at its root, nnzoo/ with "
          f"solutions/{args.assignment}/) — it holds the reference: upload it on Gradescope's "
          "Configure Autograder page only")
    return 0


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
    p.add_argument("assignment", nargs="?", choices=known, help="which assignment (default: the one whose folder you are in, else all)")
    p.add_argument("--path", help="folder holding <assignment>.py and test_<assignment>.py")
    p.add_argument("--quick", action="store_true", help="leave out the tests that train a model (seconds, not minutes)")
    p.set_defaults(func=cmd_test)

    p = sub.add_parser("pack", aliases=["submit"], help="student: the zip to hand in (<student>.zip)",
                       description="Check your files, run the public tests, and write <student>.zip holding "
                                   "<a>.py (or <a>.ipynb) for each assignment you started — the file you hand in.")
    p.add_argument("--student", required=True, metavar="ID", help="your student id: the zip is named after it")
    p.add_argument("-a", "--assignment", action="append", choices=known, help="only these (repeatable; default: all)")
    p.add_argument("--path", metavar="DIR", help="the folder holding <a>/<a>.py (default: ./assignments)")
    p.add_argument("--out", metavar="DIR", help="where to write the zip (default: beside the assignments folder)")
    p.add_argument("--no-tests", action="store_true", help="do not run the public tests first")
    p.set_defaults(func=cmd_pack)

    p = sub.add_parser("grade", help="instructor: grade a class against the hidden tests",
                       description="Grade every student folder or .zip in SUBMISSIONS in the sandbox.")
    p.add_argument("submissions", help="folder with one folder or .zip per student")
    p.add_argument("--out", required=True, help="the gradebook folder: grades.csv, grades.json, feedback/, students/")
    p.add_argument("-a", "--assignment", action="append", help="grade only these (repeatable); the others stay as graded")
    p.add_argument("-j", "--jobs", type=int, default=1, help="students graded in parallel (default 1)")
    p.add_argument("--executor", choices=("local", "dask"), default="local",
                   help="where students are graded: this machine (default), or Dask — a LocalCluster of -j processes, "
                        "or the cluster of --scheduler (docs/cluster.md)")
    p.add_argument("--scheduler", metavar="ADDR", help="the Dask scheduler to grade on (tcp://host:8786), with --executor dask")
    p.add_argument("--resume", action="store_true",
                   help="keep grades of unchanged code graded by the same grader; regrade the rest")
    p.add_argument("--student", action="append", metavar="ID", help="grade only this student (repeatable)")
    defaults = SandboxLimits()
    p.add_argument("--call-seconds", type=float, default=defaults.call_seconds, metavar="S",
                   help=f"wall-clock limit of one probe call (default {defaults.call_seconds:g})")
    p.add_argument("--submission-seconds", type=float, default=defaults.submission_seconds, metavar="S",
                   help=f"wall-clock budget of one student's assignment (default {defaults.submission_seconds:g})")
    p.add_argument("--allow-child-processes", action="store_true",
                   help="let student code fork processes of its own (DataLoader(num_workers>0), multiprocessing); "
                        "by default the worker is one process — each child has a memory limit of its own")
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

    p = sub.add_parser("feedback", help="instructor: rewrite every student's feedback from the gradebook",
                       description="Rewrite GRADEBOOK/feedback/ from the records with today's due dates and late "
                                   "policy (nnzoo.toml): tests marked after_due_date appear once the due date passed.")
    p.add_argument("gradebook", help="the folder `nnzoo grade --out` wrote")
    p.set_defaults(func=cmd_feedback)

    p = sub.add_parser("export", help="instructor: the gradebook as a Canvas or Moodle import (CSV)",
                       description="Write the final scores (after late penalties) of GRADEBOOK as a CSV file the LMS "
                                   "imports, mapping nnzoo's student ids to LMS identities through a roster.")
    p.add_argument("lms", choices=["canvas", "moodle"])
    p.add_argument("gradebook", help="the folder `nnzoo grade --out` wrote")
    p.add_argument("--roster", required=True, metavar="CSV",
                   help="column `student` (nnzoo id) and the LMS's: name, canvas_id, sis_user_id, sis_login_id, "
                        "section (Canvas); email, idnumber, username (Moodle)")
    p.add_argument("--out", required=True, metavar="FILE", help="the CSV file to write")
    p.add_argument("-a", "--assignment", action="append", help="only these assignments (repeatable)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("gradescope", help="instructor: Gradescope's autograder zip (build), and its grader (run)",
                       description="build: write the zip for Gradescope's Configure Autograder page (setup.sh and "
                                   "run_autograder at its root). run: grade ROOT/submission into "
                                   "ROOT/results/results.json, as run_autograder does in Gradescope's container.")
    p.add_argument("action", choices=["build", "run"])
    p.add_argument("assignment", nargs="?", help="build: the assignment the zip grades")
    p.add_argument("--out", default="autograder.zip", help="build: the zip to write (default autograder.zip)")
    p.add_argument("--timeout", type=int, default=600, metavar="S",
                   help="build: the assignment's timeout on Gradescope (default 600); nnzoo stops 30 s before it")
    p.add_argument("--torch", metavar="VERSION", help="build: the torch version to install (default: this one's)")
    p.add_argument("--allow-weak-sandbox", action="store_true",
                   help="build: grade even where student code could read the reference (see docs/threat-model.md)")
    p.add_argument("--root", metavar="DIR", help="run: the folder laid out like /autograder (default: $NNZOO_GS_ROOT "
                                                 "or /autograder)")
    p.set_defaults(func=cmd_gradescope)

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


def _cannot_write_where_asked(args: argparse.Namespace, exc: OSError) -> str:
    """One line when `exc` is about the output path the command was given ("" if not)."""
    from autograder.atomic import cannot_write

    asked = [getattr(args, "out", None), args.nbgrader if args.command == "release" else None]
    return next((line for path in asked if path for line in [cannot_write(exc, Path(path))] if line), "")


def main(argv: list[str] | None = None) -> int:
    """Run one command (`argv`: its words; None: this process is the `nnzoo` program).

    As the program, what the command built (torch, pytest, the reference, a class's records)
    is frozen out of the garbage collection the interpreter runs as it exits: walking it
    made every command end about 0.25 s later.  Only cycles still uncollected then are left
    to the operating system, and nothing of nnzoo's waits on one: files are written whole
    and closed, and workers end through their handles.
    """
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except KeyboardInterrupt:  # Ctrl-C: what each command wrote is whole (files are replaced atomically)
        print("nnzoo: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # where the user said to write: a file in the way, a read-only disk
        line = _cannot_write_where_asked(args, exc)
        if not line:
            raise
        print(f"nnzoo {args.command}: {line}", file=sys.stderr)
        return 2
    if argv is None:
        gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(main())
