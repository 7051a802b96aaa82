"""Grade files (SPEC §4: `grades.csv`, `grades.json`), per-student feedback, the class overview.

Every file is written atomically (a temporary file, then `os.replace`), so a reader —
or an interrupted batch — only ever sees a complete, consistent version.
"""

from __future__ import annotations

import csv
import io
import json
import os
import statistics
from pathlib import Path
from typing import Sequence

from autograder.paths import ASSIGNMENTS


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def ordered(assignments: Sequence[str]) -> list[str]:
    """The assignments in SPEC order."""
    return [a for a in ASSIGNMENTS if a in assignments]


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(x, 4)


def grades_json(records: Sequence[dict], assignments: Sequence[str]) -> dict:
    maxima = max_scores(records, assignments)
    return {
        "assignments": {a: {"max_score": _num(maxima[a])} for a in ordered(assignments)},
        "students": [
            {
                "student": r["student"],
                "total": _num(sum(r["assignments"][a]["score"] for a in ordered(assignments))),
                "assignments": {a: r["assignments"][a] for a in ordered(assignments)},
            }
            for r in records
        ],
    }


def max_scores(records: Sequence[dict], assignments: Sequence[str]) -> dict[str, float]:
    return {a: max((r["assignments"][a]["max_score"] for r in records), default=0) for a in assignments}


def grades_csv(records: Sequence[dict], assignments: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    cols = ordered(assignments)
    writer.writerow(["student", *cols, "total"])
    for r in records:
        scores = [_num(r["assignments"][a]["score"]) for a in cols]
        writer.writerow([r["student"], *scores, _num(sum(scores))])
    return buffer.getvalue()


def feedback_markdown(record: dict, assignments: Sequence[str]) -> str:
    """What one student reads: score per assignment, every test, the reason of each failure."""
    lines = [f"# Feedback for {record['student']}", ""]
    for a in ordered(assignments):
        result = record["assignments"][a]
        lines += [f"## {a}: {_num(result['score'])} / {_num(result['max_score'])}", ""]
        for t in result["tests"]:
            mark = "✓" if t["status"] == "passed" else "✗"
            lines.append(f"- {mark} **{t['name']}** ({t['property']}): {_num(t['score'])}/{_num(t['max_score'])}")
            for line in t["message"].splitlines():
                lines.append(f"  > {line}")
        lines.append("")
    return "\n".join(lines)


def overview_markdown(records: Sequence[dict], assignments: Sequence[str]) -> str:
    """How the class did: score statistics per assignment and the pass rate of every test."""
    lines = ["# Class overview", "", f"{len(records)} students.", ""]
    maxima = max_scores(records, assignments)
    lines += ["| assignment | max | mean | median | min | max reached |", "|---|---|---|---|---|---|"]
    for a in ordered(assignments):
        scores = [r["assignments"][a]["score"] for r in records]
        lines.append(
            f"| {a} | {_num(maxima[a])} | {statistics.mean(scores):.2f} | {statistics.median(scores):g} | "
            f"{min(scores):g} | {sum(s == maxima[a] for s in scores)} |"
        )
    for a in ordered(assignments):
        lines += ["", f"## {a}: pass rate per test", "", "| test | property | passed | bar |", "|---|---|---|---|"]
        names: dict[str, str] = {}
        passed: dict[str, int] = {}
        for r in records:
            for t in r["assignments"][a]["tests"]:
                names[t["name"]] = t["property"]
                passed[t["name"]] = passed.get(t["name"], 0) + (t["status"] == "passed")
        for name, prop in names.items():
            share = passed[name] / len(records)
            lines.append(f"| {name} | {prop} | {passed[name]}/{len(records)} | {'█' * round(share * 20)} |")
    return "\n".join(lines) + "\n"


def write_reports(out: Path, records: Sequence[dict], assignments: Sequence[str]) -> None:
    """Rewrite every class-level file from the per-student records."""
    write_atomic(out / "grades.json", json.dumps(grades_json(records, assignments), indent=2) + "\n")
    write_atomic(out / "grades.csv", grades_csv(records, assignments))
    write_atomic(out / "overview.md", overview_markdown(records, assignments))
