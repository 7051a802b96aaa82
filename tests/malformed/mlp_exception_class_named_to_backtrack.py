"""An import that raises an exception whose class name is a word made to backtrack the
feedback filter's old regex (an outside audit's, 2026-12-04: 11 groups, a 65-character name,
held the judge about an hour per failed test — a day for one mlp submission)."""

GROUPS = 11
raise type("1" + "....-1" * (GROUPS - 1) + "....", (Exception,), {})("x")
