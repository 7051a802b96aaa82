"""Grading one Gradescope submission, inside Gradescope's container (`run_autograder`
calls `nnzoo gradescope run`).

    ROOT/source/nnzoo/            the project (from the zip), installed by setup.sh
    ROOT/source/nnzoo-gradescope.json   what `nnzoo gradescope build` decided: the assignment, limits
    ROOT/submission/              the student's files: <a>.py or <a>.ipynb, at any depth
    ROOT/submission_metadata.json Gradescope's: when submitted, the due dates
    ROOT/results/results.json     written after every test (`results.py`)

ROOT is `/autograder` unless `NNZOO_GS_ROOT` (or `--root`) says otherwise, so the same
script runs against any folder laid out like it (tests/test_gradescope.py does).

The sandbox there: Gradescope runs this as root in a container without CAP_SYS_ADMIN, so
nnzoo's workers run in the fallback (docs/threat-model.md, "Two sandbox modes") and only
file permissions keep the reference from them.  Before grading, `lock_down` does what
Gradescope's own advice says (`chmod o=` on the submission and the results) and closes to
other users everything the preflight would name (the solutions, the judge's half of the
package); the source folder stays enterable (not listable) because the worker reads the
shipped weights below it.  The preflight then checks for real; if a worker could still
read a secret, nothing is graded (unless the zip was built with --allow-weak-sandbox),
and results.json says so.  The levels reached go into results.json (a hidden entry and
`extra_data`) and stdout.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from autograder import __version__
from autograder.course.term import (
    Deadline,
    Lateness,
    Term,
    TermError,
    load_term,
    parse_time,
)
from autograder.gradescope.results import GradescopeResults

CONFIG = "nnzoo-gradescope.json"


@dataclass(frozen=True)
class Layout:
    """The folders of a Gradescope container (or of a folder laid out like one)."""

    root: Path

    @property
    def source(self) -> Path:
        return self.root / "source"

    @property
    def project(self) -> Path:
        return self.source / "nnzoo"

    @property
    def submission(self) -> Path:
        return self.root / "submission"

    @property
    def results(self) -> Path:
        return self.root / "results" / "results.json"

    @property
    def metadata(self) -> Path:
        return self.root / "submission_metadata.json"


def _close(path: Path, keep: int = 0) -> None:
    """`chmod o=` (others keep only the bits in `keep`)."""
    if path.exists() and not path.is_symlink():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o007 != keep:
            os.chmod(path, (mode & ~0o007) | keep)


def _open_to_workers(path: Path, top: Path) -> None:
    """Let other users read `path` and enter the folders above it, up to `top`."""
    if path.is_file():
        os.chmod(path, stat.S_IMODE(path.stat().st_mode) | 0o004)
    for folder in path.parents:
        if not folder.is_relative_to(top) or folder == top:
            break
        os.chmod(folder, stat.S_IMODE(folder.stat().st_mode) | 0o001)


def lock_down(layout: Layout) -> None:
    """Close to other users (the workers' uids) what they must not read; open to them the
    shipped weights the provided code loads (however the zip was unpacked)."""
    from autograder.sandbox.preflight import grader_secrets, needed_paths

    layout.results.parent.mkdir(parents=True, exist_ok=True)
    for path in (layout.submission, layout.results.parent, layout.metadata):
        _close(path)
    inside = layout.project.resolve().is_relative_to(layout.source.resolve())
    _close(layout.source, keep=0o001 if inside else 0)  # enter, not list: the weights lie below
    if layout.root.exists():
        os.chmod(layout.root, stat.S_IMODE(layout.root.stat().st_mode) | 0o001)
    for fix in dict.fromkeys(s.fix for s in grader_secrets()):
        _close(Path(fix))
    for needed in needed_paths():
        if Path(needed).resolve().is_relative_to(layout.source.resolve()):
            _open_to_workers(Path(needed).resolve(), layout.source.resolve())


def deadline_for(metadata: dict, deadline: Deadline) -> Deadline:
    """The deadline to apply: Gradescope's due dates when the metadata has them (what
    students see there), with the term's late policy (`nnzoo.toml`)."""
    info = metadata.get("assignment") or {}
    due = parse_time(info["due_date"]) if info.get("due_date") else deadline.due
    until = parse_time(info["late_due_date"]) if info.get("late_due_date") else deadline.late_until
    return Deadline(due, until if until and due and until >= due else None, deadline.policy)


def lateness(term: Term, assignment: str, layout: Layout, submitted_at: str) -> Lateness:
    """How late this submission is: Gradescope's `created_at`, else the files' own time."""
    try:
        metadata = json.loads(layout.metadata.read_text()) if layout.metadata.is_file() else {}
    except (OSError, ValueError):
        metadata = {}
    when = metadata.get("created_at") or submitted_at
    at = parse_time(when, term.zone) if when else None
    return deadline_for(metadata, term.deadline(assignment)).lateness(at)


def run(layout: Layout, log=print) -> int:
    """Grade the submission in `layout` into its results.json; the exit code."""
    from autograder.course import assignment as course_assignment
    from autograder.worker.limits import SandboxLimits

    config = json.loads((layout.source / CONFIG).read_text())
    a = config["assignment"]
    results = GradescopeResults(layout.results, a, course_assignment(a).max_score,
                                extra={"nnzoo": __version__, "graded_at": datetime.now().astimezone().isoformat()})
    results.write()  # from here on, a crash still leaves a results.json
    try:
        term, term_problem = load_term(), ""
    except TermError as exc:
        term, term_problem = Term(), str(exc)
    if os.geteuid() == 0:
        lock_down(layout)
    from autograder.batch import grader_failure
    from autograder.batch.fingerprint import fingerprint
    from autograder.judge.run import grade_source
    from autograder.load import load_entry
    from autograder.sandbox.preflight import class_secrets, grader_secrets, preflight

    results.extra["fingerprint"] = fingerprint(a)
    with tempfile.TemporaryDirectory(prefix="nnzoo-gradescope-") as scratch:  # 0700: checked as the output folder
        found = preflight(grader_secrets() + class_secrets(layout.submission, Path(scratch)))
    refusal = found.refusal(bool(config.get("allow_weak_sandbox", False)))
    results.sandbox = dict(found.levels)
    log("sandbox: " + "; ".join(f"{k}: {v}" for k, v in results.sandbox.items()))
    if refusal:
        log(f"nnzoo: refused to grade: {refusal}")
        results.message = ("The autograder could not run your code safely here, so nothing was graded; your "
                           "instructor has been told. Your submission is kept and will be regraded.")
        results.extra["refusal"] = refusal
        results.done = True
        results.write()
        return 1
    sub = load_entry(layout.submission, [a])
    if term_problem:
        log(f"nnzoo: {term_problem} — graded without a late penalty")
    results.lateness = lateness(term, a, layout, sub.submitted_at.get(a, ""))
    limits = SandboxLimits(call_seconds=float(config.get("call_seconds", 30.0)),
                           submission_seconds=float(config.get("submission_seconds", 540.0)),
                           child_processes=config.get("child_processes") is True)
    try:
        result = grade_source(sub.sources.get(a), a, limits, problem=sub.problems.get(a, ""), on_result=results.add)
    except Exception as exc:  # noqa: BLE001 — the grader failed: say so in results.json, keep what ran
        log(f"nnzoo: grader error: {type(exc).__name__}: {exc}")
        result = grader_failure(a, exc)
        left = results.max_score - sum(t.max_score for t in results.tests)
        for t in result.tests:
            t.max_score = left
            results.add(t)
    if result.sandbox:
        results.sandbox = dict(result.sandbox)
    if sub.notes:
        results.message = "About your submission: " + "; ".join(sub.notes)
    results.done = True
    results.write()
    log(f"nnzoo {__version__}: {a} {results.raw:g}/{results.max_score:g}"
        + (f", late: {results.lateness.reason}" if results.lateness.fraction else ""))
    return 0


def main(root: str | None = None) -> int:
    layout = Layout(Path(root or os.environ.get("NNZOO_GS_ROOT") or "/autograder"))
    if not (layout.source / CONFIG).is_file():
        print(f"nnzoo gradescope run: no {layout.source / CONFIG} — is {layout.root} laid out like /autograder "
              "(the zip of `nnzoo gradescope build` unpacked in source/)?", file=sys.stderr)
        return 2
    return run(layout)
