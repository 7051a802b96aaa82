"""How the class did: score statistics per assignment and the pass rate of every test.

Students who handed nothing in for an assignment are counted as "not submitted" and kept
out of that assignment's statistics and pass rates.
"""

from __future__ import annotations

import statistics
from typing import Sequence

from autograder.export.grades import max_scores, number
from autograder.judge.result import StudentRecord


def overview_markdown(records: Sequence[StudentRecord], assignments: Sequence[str]) -> str:
    lines = ["# Class overview", "", f"{len(records)} students.", ""]
    maxima = max_scores(records, assignments)
    lines += ["| assignment | max | submitted | mean | median | min | max reached |", "|---|---|---|---|---|---|---|"]
    for a in assignments:
        scores = [r.assignments[a].score for r in records if a in r.assignments and r.assignments[a].submitted]
        if not scores:
            lines.append(f"| {a} | {number(maxima[a])} | 0/{len(records)} | – | – | – | – |")
            continue
        lines.append(
            f"| {a} | {number(maxima[a])} | {len(scores)}/{len(records)} | {statistics.mean(scores):.2f} | "
            f"{statistics.median(scores):g} | {min(scores):g} | {sum(s == maxima[a] for s in scores)} |"
        )
    for a in assignments:
        graded = [r.assignments[a] for r in records if a in r.assignments and r.assignments[a].submitted]
        lines += ["", f"## {a}: pass rate per test", ""]
        if not graded:
            lines.append("No submission.")
            continue
        lines += ["| test | property | passed | bar |", "|---|---|---|---|"]
        names: dict[str, str] = {}
        passed: dict[str, int] = {}
        for result in graded:
            for t in result.tests:
                names[t.name] = t.property
                passed[t.name] = passed.get(t.name, 0) + t.passed
        for name, prop in names.items():
            share = passed[name] / len(graded)
            lines.append(f"| {name} | {prop} | {passed[name]}/{len(graded)} | {'█' * round(share * 20)} |")
    return "\n".join(lines) + "\n"
