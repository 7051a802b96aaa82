"""glibc's malloc set to keep freed memory for the next training step.

A training step allocates and frees the same tensors again and again.  By default glibc
gives freed memory back to the kernel (it trims the heap's top above a threshold and
unmaps large blocks), so the next step faults every page in anew: ≈ 30,000 page faults in
one training of gnn's graph classifier (120 graphs, 100 Adam steps).  Keeping blocks up
to 64 MiB on the heap and trimming only above 256 MiB takes that to ≈ 4,000 and the
training from ≈ 720 to ≈ 650 ms (docs/scaling.md).

Set in the fork server before its warm-up (every worker inherits it with the fork) and in
the judge, whose in-process reference runs the same trainings.  The worker's memory limit
(RLIMIT_AS) is unchanged: memory kept for reuse counts against it like memory in use.
"""

from __future__ import annotations

import ctypes

#: `mallopt` parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

MiB = 1 << 20
#: Blocks up to this size come from the heap, and are reused, instead of fresh mappings.
MMAP_THRESHOLD = 64 * MiB
#: The heap's free top is given back to the kernel only above this size.
TRIM_THRESHOLD = 256 * MiB


def keep_freed_memory() -> bool:
    """Set this process's malloc to keep freed memory (see the module); False where the C
    library has no `mallopt` that accepts it (not glibc).  Idempotent, and cheap to repeat."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
