"""Fail closed: before grading, find out what a sandboxed worker can read.

A preflight worker is forked by the same fork server and isolated exactly as the grading
workers will be, runs no student code, and tries to read every secret the judge lists —
each assignment's reference and hidden tests (`solutions/`), the project's tests and
sample submissions (correct solutions), its repository history, the grader's own code
beyond the worker's half, the submissions, the output folder, an nbgrader course folder,
the grader's home folder — and to import what grading needs.  In the allow-list root none
of them exists for the worker; in the fallback (no mount namespaces) only file
permissions protect them, so `nnzoo grade` refuses to grade, with one line saying what
is readable and how to fix it, unless the instructor passes `--allow-weak-sandbox`.
A worker that cannot import what grading needs is refused in any case: its grades
would be wrong.

The result is cached per judge process, keyed on the paths.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from autograder.course import project_root
from autograder.errors import GraderError
from autograder.worker.isolation import (
    PACKAGE_DIR,
    PROJECT_DIR,
    WORKER_FILES,
    worker_paths,
)
from autograder.worker.limits import SandboxLimits
from autograder.worker.preflight import Reachability

#: Files looked at per folder (a lower bound: a class folder of 500 students is sampled).
FILES_PER_FOLDER = 2000
WEIGHTS = "datasets/transfer_pretrained.pt"


@dataclass(frozen=True)
class Secret:
    """A path no worker may read.

    Attributes:
        path: a file, or a folder the worker must not list.
        kind: what it is, for the message ("reference solutions and hidden tests", ...).
        fix: the path whose `chmod o-rwx` makes it unreadable to other users (for a
            folder, everything below it too: others can no longer enter it).
    """

    path: str
    kind: str
    fix: str


def interpreter_prefixes() -> list[Path]:
    """The Python installation and the venv: every worker may read them."""
    return list(dict.fromkeys(Path(p).resolve() for p in (sys.base_prefix, sys.prefix, sys.base_exec_prefix,
                                                          sys.exec_prefix)))


def _files(folder: Path, limit: int = FILES_PER_FOLDER) -> Iterator[Path]:
    """Up to `limit` files below `folder` (links not followed; unreadable parts and the
    interpreter's folders skipped)."""
    count = 0
    skip = interpreter_prefixes()
    for parent, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if Path(parent, d).resolve() not in skip)
        for name in sorted(files):
            yield Path(parent, name)
            count += 1
            if count >= limit:
                return


def _folder(folder: Path, kind: str, fix: Path | None = None) -> list[Secret]:
    """The folder itself (listing it) and the files below it."""
    if not folder.exists():
        return []
    fix_path = str(fix or folder)
    return [Secret(str(folder), kind, fix_path)] + [Secret(str(f), kind, fix_path) for f in _files(folder)]


def git_dirs(root: Path) -> list[Path]:
    """The repository's `.git`, and for a worktree (`.git` is a file) its git and common dirs."""
    dot_git = root / ".git"
    if not dot_git.is_file():
        return [dot_git] if dot_git.exists() else []
    found = [dot_git]
    for line in dot_git.read_text(errors="replace").splitlines():
        if line.startswith("gitdir:"):
            gitdir = (root / line.split(":", 1)[1].strip()).resolve()
            found.append(gitdir)
            common = gitdir / "commondir"
            if common.is_file():
                found.append((gitdir / common.read_text().strip()).resolve())
    return found


def _allowed(path: Path, allowed: list[Path]) -> bool:
    """Whether `path` is one of the worker's files (or the bytecode of one)."""
    if path.parent.name == "__pycache__":
        path = path.parent.parent / (path.name.split(".")[0] + ".py")
    return any(path == a or a in path.parents for a in allowed)


def grader_secrets() -> list[Secret]:
    """The secrets of the installation itself, for every project folder in use (the
    package's and NNZOO_ROOT's): solutions, tests, sample submissions, history, and the
    grader's own code beyond `WORKER_FILES`."""
    secrets: list[Secret] = []
    roots = list(dict.fromkeys([project_root(), PROJECT_DIR]))
    for root in roots:
        secrets += _folder(root / "solutions", "reference solutions and hidden tests")
        secrets += _folder(root / "tests", "the project's tests (with correct submissions)")
        secrets += _folder(root / "examples", "the sample submissions")
        for git in git_dirs(root):
            secrets.append(Secret(str(git), "the repository history", str(git)))
            secrets += [Secret(str(git / name), "the repository history", str(git)) for name in ("HEAD", "config")
                        if (git / name).is_file()]
    allowed = [PROJECT_DIR / name for name in WORKER_FILES]
    for path in _files(PACKAGE_DIR):
        if _allowed(path, allowed):
            continue
        # chmod the highest folder that holds none of the worker's files, else the file
        fix = path
        while fix.parent != PACKAGE_DIR and not any(fix.parent in a.parents or fix.parent == a for a in allowed):
            fix = fix.parent
        secrets.append(Secret(str(path), "the grader's own code", str(fix)))
    return secrets


def class_secrets(submissions: Path | None, out: Path | None, course_dir: Path | None = None) -> list[Secret]:
    """The secrets of one grading run: the class's submissions, the output folder, an
    nbgrader course folder, and the grader's home folder."""
    secrets: list[Secret] = []
    for folder, kind in ((submissions, "the submissions"), (out, "the output folder"),
                         (course_dir, "the nbgrader course folder")):
        if folder is not None:
            secrets += _folder(Path(folder).resolve(), kind)
    home = Path.home().resolve()  # the folder and what is directly in it (.ssh, notes ...)
    if home.is_dir() and home != Path("/"):
        interpreter = interpreter_prefixes()
        secrets.append(Secret(str(home), "the grader's home folder", str(home)))
        secrets += [Secret(str(p), "the grader's home folder", str(p)) for p in sorted(home.iterdir())
                    if not any(p.resolve() == i or p.resolve() in i.parents for i in interpreter)]
    return secrets


def needed_paths() -> list[str]:
    """What grading workers must read: the shipped weights (loaded at run time by the
    provided code) and the standard library (imported lazily)."""
    weights = [str(p) for p in worker_paths() if str(p).endswith(WEIGHTS)]
    return weights + [sysconfig.get_path("stdlib")]


@dataclass(frozen=True)
class Preflight:
    """What a preflight worker found.

    Attributes:
        levels: the isolation it reached (the grading workers' too).
        readable: the secrets it could read.
        unreadable: needed paths it could not read.
        import_errors: lazy imports that failed.
        error: why no preflight worker could be started or isolated ("" when one was).
    """

    levels: dict[str, str]
    readable: tuple[Secret, ...] = ()
    unreadable: tuple[str, ...] = ()
    import_errors: tuple[str, ...] = ()
    error: str = ""

    @property
    def fallback(self) -> bool:
        return self.levels.get("file system", "").startswith("FALLBACK")

    @property
    def own_uid(self) -> bool:
        """Workers run as the grader's own user (the grader is not root)."""
        return self.levels.get("user") == "same uid as the grader"

    def _why(self) -> str:
        if not self.fallback:
            return "the worker's allow-list root shows it (please report this)"
        if self.own_uid:
            return "the grader does not run as root, so workers run as the grader's own user"
        return "this machine does not allow mount namespaces (no CAP_SYS_ADMIN), so workers see the host's files as another user"

    def leak(self) -> str:
        """What the worker can read (one clause), or ""."""
        if not self.readable:
            return ""
        first = next((s for s in self.readable if os.path.isfile(s.path)), self.readable[0])
        kinds = "; ".join(dict.fromkeys(s.kind for s in self.readable))
        more = f"; {len(self.readable) - 1} more paths" if len(self.readable) > 1 else ""
        return f"the worker can read {_short(first.path)} ({kinds}{more})"

    def _leak_fix(self) -> str:
        if self.own_uid:
            return "grade as root"
        fixes = list(dict.fromkeys(s.fix for s in self.readable))
        fixes = [f for f in fixes if not any(g != f and Path(g) in Path(f).parents for g in fixes)]
        return f"make those unreadable to other users (chmod o-rwx {' '.join(_short(f) for f in fixes)})"

    def broken(self) -> str:
        """Why grading workers could not grade correctly (one clause), or ""."""
        if self.error:
            return f"the sandbox does not work here: {self.error}"
        stdlib = sysconfig.get_path("stdlib")
        problems = [f"import the standard library ({stdlib} is out of its reach)" for p in self.unreadable if p == stdlib]
        problems += [f"read {_short(p)}" for p in self.unreadable if p != stdlib]
        if not problems:  # the folders are readable, yet a lazy import failed
            problems = [f"import {e}" for e in self.import_errors]
        return f"the worker cannot {'; '.join(problems)}" if problems else ""

    def refusal(self, allow_weak: bool) -> str:
        """Why grading must not start, with how to fix it (one line), or "" when it may."""
        broken, leak = self.broken(), "" if allow_weak else self.leak()
        if self.error or not (broken or leak):
            return broken
        fixes = []
        if broken:
            fixes.append("put Python, the venv and nnzoo's datasets/ where other users can read them "
                         "(not under a 0700 folder such as /root)")
        if leak:
            fixes.append(self._leak_fix())
        fixes.append("grade where mount namespaces work" + ("" if broken else ", or pass --allow-weak-sandbox"))
        what = f"{broken} and {leak.removeprefix('the worker ')}" if broken and leak else broken or leak
        return f"{what}: {self._why()}; {', '.join(fixes[:-1])}, or {fixes[-1]}"


def _short(path: str) -> str:
    """`path` relative to the current folder when inside it (shorter messages)."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def _on_the_way(folder: str, names: object) -> bool:
    """Whether a folder the worker could list only leads to what it may read: in the
    allow-list root, `/root` holds nothing but the way to a pyenv interpreter."""
    if not isinstance(names, list):
        return False
    allowed = interpreter_prefixes() + worker_paths()
    leads = lambda p: any(p == a or p in a.parents for a in allowed)  # noqa: E731
    return leads(Path(folder)) and all(leads(Path(folder, str(n))) for n in names)


_CACHE: dict[tuple, Preflight] = {}


def preflight(secrets: list[Secret], needed: list[str] | None = None,
              limits: SandboxLimits = SandboxLimits(call_seconds=60), cached: bool = True) -> Preflight:
    """Fork a preflight worker and find out what it can reach (cached per process; a
    long-lived judge, such as a Dask worker, asks with `cached=False` once per batch)."""
    from autograder.sandbox.client import SandboxedWorker

    needed = needed_paths() if needed is None else needed
    key = (tuple(secrets), tuple(needed))
    if cached and key in _CACHE:
        return _CACHE[key]
    by_path = {s.path: s for s in secrets}
    worker = SandboxedWorker("", "preflight", limits, preflight=Reachability(tuple(by_path), tuple(needed)))
    try:
        found = worker.reachability()
    except GraderError as exc:
        return Preflight(levels=worker.levels, error=str(exc))
    finally:
        worker.close()
    readable = [(p, what) for p, what in (pair for pair in found.get("readable", []) if len(pair) == 2)
                if p in by_path and not _on_the_way(p, what)]
    result = Preflight(
        levels=dict(worker.levels),
        readable=tuple(by_path[p] for p, _ in readable),
        unreadable=tuple(str(p) for p in found.get("unreadable", [])),
        import_errors=tuple(str(e) for e in found.get("import_errors", [])),
    )
    _CACHE[key] = result
    return result


def grading_refusal(submissions: Path | None, out: Path, course_dir: Path | None = None,
                    allow_weak: bool = False) -> str:
    """Fail closed, for one grading run: why it must not start (one line), or "".

    The output folder is created first, unreadable to other users, so that it is checked
    too.  When `allow_weak` lets a weak sandbox pass, what it leaves readable is said on
    stderr (and each student's record keeps the levels).
    """
    if not out.exists():
        try:
            out.mkdir(parents=True, mode=0o700)
        except OSError as exc:
            return f"cannot make the output folder {out}: {exc.strerror or exc}"
    found = preflight(grader_secrets() + class_secrets(submissions, out, course_dir))
    refusal = found.refusal(allow_weak)
    if not refusal and found.leak():
        print(f"nnzoo grade: weak sandbox (--allow-weak-sandbox): {found.leak()}", file=sys.stderr)
    return refusal
