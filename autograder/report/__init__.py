"""Reports: the points table, grade files (SPEC §4), per-student feedback, the class overview."""
