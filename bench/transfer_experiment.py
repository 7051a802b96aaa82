"""The transfer experiment on ten seeds: does a frozen pretrained backbone with a new head beat
the same network trained from scratch, and by how much? (`make experiments`)

The hidden test `test_transfer_beats_training_from_scratch` runs two seeds; this runs the
same recipe (its own functions: data, budget, threshold, weights evaluated by the judge) on
ten, for the reference and for correct solutions that shuffle differently (the exact random
sequence is not graded, so the threshold must hold for any of them), and prints the margins.

Usage: python bench/transfer_experiment.py [SEEDS]
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import time
from types import SimpleNamespace

import torch

from autograder import course
from autograder.data.digits import target_task
from autograder.judge.run import reference_for

HIDDEN = course.assignment("transfer").hidden_tests


def hidden_tests():
    spec = importlib.util.spec_from_file_location("transfer_hidden_for_bench", HIDDEN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class OtherShuffle:
    """The reference, with its shuffling drawn from another stream (`seed + offset`): a correct
    solution that happens to draw different batches."""

    def __init__(self, reference, offset: int) -> None:
        self.reference, self.offset = reference, offset
        self.label = f"reference, seed + {offset}"

    def run(self, probe: str, **request):
        if probe == "fine_tune_run":
            kwargs = dict(request["train_kwargs"])
            kwargs["seed"] = kwargs.get("seed", 0) + self.offset
            request = dict(request, train_kwargs=kwargs)
        return self.reference.run(probe, **request)


def experiment(hidden, reference, subject, seeds) -> list[dict]:
    """Held-out accuracy of the pretrained and the from-scratch run per seed (the hidden test's recipe)."""
    rows = []
    for seed in seeds:
        X, y, X_test, y_test = target_task(hidden.SHOTS, seed)
        row = {"seed": seed}
        for name, request in hidden.transfer_runs(seed, X, y):
            row["scratch" if name == "from scratch" else name] = hidden.held_out_accuracy(
                reference, subject.run("fine_tune_run", **request), X_test=X_test, y_test=y_test, prop="transfer helps", hint="", name=name)
        rows.append(row)
    return rows


def main(n_seeds: int = 10) -> None:
    torch.set_num_threads(1)
    hidden, reference = hidden_tests(), reference_for("transfer")
    subjects = [SimpleNamespace(run=reference.run, label="reference")] + [OtherShuffle(reference, k) for k in (100, 200)]
    print(f"transfer experiment: {hidden.SHOTS} labels per digit, budget {hidden.BUDGET}, threshold {hidden.THRESHOLD}, "
          f"{n_seeds} seeds (the hidden test runs {len(hidden.SEEDS)})")
    for subject in subjects:
        start = time.perf_counter()
        rows = experiment(hidden, reference, subject, range(n_seeds))
        pre, scratch = [r["pretrained"] for r in rows], [r["scratch"] for r in rows]
        wins = sum(r["pretrained"] >= hidden.THRESHOLD and r["pretrained"] > r["scratch"] for r in rows)
        print(f"\n{subject.label}: passes on {wins}/{len(rows)} seeds ({time.perf_counter() - start:.1f} s)")
        print("  seed  pretrained  scratch")
        for r in rows:
            print(f"  {r['seed']:4d}  {r['pretrained']:10.3f}  {r['scratch']:7.3f}")
        print(f"  pretrained min {min(pre):.3f} mean {statistics.mean(pre):.3f} (threshold {hidden.THRESHOLD}); "
              f"scratch max {max(scratch):.3f} mean {statistics.mean(scratch):.3f}; gap min(pre) - max(scratch) {min(pre) - max(scratch):+.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
