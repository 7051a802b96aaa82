"""The variants' registry: what each transform module registers into, and what runs them
(the package's docstring, `autograder.selfcheck.variants`, says what each one makes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from autograder.selfcheck.source import NotApplicable, Source


@dataclass(frozen=True)
class Transform:
    name: str
    description: str
    rewrite: Callable[[Source], str]


TRANSFORMS: dict[str, Transform] = {}


def transform(name: str, description: str) -> Callable[[Callable[[Source], str]], Callable[[Source], str]]:
    """Register a rewrite under `name` (in registration order)."""
    def register(fn: Callable[[Source], str]) -> Callable[[Source], str]:
        TRANSFORMS[name] = Transform(name, description, fn)
        return fn
    return register


@dataclass(frozen=True)
class Variant:
    transform: str
    description: str
    source: str


def variants_of(text: str, only: set[str] | None = None) -> tuple[list[Variant], list[str]]:
    """Every variant of `text`, and one line per transform that could not apply."""
    made, problems = [], []
    for t in TRANSFORMS.values():
        if only and t.name not in only:
            continue
        try:
            out = t.rewrite(Source(text))
            compile(out, f"<variant {t.name}>", "exec")
        except NotApplicable as exc:
            problems.append(f"variant {t.name}: cannot apply — {exc}")
            continue
        except SyntaxError as exc:  # a transform bug: say so, and go on with the others
            problems.append(f"variant {t.name}: the rewrite is not valid Python (line {exc.lineno}: {exc.msg}) — skipped")
            continue
        except Exception as exc:  # noqa: BLE001 — likewise: one transform's failure is one line
            problems.append(f"variant {t.name}: the transform failed ({type(exc).__name__}: {exc}) — skipped")
            continue
        if out == text:
            problems.append(f"variant {t.name}: cannot apply — the rewrite changes nothing")
            continue
        made.append(Variant(t.name, t.description, out))
    return made, problems
