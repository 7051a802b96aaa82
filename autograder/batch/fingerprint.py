"""A grader fingerprint per assignment: what a grade was made with.

The hash of the assignment's hidden tests and reference, the data and grader code they run
(`autograder/` without the reports and exports, `datasets/`), and nnzoo's version.  A
recorded grade whose fingerprint differs from today's is stale: `--resume` regrades it.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from autograder import __version__
from autograder.course import assignment as course_assignment
from autograder.course import project_root

#: grader code whose change changes grades (reports, exports and release code do not)
GRADING_CODE = ("checks", "data", "judge", "sandbox", "worker")


def _files(root: Path) -> list[Path]:
    package = Path(__file__).resolve().parent.parent
    found = [p for d in GRADING_CODE for p in (package / d).rglob("*.py")]
    datasets = root / "datasets"
    if datasets.is_dir():
        found += [p for p in datasets.rglob("*") if p.is_file()]
    return sorted(found)


@lru_cache(maxsize=None)
def _grader_digest(root: Path) -> str:
    h = hashlib.sha256(__version__.encode())
    for path in _files(root):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def fingerprint(assignment: str) -> str:
    """The fingerprint of `assignment`'s grading (16 hex digits)."""
    a = course_assignment(assignment)
    h = hashlib.sha256(_grader_digest(project_root()).encode())
    for path in (a.hidden_tests, a.reference):
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]
