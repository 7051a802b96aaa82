"""The one parser of nbgrader's region markers, strict like nbgrader's own preprocessors.

    ### BEGIN SOLUTION … ### END SOLUTION          solution code (stubbed for students)
    ### BEGIN HIDDEN TESTS … ### END HIDDEN TESTS  tests removed from released notebooks

A marker is a line of its own (indentation allowed).  An unclosed region, an END without
its BEGIN, or a nested BEGIN raises `RegionError` naming the line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_TESTS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


class RegionError(ValueError):
    """Malformed markers (the message names the line)."""


@dataclass(frozen=True)
class Line:
    """One line of a text and where it stands: `kind` is "marker", "inside" or "outside"."""

    number: int
    text: str  # with its line ending
    kind: str


def lines(text: str, markers: tuple[str, str] = SOLUTION) -> Iterator[Line]:
    """Every line of `text`, classified against the `(begin, end)` markers."""
    begin, end = markers
    inside = False
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        stripped = line.strip()
        if stripped == begin:
            if inside:
                raise RegionError(f"line {number}: {begin} inside another {begin}")
            inside = True
            yield Line(number, line, "marker")
        elif stripped == end:
            if not inside:
                raise RegionError(f"line {number}: {end} without {begin}")
            inside = False
            yield Line(number, line, "marker")
        else:
            yield Line(number, line, "inside" if inside else "outside")
    if inside:
        raise RegionError(f"{begin} is never closed")


def outside(text: str, markers: tuple[str, str] = SOLUTION) -> str:
    """`text` without its regions and their markers (e.g. a cell as nbgrader releases it)."""
    return "".join(line.text for line in lines(text, markers) if line.kind == "outside")


def inside(text: str, markers: tuple[str, str] = SOLUTION) -> list[str]:
    """The lines inside the regions of `text` (without line endings)."""
    return [line.text.rstrip("\r\n") for line in lines(text, markers) if line.kind == "inside"]


def without_markers(text: str, markers: tuple[str, str] = SOLUTION) -> str:
    """`text` with its regions' content kept and only the marker lines removed."""
    return "".join(line.text for line in lines(text, markers) if line.kind != "marker")


def has_region(text: str, markers: tuple[str, str] = SOLUTION) -> bool:
    return any(line.kind == "marker" for line in lines(text, markers))


def wrap(code: str, markers: tuple[str, str]) -> str:
    """`code` inside a region."""
    return f"{markers[0]}\n{code}\n{markers[1]}"
