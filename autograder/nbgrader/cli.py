"""The nbgrader side of the `nnzoo` command: `nnzoo release --nbgrader` and
`nnzoo grade --nbgrader`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder import course
from autograder.worker.limits import SandboxLimits


def release_nbgrader(course_dir: Path, assignments: list[str] | None) -> int:
    """Write COURSE_DIR/source/<a>/<a>.ipynb for each assignment (all by default)."""
    from autograder.nbgrader.course import write_source

    known = course.names(hidden=True)
    unknown = [a for a in assignments or [] if a not in known]
    if unknown:
        print(f"nnzoo release: no reference and hidden tests for {', '.join(unknown)} (known: {', '.join(known)})",
              file=sys.stderr)
        return 2
    chosen = [a for a in known if not assignments or a in assignments]
    if not chosen:
        print("nnzoo release: no assignment has a reference and hidden tests here (solutions/ missing?)", file=sys.stderr)
        return 2
    for path in write_source(course_dir, chosen):
        print(f"wrote {path}")
    print(f"next, in {course_dir}: nbgrader generate_assignment {chosen[0]}   (one per assignment)")
    return 0


def grade_nbgrader(args: argparse.Namespace) -> int:
    """`nnzoo grade SUBMISSIONS --nbgrader COURSE_DIR --out DIR [-a A] [-j N]`.

    SUBMISSIONS is the course's collected `submitted/` folder (or COURSE_DIR itself).
    """
    from autograder.batch.executors import executor_for
    from autograder.nbgrader.bridge import grade_nbgrader_course

    course_dir = Path(args.nbgrader)
    submitted = Path(args.submissions)
    if submitted.resolve() == course_dir.resolve():
        submitted = course_dir / "submitted"
    defaults = SandboxLimits()
    limits = SandboxLimits(call_seconds=getattr(args, "call_seconds", defaults.call_seconds),
                           submission_seconds=getattr(args, "submission_seconds", defaults.submission_seconds),
                           child_processes=getattr(args, "allow_child_processes", defaults.child_processes))
    executor = executor_for(getattr(args, "executor", "local"), args.jobs, getattr(args, "scheduler", None))
    return grade_nbgrader_course(course_dir, args.assignment, Path(args.out), jobs=args.jobs, submitted=submitted,
                                 resume=args.resume, students=args.student, limits=limits,
                                 allow_weak_sandbox=getattr(args, "allow_weak_sandbox", False), executor=executor)
