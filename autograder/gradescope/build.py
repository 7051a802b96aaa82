"""`nnzoo gradescope build ASSIGNMENT --out autograder.zip`: the zip Gradescope's
"Configure Autograder" page takes.

    setup.sh                  at the zip's root: installs Python, torch (CPU) and nnzoo
    run_autograder            at the zip's root: grades one submission (`run.py`)
    nnzoo-gradescope.json     the assignment, the limits, the sandbox setting
    nnzoo/                    the project: pyproject.toml, README.md, autograder/, datasets/,
                              solutions/<ASSIGNMENT>/ (this assignment only), nnzoo.toml if any

The zip holds the reference solution and the hidden tests: it is for Gradescope's
instructor page only, like `solutions/` itself.
"""

from __future__ import annotations

import json
import stat
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from autograder import __version__
from autograder.course import assignment as course_assignment
from autograder.course import project_root
from autograder.course.term import FILENAME as TERM_FILE
from autograder.gradescope.run import CONFIG
from autograder.worker.isolation import PROJECT_DIR

TEMPLATES = Path(__file__).resolve().parent / "templates"
SKIPPED = ("__pycache__", ".pyc", ".DS_Store")
#: seconds kept free before Gradescope's own timeout (which gives no results at all)
MARGIN_SECONDS = 30
#: seconds of the deadline left for starting up (interpreter, torch, fork server, preflight)
STARTUP_SECONDS = 90


@dataclass(frozen=True)
class BuildOptions:
    """What goes into the zip.

    Attributes:
        assignment: the assignment graded.
        timeout_seconds: Gradescope's timeout of the assignment (its Autograder Settings:
            10 min by default, 40 at most); nnzoo stops `MARGIN_SECONDS` before it.
        torch: the torch version installed (default: this installation's, without `+cpu`).
        allow_weak_sandbox: grade even where a worker could read a secret (see run.py).
        call_seconds: the limit of one probe call.
    """

    assignment: str
    timeout_seconds: int = 600
    torch: str = ""
    allow_weak_sandbox: bool = False
    call_seconds: float = 30.0

    @property
    def deadline(self) -> int:
        return self.timeout_seconds - MARGIN_SECONDS


def torch_version() -> str:
    """This installation's torch version, without a local label (`2.13.0+cpu` → `2.13.0`)."""
    return metadata.version("torch").split("+")[0]


def _files(root: Path, names: tuple[str, ...]) -> dict[str, Path]:
    found = []
    for name in names:
        path = root / name
        found += [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path] if path.is_file() else []
    return {p.relative_to(root).as_posix(): p for p in found
            if not any(part in SKIPPED or part.endswith(SKIPPED) for part in p.relative_to(root).parts)}


def project_files(assignment: str, course: Path | None = None) -> dict[str, Path]:
    """What the zip's `nnzoo/` holds (name → file): nnzoo itself (the installed package's
    project: pyproject.toml, README.md, autograder/, datasets/) and, from the course
    (`NNZOO_ROOT`, else the same project), the assignment's solutions/ and the term."""
    files = _files(PROJECT_DIR, ("pyproject.toml", "README.md", "autograder", "datasets"))
    files.update(_files(course or project_root(), (f"solutions/{assignment}", TERM_FILE)))
    return dict(sorted(files.items()))


def _script(name: str, options: BuildOptions) -> str:
    text = (TEMPLATES / name).read_text()
    for key, value in (("ASSIGNMENT", options.assignment), ("TORCH", options.torch or torch_version()),
                       ("DEADLINE", str(options.deadline))):
        text = text.replace(f"@@{key}@@", value)
    return text


def _add(zf: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def build_zip(out: Path, options: BuildOptions) -> list[str]:
    """Write the autograder zip to `out`; the names it holds."""
    course_assignment(options.assignment)  # unknown: UnknownAssignment, listing the known ones
    if options.timeout_seconds - MARGIN_SECONDS <= STARTUP_SECONDS:
        raise ValueError(f"--timeout {options.timeout_seconds} leaves no time to grade (at least "
                         f"{MARGIN_SECONDS + STARTUP_SECONDS + 1} s)")
    config = {"assignment": options.assignment, "nnzoo": __version__, "allow_weak_sandbox": options.allow_weak_sandbox,
              "call_seconds": options.call_seconds,
              "submission_seconds": options.deadline - STARTUP_SECONDS, "deadline_seconds": options.deadline}
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as zf:
        _add(zf, "setup.sh", _script("setup.sh", options).encode(), executable=True)
        _add(zf, "run_autograder", _script("run_autograder", options).encode(), executable=True)
        _add(zf, CONFIG, (json.dumps(config, indent=2) + "\n").encode())
        for name, path in project_files(options.assignment).items():
            _add(zf, f"nnzoo/{name}", path.read_bytes())
        return zf.namelist()
