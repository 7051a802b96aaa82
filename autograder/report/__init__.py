"""Reports: the points table, per-student feedback, the class overview (docs/spec.md §4)."""
