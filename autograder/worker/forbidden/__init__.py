"""The run-time layer against forbidden built-ins (the static scan is `judge/scan.py`).

    targets.py  what each forbidden SPEC name is, below the Python name level
    watch.py    `watching(...)` while a probe runs the student's code; `trust`/`trusted`
                for the grader's own blocks; `untrusted` for the student's objects inside
                them; `unrecorded` for a glance that decides nothing
"""

from autograder.worker.forbidden.targets import (
           FORBIDDEN_TARGETS,
           ForbiddenCall,
           Target,
           short_name,
           target_for,
)
from autograder.worker.forbidden.watch import (
           TAMPERING_NAMES,
           Watch,
           carry_trust,
           carry_watches_into_threads,
           guard_calls_by_handle,
           runs_the_students_parts,
           student_import,
           trust,
           trusted,
           unrecorded,
           untrusted,
           watching,
)

__all__ = ["FORBIDDEN_TARGETS", "TAMPERING_NAMES", "ForbiddenCall", "Target", "Watch", "carry_trust", "carry_watches_into_threads", "guard_calls_by_handle", "runs_the_students_parts", "short_name", "student_import", "target_for",
           "trust", "trusted", "unrecorded", "untrusted", "watching"]
