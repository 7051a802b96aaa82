"""Generated correct variants: semantics-preserving rewrites of the reference.

Each transform is one function `Source -> str` registered with `@transform(name, what)`:
it rewrites the whole file in one way docs/spec.md §3 says grading never depends on (how names
are bound, helpers, private members, the order of independent operations, …) and raises
`NotApplicable` when the file offers nothing it can rewrite safely.  A variant must score
full marks; one that does not has found a test that grades the shape of correct code.

    bindings.py   names bound through tables, aliases, default arguments, closures;
                  `torch.x` → `from torch import x`
    structure.py  helpers extracted / inlined, comprehensions as loops, independent
                  statements swapped
    members.py    attributes renamed, extra private members, `nn.ModuleList` →
                  `nn.Sequential` (only for the lists SPEC names)
"""

from __future__ import annotations

from autograder.selfcheck.source import NotApplicable  # noqa: F401
from autograder.selfcheck.variants import bindings, members, structure  # noqa: F401  (registers the transforms)
from autograder.selfcheck.variants.registry import (  # noqa: F401  (the package's interface)
    TRANSFORMS,
    Transform,
    Variant,
    transform,
    variants_of,
)

__all__ = ["TRANSFORMS", "NotApplicable", "Transform", "Variant", "transform", "variants_of"]
