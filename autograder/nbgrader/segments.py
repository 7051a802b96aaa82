"""Reading the single source: a reference split into notebook-sized pieces, and which
test belongs to which piece.

A reference `solutions/<a>/<a>.py` is: a module docstring (the task), a prelude
(`from __future__`, imports), then top-level functions and classes.  Each one that holds
a `### BEGIN SOLUTION` region becomes a student *answer*; everything else (imports,
constants, helpers given to students) is *provided* code, shown read-only.
"""

from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass, field

from autograder.course.regions import SOLUTION, has_region
from autograder.worker.probes import PROBES


@dataclass(frozen=True)
class Segment:
    """A run of top-level code: `kind` is "provided" or "answer" (then `name` is its name)."""

    kind: str
    source: str
    name: str = ""


@dataclass
class Reference:
    """A reference solution, split for the notebook (segments in file order)."""

    docstring: str
    segments: list[Segment] = field(default_factory=list)

    @property
    def answers(self) -> list[str]:
        return [s.name for s in self.segments if s.kind == "answer"]

    @property
    def provided_source(self) -> str:
        """Every provided segment, in order: the code around the answers."""
        return "\n\n\n".join(s.source for s in self.segments if s.kind == "provided") + "\n"


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _block_end(node: ast.stmt, lines: list[str]) -> int:
    """The last line of `node` including indented comments after its last statement
    (e.g. a closing `### END SOLUTION`)."""
    end = node.end_lineno
    j = end
    while j < len(lines):
        if not lines[j].strip():
            j += 1
            continue
        if lines[j][0] in " \t":
            end = j = j + 1
            continue
        break
    return end


def _trim(lines: list[str]) -> str:
    text = "".join(lines).strip("\n")
    return text.rstrip() if text.strip() else ""


def split_reference(source: str) -> Reference:
    """Split a reference module into provided and answer segments (see the module doc).

    Comments right above a definition travel with it; consecutive provided statements
    form one segment.
    """
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    body = list(tree.body)
    docstring = ast.get_docstring(tree) or ""
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        start = body[0].end_lineno
        body = body[1:]
    else:
        start = 0
    ref = Reference(docstring)
    pending: list[str] = []
    for node in body:
        first = _first_line(node)
        # comments between the previous statement and this one belong to this one
        end = _block_end(node, lines)
        chunk = lines[start:end]
        start = end
        is_answer = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
            and has_region("".join(lines[first - 1:end]), SOLUTION)
        if is_answer:
            if _trim(pending):
                ref.segments.append(Segment("provided", _trim(pending)))
            pending = []
            ref.segments.append(Segment("answer", _trim(chunk), node.name))
        else:
            pending.extend(chunk)
    if _trim(pending):
        ref.segments.append(Segment("provided", _trim(pending)))
    return ref


# -- which test needs which answer ---------------------------------------------------------

@dataclass(frozen=True)
class NamedTest:
    name: str
    source: str  # the function and every module-level helper it uses (transitively)


def named_tests(test_source: str) -> list[NamedTest]:
    """The `test_*` functions of a test module, each with the source of what it uses."""
    tree = ast.parse(test_source)
    lines = test_source.splitlines(keepends=True)
    defined: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        defined[n.id] = node

    def text(node: ast.stmt) -> str:
        return "".join(lines[_first_line(node) - 1:node.end_lineno])

    found = []
    for node in tree.body:
        if not (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test")):
            continue
        seen: set[int] = set()
        todo = [node]
        parts = []
        while todo:
            current = todo.pop()
            if id(current) in seen:
                continue
            seen.add(id(current))
            parts.append(text(current))
            for n in ast.walk(current):
                if isinstance(n, ast.Name) and n.id in defined and defined[n.id] is not current:
                    todo.append(defined[n.id])
        found.append(NamedTest(node.name, "\n".join(parts)))
    return found


def mentioned(source: str, names: list[str]) -> list[str]:
    """The names of `names` that `source` mentions as a word (not as `x.name`), in `names` order."""
    return [n for n in names if re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", source)]


def probe_sources(text: str) -> str:
    """The source of every probe `text` names in a string (`submission.run("probe", ...)`):
    a probe may call a student's function by a default argument the test never spells out."""
    found = []
    for name in sorted(set(re.findall(r"""["']([A-Za-z_][A-Za-z0-9_]*)["']""", text))):
        if name in PROBES:
            try:
                found.append(inspect.getsource(PROBES[name]))
            except (OSError, TypeError):
                continue
    return "\n".join(found)


def place_tests(test_source: str, answers: list[str]) -> dict[str, list[str]]:
    """Group a test module's tests under the answer they need last (in `answers` order).

    A test runs after every answer it mentions — the answers it builds or calls, directly,
    through a helper of the test module, or through the probes it runs — so all of them
    exist when it runs; a test that mentions none goes under "" (the end of the notebook).
    Order within a group: the file's.
    """
    groups: dict[str, list[str]] = {a: [] for a in [*answers, ""]}
    for test in named_tests(test_source):
        hits = mentioned(test.source + "\n" + probe_sources(test.source), answers)
        groups[hits[-1] if hits else ""].append(test.name)
    return groups
