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
- *grading* (`nbgrader autograde` restores the hidden blocks; the first one calls
  `nnzoo.load_hidden()`): `check` only prints, and `grade` returns the points of its
  hidden tests — the cell's value, which nbgrader takes as partial credit.  Neither ever
  raises nor writes to stderr (either would make nbgrader give 0 points, and a traceback
  would show grader code in the student's feedback).

The notebook carries no reference, no hidden test and no answer key, not even in its
hidden blocks (nbgrader restores those in the autograded notebook, which becomes the
student's feedback): `load_hidden()` reads them from the grader's own course
(`autograder.course`, i.e. `solutions/<a>/` on the instructor's machine), and the
reference is compiled under a name that is no file, so no traceback can quote it.

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
import shutil
import sys
import tempfile
import types
import warnings
import weakref
from pathlib import Path
from typing import Any, Iterable

from autograder import course
from autograder.errors import StudentCodeError
from autograder.judge.result import TestResult
from autograder.judge.subject import LocalSubject


def answer_digest(assignment: str, question: str, answer: Any) -> str:
    """The hash a hidden test compares a conceptual answer with (as `course.chosen` reads it)."""
    text = course.chosen(answer)
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
        self.interrupted = False

    def run(self, probe: str, *, allow_error: bool = False, **kwargs: Any) -> Any:
        try:
            return self.local.run(probe, allow_error=allow_error, **kwargs)
        except KeyboardInterrupt:  # nbgrader's time limit: stop every test, not only this one
            self.interrupted = True
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
        # the tests written here (the hidden ones too) go with this grader, at the latest when the kernel exits
        weakref.finalize(self, shutil.rmtree, str(self._dir.parent), True)
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

    def load_hidden(self, reference: str | None = None, tests: str | None = None,
                    answers: dict[str, str] | None = None) -> None:
        """Grading mode: the reference solution, the hidden tests and the answer key, read
        from the grader's installed course (`solutions/<a>/`).

        `reference`, `tests` and `answers` (hashes, `answer_digest`) are what notebooks
        released by earlier versions of nnzoo passed in their hidden block; still accepted
        so such a course can be graded, but those notebooks show them in the feedback:
        rerun `nnzoo release --nbgrader` and `nbgrader generate_assignment --force`.
        """
        if reference is None or tests is None:
            try:
                a = course.assignment(self.assignment)
            except course.UnknownAssignment as exc:
                raise HiddenTestsMissing(f"nnzoo.load_hidden: {exc} in {course.project_root()} — grade where the "
                                         "course's solutions/ folder is, or set NNZOO_ROOT to the folder holding it") from None
            reference = a.reference.read_text() if reference is None else reference
            tests = a.hidden_tests.read_text() if tests is None else tests
            if answers is None:
                answers = {q: answer_digest(self.assignment, q, choice) for q, choice in a.answer_key.items()}
        module = types.ModuleType(f"nnzoo_reference_{self.assignment}")
        # a name that is no file: a traceback through the reference cannot quote its lines
        module.__file__ = f"<nnzoo reference {self.assignment}>"
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
        if self.grading:
            lines = self._lines(self.public_tests, names, "the public checks")
            print("Public checks:\n" + "\n".join(lines))
            return
        results = self._run(self.public_tests, names)
        failed = [r for r in results if not r.passed]
        print("\n".join(r.line() for r in results))
        if failed:
            raise AssertionError(f"{len(failed)} of {len(results)} public checks failed — see the reasons above")

    def grade(self, *names: str) -> float:
        """Run hidden tests and return their points (the cell's value: nbgrader's partial credit)."""
        if not self.grading:
            return 0.0
        results: list[TestResult] = []
        lines = self._lines(self.hidden_tests, names, "the hidden tests", results)
        print("Graded checks:\n" + "\n".join(lines))
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

    def _lines(self, tests: Path, names: Iterable[str], what: str, results: list[TestResult] | None = None) -> list[str]:
        """One line per test run (grading mode), or one line saying why none could run.

        Nothing escapes, not even nbgrader's interrupt at its cell time limit: a traceback
        would go through the hidden tests and the grader's trusted code into the
        student's feedback.
        """
        try:
            found = self._run(tests, names)
        except KeyboardInterrupt:
            return [f"{what} were interrupted (the cell's time limit?): 0 points"]
        except BaseException as exc:  # noqa: BLE001 — a grader problem must not cost points silently
            return [f"{what} could not run ({type(exc).__name__}); ask your instructor: 0 points"]
        if results is not None:
            results.extend(found)
        return [r.line() for r in found]

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
        subject = NotebookSubject(self.namespace, filename)
        session = GradingSession(subject=subject,
                                 reference=self.reference or LocalSubject(NamespaceModule(self.namespace, filename)),
                                 source=self.student_source(), imported=False)  # the kernel ran it as __main__
        sink = io.StringIO()
        try:  # `run_tests` runs them on one thread, as the sandboxed worker does
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return run_tests(tests, session, *names, autoload=False, extra=[
                    "-c", str(self._config), "--rootdir", str(self._dir.parent), "-p", "no:faulthandler",
                    "-p", "no:unraisableexception", "-p", "no:threadexception", "--capture=no"])
        except RuntimeError:  # pytest stopped: by an interrupt in the student's code, or a grader problem
            if subject.interrupted:
                raise KeyboardInterrupt from None
            raise


class HiddenTestsMissing(RuntimeError):
    """The grader's course has no reference and hidden tests for the notebook's assignment."""


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
