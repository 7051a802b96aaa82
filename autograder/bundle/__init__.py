"""The student bundle: everything a student receives, and nothing else.

    assignments/<a>/      the stubs and the public tests
    autograder/           the checks and `nnzoo test` — without the answer key of the
                          conceptual questions, and with the grader's trusted
                          re-implementations of student tasks replaced by stubs (leaks.py)
    datasets/             the data files that ship
    pyproject.toml, Makefile, README.md   `make` sets up, `make test` runs the public tests,
                          `make pack STUDENT=<id>` writes the zip to hand in (files.py)

Nothing of `solutions/` is copied; `tests/test_bundle.py` proves it line by line.  The
bundle's own pyproject.toml lists only what a student's install needs, and `nnzoo release`
fails when a public test needs something the bundle leaves out (needs.py).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from autograder.bundle.files import (
    INSTRUCTOR_ONLY,
    MAKEFILE,
    README,
    STUDENT_PACKAGES,
    distribution_of,
    student_pyproject,
    torch_pin,
)
from autograder.bundle.leaks import solution_lines, strip_leaks
from autograder.bundle.needs import BundleCode, needs_of
from autograder.course import assignments as course_assignments
from autograder.course import project_root

MARKER = ".nnzoo-bundle"
#: instructor-only files of the package (paths relative to autograder/)
LEFT_OUT: tuple[str, ...] = ()
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")

class BundleError(Exception):
    """The bundle cannot be written (e.g. DIR holds other files)."""


@dataclass
class BundleReport:
    """What `write_bundle` left out, and what the bundled public tests need.

    `stubbed`: "file:name" of each definition replaced by a stub (it re-implements a
    student task); `unmet`: one line per thing a public test needs that the bundle does
    not hold — a stubbed definition it reaches, or a package a student's install lacks
    (`nnzoo release` then fails); `packages`: what the bundle's pyproject.toml lists
    beyond `files.STUDENT_PACKAGES`, because a public test imports it.
    """

    stubbed: list[str] = field(default_factory=list)
    unmet: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)


def _stub_digests(out: Path, chosen: list[str]) -> dict[str, str]:
    """sha256 of each stub as released (`nnzoo pack` leaves out an assignment not started)."""
    return {a: hashlib.sha256((out / "assignments" / a / f"{a}.py").read_bytes()).hexdigest() for a in chosen
            if (out / "assignments" / a / f"{a}.py").is_file()}


def check_needs(out: Path, stubbed: list[tuple[str, str]]) -> tuple[list[str], set[str]]:
    """Every public test of the bundle in `out`, read for what it needs (`needs.py`): the
    unmet needs (one line each) and the distributions its imports need."""
    code = BundleCode(out)
    names = {n for _, n in stubbed}
    unmet: list[str] = []
    distributions: set[str] = set()
    for test in sorted(out.glob("assignments/*/test_*.py")):
        found = needs_of(test, code, names)
        unmet += [f"{found.test} needs {name}{f' (through {chain})' if chain != name else ''}, which the bundle "
                  "stubs out as a re-implementation of a student task — the public test cannot pass there; test "
                  "against PyTorch's own modules instead" for name, chain in found.stubbed.items()]
        for module in sorted(found.packages):
            dist = distribution_of(module)
            if dist in INSTRUCTOR_ONLY:
                unmet.append(f"{found.test} imports {module} ({dist}), which is instructor-side only and not in a "
                             "student's install")
            else:
                distributions.add(dist)
    return unmet, distributions


def _prepare(out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise BundleError(f"{out} is not empty — give a new folder (or one a previous `nnzoo release --out` wrote)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


#: The engine: this installed package, and the project it was installed from (its
#: pyproject.toml, Makefile and LICENSE) — the course (`project_root()`) may live elsewhere.
ENGINE = Path(__file__).resolve().parents[1]
ENGINE_PROJECT = ENGINE.parent


def _copy_package(root: Path, out: Path) -> list[tuple[str, str]]:
    """Copy the engine's autograder/ without its instructor-only files (and without any
    line of the course `root`'s solutions); returns (file, name) of each definition
    stubbed out."""
    target = out / "autograder"
    shutil.copytree(ENGINE, target, ignore=IGNORED)
    for rel in LEFT_OUT:
        (target / rel).unlink(missing_ok=True)
    lines = solution_lines(root / "solutions")
    stubbed = []
    for path in sorted(target.rglob("*.py")):
        new, names = strip_leaks(path.read_text(), lines)
        if names:
            path.write_text(new)
            stubbed += [(str(path.relative_to(out)), n) for n in names]
    return stubbed


def write_bundle(out: Path, assignments: list[str] | None = None) -> BundleReport:
    """Write the student bundle into `out` (new, or a previous bundle); report what was
    stubbed out of the grader's package (trusted re-implementations of student tasks)."""
    root = project_root()
    out = Path(out)
    protected = [root, *(root / d for d in ("assignments", "autograder", "solutions", "datasets"))]
    if any(out.resolve() == p.resolve() or p.resolve() in out.resolve().parents for p in protected[1:]) \
            or out.resolve() == root.resolve():
        raise BundleError(f"{out} is inside the project's own folders — give a folder outside them")
    known = [a.name for a in course_assignments(hidden=False)]
    unknown = [a for a in assignments or [] if a not in known]
    if unknown:
        raise BundleError(f"no assignment {', '.join(unknown)} with public tests to bundle (known: {', '.join(known)})")
    chosen = [a for a in known if assignments is None or a in assignments]
    if not chosen:
        raise BundleError("no assignment with public tests to bundle")
    _prepare(out)
    for a in chosen:
        shutil.copytree(root / "assignments" / a, out / "assignments" / a, ignore=IGNORED)
    stubbed = _copy_package(root, out)
    if (root / "datasets").is_dir():
        shutil.copytree(root / "datasets", out / "datasets", ignore=IGNORED)
    unmet, distributions = check_needs(out, stubbed)
    (out / "pyproject.toml").write_text(student_pyproject(ENGINE_PROJECT, distributions))
    if (ENGINE_PROJECT / "LICENSE").is_file():
        shutil.copy2(ENGINE_PROJECT / "LICENSE", out / "LICENSE")
    (out / "README.md").write_text(README.format(assignments=", ".join(chosen)))
    (out / "Makefile").write_text(MAKEFILE.format(torch=torch_pin(ENGINE_PROJECT)))
    (out / ".gitignore").write_text(".venv/\n*.egg-info/\n__pycache__/\n*.zip\n")
    marker = {"written_by": "`nnzoo release --out`; rerunning it replaces this folder",
              "stubs_sha256": _stub_digests(out, chosen)}
    (out / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    extra = sorted(distributions - set(STUDENT_PACKAGES))
    return BundleReport([f"{f}:{n}" for f, n in stubbed], unmet, extra)


def release_bundle(out: Path, assignments: list[str] | None) -> int:
    """`nnzoo release --out DIR`: write the bundle; an exit code for the command line."""
    try:
        report = write_bundle(out, assignments)
    except BundleError as exc:
        print(f"nnzoo release: {exc}", file=sys.stderr)
        return 2
    print(f"wrote the student bundle to {out} — students run `make` then `make test` in it")
    if report.stubbed:
        print("left out of the bundle's autograder/ (they re-implement student tasks): " + ", ".join(report.stubbed))
    if report.packages:
        print("the bundle's pyproject.toml also lists, for its public tests: " + ", ".join(report.packages))
    for line in report.unmet:
        print(f"nnzoo release: {line}", file=sys.stderr)
    if report.unmet:
        print(f"nnzoo release: {len(report.unmet)} public test need(s) the bundle cannot meet — fix them before "
              "handing the bundle out", file=sys.stderr)
        return 1
    return 0
