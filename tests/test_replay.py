"""checks.replay and the probe that feeds it (mlp's `train_steps`): the record of a real run
replays to its own weights, a tampered record does not, and rearranged data puts another
run's order in place."""

from __future__ import annotations

import pytest
import torch

from autograder import checks, course
from autograder.checks import replay
from autograder.judge.subject import LocalSubject
from autograder.worker.probes import Build

MODEL = Build("torch.nn:Sequential", Build("torch.nn:Linear", 2, 5), Build("torch.nn:ReLU"), Build("torch.nn:Linear", 5, 3))
X = torch.randn(30, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
Y = torch.arange(30) % 3


@pytest.fixture(scope="module")
def reference() -> LocalSubject:
    return LocalSubject.from_file(course.assignment("mlp").reference, "mlp_reference_for_replay")


def run(reference, X=X, y=Y, seed=1, **kwargs):
    sd = reference.run("state_dict", model=MODEL, dtype=torch.float64)["state_dict"]
    kwargs = {"epochs": 2, "lr": 0.05, "batch_size": 7, "seed": seed, **kwargs}
    return sd, reference.run("train_steps", model=MODEL, state_dict=sd, train="train_classifier", X=X, y=y,
                             train_kwargs=kwargs, dtype=torch.float64)


def test_a_recorded_run_replays_to_its_own_weights_and_losses(reference):
    sd, result = run(reference)
    batches = replay.recorded_batches(result, X, "p", "h")
    epochs = replay.epochs_of(batches, len(X), "p", "h")
    assert [replay.sizes_of(e) for e in epochs] == [[7, 7, 7, 7, 2]] * 2
    replayed = replay.replay(MODEL, sd, X, Y, batches, lr=0.05, dtype=torch.float64)
    assert replay.same_weights(result["state_dict"], replayed["state_dict"])
    assert replay.epoch_losses(replayed["step_losses"], epochs) == pytest.approx(result["losses"], rel=1e-12)


def test_a_tampered_record_does_not_replay(reference):
    sd, result = run(reference)
    swapped = result["rows"].clone()
    swapped[[0, 10]] = swapped[[10, 0]]  # two rows of different batches trade places
    batches = replay.recorded_batches({**result, "rows": swapped}, X, "p", "h")
    assert not replay.same_weights(result["state_dict"], replay.replay(MODEL, sd, X, Y, batches, lr=0.05, dtype=torch.float64)["state_dict"])


def test_an_epoch_that_repeats_a_sample_is_refused():
    batches = [torch.tensor([0, 1]), torch.tensor([1, 2])]
    with pytest.raises(checks.CheckFailed, match="did not visit every sample exactly once"):
        replay.epochs_of(batches, 4, "p", "h")


def test_rows_not_in_X_are_refused():
    with pytest.raises(checks.CheckFailed, match="not rows of X"):
        replay.recorded_batches({"rows": X[:3] + 1, "step_rows": [3]}, X, "p", "h")


def test_rearranged_data_puts_another_runs_order_in_place(reference):
    _, first = run(reference, epochs=1, seed=1)
    _, other = run(reference, epochs=1, seed=2)
    order = torch.cat(replay.recorded_batches(first, X, "p", "h"))
    other_order = torch.cat(replay.recorded_batches(other, X, "p", "h"))
    X2, y2 = replay.rearranged(X, Y, order, other_order)
    _, again = run(reference, X=X2, y=y2, epochs=1, seed=1)
    assert torch.equal(again["rows"], other["rows"])
    assert replay.same_weights(again["state_dict"], other["state_dict"]) and again["losses"] == other["losses"]
