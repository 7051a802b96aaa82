"""Generated mutants: single-point mutations of the reference inside its solution regions.

    expressions.py  operators, constants, functions, dims, transposes
    statements.py   detach, squeeze, ignored arguments, bounds, deleted statements,
                    negated conditions, swapped unpacking

Each operator walks the reference's AST and yields one mutant per place it applies: one
edit (or one pair of edits for a swap) of the original text, so the mutant's diff is the
bug and nothing else.  Mutants are never made in docstrings, comments, annotations or the
text of an exception (SPEC grades an exception by its type), nor outside
`### BEGIN/END SOLUTION` — that code is given to students, not written by them.

Two operators make bugs docs/spec.md §3 says grading always checks, so their survivors are never
counted as equivalent (`Mutant.spec_observable`): `ignore_argument` on a public function
("every argument named in this SPEC changes the behaviour it describes") and `squeeze`
("every `(B, ...)` output also for B = 1").
"""

from __future__ import annotations

from autograder.selfcheck.mutants import expressions, statements  # noqa: F401  (registers the operators, in this order)
from autograder.selfcheck.mutants.registry import (  # noqa: F401  (the package's interface)
    OPERATORS,
    Context,
    Mutant,
    Site,
    mutants_of,
    operator,
    replacing,
    shorten,
)
