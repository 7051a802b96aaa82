"""What a released notebook's cells call: nnzoo's checks, run inside the notebook kernel.

The notebook's set-up cell creates `nnzoo = NotebookGrader("<a>", globals(), answers)`
and loads the public tests; every test cell calls

    nnzoo.check("test_public_1", ...)        # the public tests of this part
    ### BEGIN HIDDEN TESTS
    nnzoo.grade("test_hidden_1", ...)        # only in the instructor's version
    ### END HIDDEN TESTS

Two modes:
- *practice* (the student's notebook: no hidden tests loaded): `check` raises when a
  public test fails, so the cell turns red and nbgrader's "Validate" reports it;
- *grading* (`nbgrader autograde` restores the hidden block, whose first cell loads the
  hidden tests and the reference): `check` only prints, and `grade` returns the points
  of its hidden tests — the cell's value, which nbgrader takes as partial credit.  It
  never raises and never writes to stderr (either would make nbgrader give 0 points).

Tests run through pytest with nnzoo's own plugin (points, forbidden built-ins,
verdicts), exactly as `nnzoo grade` runs them — only the student's code runs here, in
the kernel, instead of in a sandboxed worker.  nbgrader's autograde is therefore only
as safe as nbgrader itself; `nnzoo grade --nbgrader` grades the same notebooks in the
sandbox.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import io
import linecache
import sys
import tempfile
import types
import warnings
from pathlib import Path
from typing import Any, Iterable

import torch

from autograder.errors import StudentCodeError
from autograder.judge.result import TestResult
from autograder.judge.subject import LocalSubject


def answer_digest(assignment: str, question: str, answer: Any) -> str:
    """The hash a hidden test compares a conceptual answer with (case and blanks ignored)."""
    text = str(answer).strip().lower()
    return hashlib.sha256(f"nnzoo:{assignment}:{question}:{text}".encode()).hexdigest()


class NamespaceModule:
    """The notebook's globals seen as a module, so probes can build and patch names in it."""

    def __init__(self, namespace: dict, filename: str) -> None:
        object.__setattr__(self, "_ns", namespace)
        object.__setattr__(self, "__file__", filename)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._ns[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._ns[name] = value


class NotebookSubject:
    """The student's code in this kernel, reporting errors as the sandbox does."""

    def __init__(self, namespace: dict, filename: str) -> None:
        self.local = LocalSubject(NamespaceModule(namespace, filename), label=filename)
        self.label = filename

    def run(self, probe: str, *, allow_error: bool = False, **kwargs: Any) -> Any:
        try:
            return self.local.run(probe, allow_error=allow_error, **kwargs)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 — SystemExit from student code too
            where = _where(exc)
            raise StudentCodeError([c.__name__ for c in type(exc).__mro__], str(exc)[:2000], where) from None

    def close(self) -> None:
        pass


def _where(exc: BaseException) -> str:
    import traceback

    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if "autograder" not in Path(frame.filename).parts and "site-packages" not in frame.filename:
            where = f"line {frame.lineno}, in {frame.name}"
    return where


class NotebookGrader:
    """Runs an assignment's public (and, when loaded, hidden) tests on the notebook's code."""

    def __init__(self, assignment: str, namespace: dict, answers: Iterable[str], provided: str = "") -> None:
        self.assignment = assignment
        self.namespace = namespace
        self.answers = list(answers)
        self.provided = provided
        self._dir = Path(tempfile.mkdtemp(prefix=f"nnzoo-{assignment}-")) / assignment
        self._dir.mkdir()
        self._config = self._dir.parent / "pytest.ini"
        self._config.write_text("[pytest]\n")
        self.public_tests: Path | None = None
        self.hidden_tests: Path | None = None
        self.reference: LocalSubject | None = None
        self.answer_hashes: dict[str, str] = {}

    # -- loading -------------------------------------------------------------------------
    def load_public(self, tests: str) -> None:
        self.public_tests = self._dir / f"test_{self.assignment}.py"
        self.public_tests.write_text(tests)

    def load_hidden(self, reference: str, tests: str, answers: dict[str, str] | None = None) -> None:
        """Grading mode: the reference solution and the hidden tests (and answer hashes)."""
        module = types.ModuleType(f"nnzoo_reference_{self.assignment}")
        module.__file__ = f"reference/{self.assignment}.py"
        sys.modules[module.__name__] = module
        exec(compile(reference, module.__file__, "exec"), module.__dict__)
        self.reference = LocalSubject(module, label="reference")
        self.hidden_tests = self._dir / "test_hidden.py"
        self.hidden_tests.write_text(tests)
        self.answer_hashes = dict(answers or {})

    @property
    def grading(self) -> bool:
        return self.hidden_tests is not None

    # -- what the cells call -------------------------------------------------------------
    def check(self, *names: str) -> None:
        """Run public tests; in practice mode a failure raises (the cell turns red)."""
        if self.public_tests is None or not names:
            return
        results = self._run(self.public_tests, names)
        failed = [r for r in results if not r.passed]
        lines = [r.line() for r in results]
        if self.grading:
            print("Public checks:\n" + "\n".join(lines))
            return
        print("\n".join(lines))
        if failed:
            raise AssertionError(f"{len(failed)} of {len(results)} public checks failed — see the reasons above")

    def grade(self, *names: str) -> float:
        """Run hidden tests and return their points (the cell's value: nbgrader's partial credit)."""
        if not self.grading:
            return 0.0
        try:
            results = self._run(self.hidden_tests, names)
        except Exception as exc:  # noqa: BLE001 — a grader problem must not cost points silently
            print(f"the hidden tests could not run: {type(exc).__name__}: {exc}")
            return 0.0
        print("Graded checks:\n" + "\n".join(r.line() for r in results))
        return float(sum(r.score for r in results))

    def answer(self, question: str, variable: str) -> float:
        """Points for a conceptual question: 1.0 when `variable` holds the right choice."""
        if not self.grading:
            return 0.0
        value = self.namespace.get(variable)
        if value is None:
            print(f"{question}: no answer — set `{variable}` to the letter of your choice")
            return 0.0
        if answer_digest(self.assignment, question, value) == self.answer_hashes.get(question):
            print(f"{question}: correct")
            return 1.0
        print(f"{question}: not the expected answer")
        return 0.0

    # -- running ---------------------------------------------------------------------------
    def student_source(self) -> str:
        """The code this kernel ran — what `nnzoo grade` scans (for forbidden built-ins) too.

        Every executed cell (IPython's `In`), each kept only when it parses; outside
        IPython, the provided code and the cells that define the answers.
        """
        history = self.namespace.get("In")
        if isinstance(history, list) and len(history) > 1:
            cells = [_commented_magics(c) for c in history]
        else:
            files: list[str] = []
            for name in self.answers:
                for code in _code_objects(self.namespace.get(name)):
                    if code.co_filename not in files:
                        files.append(code.co_filename)
            cells = ["".join(linecache.getlines(f)) for f in files]
        return "\n\n".join(c for c in [self.provided, *cells] if _parses(c))

    def _run(self, tests: Path, names: Iterable[str]) -> list[TestResult]:
        from autograder.judge.plugin import GradingSession
        from autograder.judge.run import run_tests

        filename = f"{self.assignment}.ipynb"
        session = GradingSession(subject=NotebookSubject(self.namespace, filename),
                                 reference=self.reference or LocalSubject(NamespaceModule(self.namespace, filename)),
                                 source=self.student_source())
        sink = io.StringIO()
        threads = torch.get_num_threads()
        # one thread, as in the sandboxed worker (same arithmetic, no oversubscription)
        torch.set_num_threads(1)
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return run_tests(tests, session, *names, autoload=False, extra=[
                    "-c", str(self._config), "--rootdir", str(self._dir.parent), "-p", "no:faulthandler",
                    "-p", "no:unraisableexception", "-p", "no:threadexception", "--capture=no"])
        finally:
            torch.set_num_threads(threads)


def _commented_magics(cell: str) -> str:
    return "\n".join(f"# {line}" if line.lstrip().startswith(("%", "!")) else line for line in cell.splitlines())


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def _code_objects(obj: Any) -> list[types.CodeType]:
    if isinstance(obj, types.FunctionType):
        return [obj.__code__]
    if isinstance(obj, type):
        found = []
        for value in vars(obj).values():
            value = getattr(value, "__func__", value)
            if isinstance(value, property):
                value = value.fget
            if isinstance(value, types.FunctionType):
                found.append(value.__code__)
        return found
    return []
