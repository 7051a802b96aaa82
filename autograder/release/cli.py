"""`nnzoo release` (the student bundle, nbgrader source notebooks) and the nbgrader side
of `nnzoo grade` — added to the `nnzoo` command by `autograder.cli`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.paths import ASSIGNMENTS, available_assignments


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add `nnzoo release` to the `nnzoo` command's subcommands."""
    p = subparsers.add_parser(
        "release", help="instructor: write the student bundle, or nbgrader source notebooks",
        description="Write what students receive (--out DIR), or an nbgrader course's source notebooks "
                    "(--nbgrader COURSE_DIR), from the reference solutions.")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", metavar="DIR", help="write the student bundle into DIR (new, or a previous bundle)")
    target.add_argument("--nbgrader", metavar="COURSE_DIR",
                        help="write COURSE_DIR/source/<a>/<a>.ipynb (and nbgrader_config.py if missing)")
    p.add_argument("-a", "--assignment", action="append", choices=ASSIGNMENTS, help="only these (repeatable)")
    p.set_defaults(func=cmd_release)


def cmd_release(args: argparse.Namespace) -> int:
    if args.out:
        return release_bundle(Path(args.out), args.assignment)
    return release_nbgrader(Path(args.nbgrader), args.assignment)


def release_bundle(out: Path, assignments: list[str] | None) -> int:
    from autograder.release.bundle import BundleError, write_bundle

    try:
        report = write_bundle(out, assignments)
    except BundleError as exc:
        print(f"nnzoo release: {exc}", file=sys.stderr)
        return 2
    print(f"wrote the student bundle to {out} — students run `make` then `make test` in it")
    if report.stubbed:
        print("left out of the bundle's autograder/ (they re-implement student tasks): " + ", ".join(report.stubbed))
    for line in report.still_used:
        print(f"warning: {line}, which the bundle leaves out — the public checks that need it fail there", file=sys.stderr)
    return 0


def release_nbgrader(course: Path, assignments: list[str] | None) -> int:
    from autograder.release.course import write_source

    known = available_assignments(hidden=True)
    unknown = [a for a in assignments or [] if a not in known]
    if unknown:
        print(f"nnzoo release: no reference and hidden tests for {', '.join(unknown)} (known: {', '.join(known)})",
              file=sys.stderr)
        return 2
    chosen = [a for a in known if not assignments or a in assignments]
    if not chosen:
        print("nnzoo release: no assignment has a reference and hidden tests here (solutions/ missing?)", file=sys.stderr)
        return 2
    for path in write_source(course, chosen):
        print(f"wrote {path}")
    print(f"next, in {course}: nbgrader generate_assignment {chosen[0]}   (one per assignment)")
    return 0


def grade_nbgrader(args: argparse.Namespace) -> int:
    """`nnzoo grade SUBMISSIONS --nbgrader COURSE_DIR --out DIR [-a A] [-j N]`.

    SUBMISSIONS is the course's collected `submitted/` folder (or COURSE_DIR itself).
    """
    from autograder.release.nbgrader_bridge import grade_nbgrader_course

    course = Path(args.nbgrader)
    submitted = Path(args.submissions)
    if submitted.resolve() == course.resolve():
        submitted = course / "submitted"
    return grade_nbgrader_course(course, args.assignment, Path(args.out), jobs=args.jobs, submitted=submitted)
