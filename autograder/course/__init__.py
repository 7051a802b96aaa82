"""The course: assignments discovered from disk — the only place that knows their names.

An assignment `<a>` exists when its folder does:

    solutions/<a>/<a>.py            the reference (the single source of the stubs)
    solutions/<a>/test_hidden.py    the hidden tests
    solutions/<a>/assignment.toml   its course content: title, order, intro, questions + answers
    assignments/<a>/<a>.py          the stubs (generated), test_<a>.py the public tests

Instructors see every assignment with a reference and hidden tests; a student bundle (no
`solutions/`) sees the ones with public tests.  Adding a sixth assignment is adding folders:
no engine file names one.

    regions.py  the one parser of `### BEGIN/END SOLUTION` and hidden-test regions
    stubs.py    stubs generated from the references
"""

from __future__ import annotations

import ast
import os
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path


class UnknownAssignment(LookupError):
    """An assignment name that is not in the course (the message lists the known ones)."""


def project_root() -> Path:
    """The folder holding `assignments/` and `solutions/` (the repo, or a student bundle).

    `NNZOO_ROOT` overrides; otherwise the parent of the installed `autograder` package.
    """
    env = os.environ.get("NNZOO_ROOT")
    return Path(env).resolve() if env else Path(__file__).resolve().parent.parent.parent


def chosen(answer: object) -> str:
    """A conceptual question's answer as it is compared with the key: case, blanks and the
    brackets, quotes and full stop around a choice ignored (`"(B)"`, `"b)"`, `"'b'"` are `b`).

    Example:
        >>> [chosen(a) for a in ("(B)", " b) ", "'b'.", "b")]
        ['b', 'b', 'b', 'b']
    """
    return str(answer).strip().lower().strip("()[]'\" .:").strip()


@dataclass(frozen=True)
class Question:
    """A multiple-choice question; the student sets `variable` to one letter of `choices`."""

    id: str
    prompt: str
    choices: dict[str, str]
    answer: str = ""

    @property
    def variable(self) -> str:
        return f"answer_{self.id}"


@dataclass(frozen=True)
class Assignment:
    """One assignment's files and course content."""

    name: str
    root: Path = field(default_factory=project_root, compare=False)

    @property
    def solution_dir(self) -> Path:
        return self.root / "solutions" / self.name

    @property
    def public_dir(self) -> Path:
        return self.root / "assignments" / self.name

    @property
    def reference(self) -> Path:
        return self.solution_dir / f"{self.name}.py"

    @property
    def hidden_tests(self) -> Path:
        return self.solution_dir / "test_hidden.py"

    @property
    def stub(self) -> Path:
        return self.public_dir / f"{self.name}.py"

    @property
    def public_tests(self) -> Path:
        return self.public_dir / f"test_{self.name}.py"

    @property
    def graded(self) -> bool:
        """It has a reference and hidden tests (what `nnzoo grade` needs)."""
        return self.reference.is_file() and self.hidden_tests.is_file()

    @cached_property
    def content(self) -> dict:
        path = self.solution_dir / "assignment.toml"
        return tomllib.loads(path.read_text()) if path.is_file() else {}

    @property
    def order(self) -> float:
        return float(self.content.get("order", float("inf")))

    @property
    def title(self) -> str:
        return str(self.content.get("title", self.name))

    @property
    def intro(self) -> str:
        return str(self.content.get("intro", f"The {self.name} assignment of the Neural Net Zoo.\n"))

    @property
    def questions(self) -> list[Question]:
        return [Question(str(q["id"]), str(q["prompt"]), {str(k): str(v) for k, v in q.get("choices", {}).items()},
                         str(q.get("answer", ""))) for q in self.content.get("questions", [])]

    @property
    def answer_key(self) -> dict[str, str]:
        return {q.id: q.answer for q in self.questions}

    def test_points(self) -> dict[str, float]:
        """Points of each hidden test function (a parametrised one times its cases)."""
        return points_of_tests(self.hidden_tests.read_text())

    @property
    def max_score(self) -> float:
        return float(sum(self.test_points().values()))


def points_of_tests(test_source: str) -> dict[str, float]:
    """Points of each test function, from its `@pytest.mark.points(n)` (0 without); a
    parametrised test counts once per case of its literal parameter list."""
    points: dict[str, float] = {}
    for node in ast.parse(test_source).body:
        if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test")):
            continue
        value, repeats = 0.0, 1
        for dec in node.decorator_list:
            if not isinstance(dec, ast.Call):
                continue
            name = ast.unparse(dec.func)
            if name.endswith("mark.points") and dec.args:
                value = float(ast.literal_eval(dec.args[0]))
            elif name.endswith("mark.parametrize") and len(dec.args) >= 2:
                try:
                    repeats *= len(ast.literal_eval(dec.args[1]))
                except ValueError:
                    raise ValueError(f"{node.name}: parametrize with a literal list so its points can be counted") from None
        points[node.name] = value * repeats
    return points


def _ordered(found: list[Assignment]) -> list[Assignment]:
    return sorted(found, key=lambda a: (a.order, a.name))


def assignments(*, hidden: bool = True, root: Path | None = None) -> list[Assignment]:
    """The assignments present, in course order: graded ones (instructor) or, with
    `hidden=False`, the ones with public tests (student)."""
    root = root or project_root()
    base = root / ("solutions" if hidden else "assignments")
    if not base.is_dir():
        return []
    found = [Assignment(p.name, root) for p in base.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))]
    return _ordered([a for a in found if (a.graded if hidden else a.public_tests.is_file())])


def names(*, hidden: bool = True) -> list[str]:
    return [a.name for a in assignments(hidden=hidden)]


def assignment(name: str, *, hidden: bool = True) -> Assignment:
    """The assignment called `name`, or `UnknownAssignment` listing the known ones."""
    # looked up by its folder: the judge asks for one several times a grading, and listing
    # them all reads every assignment's toml to put them in order
    if name and Path(name).name == name and not name.startswith((".", "_")):
        found = Assignment(name, project_root())
        if found.graded if hidden else found.public_tests.is_file():
            return found
    known = assignments(hidden=hidden)
    where = "reference and hidden tests" if hidden else "public tests"
    raise UnknownAssignment(f"no assignment {name!r} with {where} here (known: {', '.join(a.name for a in known) or 'none'})")


def in_order(chosen: list[str] | set[str], *, hidden: bool = True) -> list[str]:
    """`chosen` names in course order (unknown ones last, by name)."""
    order = {n: i for i, n in enumerate(names(hidden=hidden))}
    return sorted(chosen, key=lambda n: (order.get(n, len(order)), n))
