"""checks.replay and the probe that feeds it (the core probe `train`): the record of a real run
replays to its own weights, a tampered record does not, and rearranged data puts another
run's order in place."""

from __future__ import annotations

import copy

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
    return sd, reference.run("train", model=MODEL, state_dict=sd, train="train_classifier", X=X, y=y,
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


# -- every step checked: `expect_adam_steps` ---------------------------------------------------

def checked_run(reference, X=X.float(), **kwargs):
    """A float32 run of the reference's loop with the weights after every step recorded."""
    sd = reference.run("state_dict", model=MODEL)["state_dict"]
    kwargs = {"epochs": 3, "lr": 0.05, "batch_size": 7, "seed": 1, **kwargs}
    return sd, reference.run("train", model=MODEL, state_dict=sd, train="train_classifier", X=X, y=Y, train_kwargs=kwargs,
                             trajectory=30)


def expect_steps(result, sd, **kwargs):
    replay.expect_adam_steps(result, model=MODEL, start=sd, X=X.float(), y=Y, lr=0.05, **{"epochs": 3, "most_steps": 30, **kwargs},
                             prop="p", hint="h")


def test_every_step_of_an_honest_float32_run_is_the_judges_adam_step(reference):
    sd, result = checked_run(reference)
    assert result["trajectory"].shape == (15, sum(v.numel() for v in sd.values()))
    expect_steps(result, sd)


def test_weights_made_by_another_optimiser_fail_at_their_first_step(reference):
    sd, result = checked_run(reference)
    net = torch.nn.Sequential(torch.nn.Linear(2, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    net.load_state_dict(sd)
    sgd, path = torch.optim.SGD(net.parameters(), lr=0.05), []
    for batch in replay.recorded_batches(result, X.float(), "p", "h"):  # the same batches, plain SGD steps
        sgd.zero_grad()
        torch.nn.functional.cross_entropy(net(X.float()[batch]), Y[batch]).backward()
        sgd.step()
        path.append(torch.cat([p.detach().reshape(-1) for p in net.parameters()]))
    forged = {**result, "trajectory": torch.stack(path), "state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()}}
    with pytest.raises(checks.CheckFailed, match="optimiser step 1 of 15 is not an Adam"):
        expect_steps(forged, sd)


def test_returned_weights_that_are_not_the_last_steps_fail(reference):
    sd, result = checked_run(reference)
    moved = {k: v + 1e-3 for k, v in result["state_dict"].items()}
    with pytest.raises(checks.CheckFailed, match="not the weights after its last step"):
        expect_steps({**result, "state_dict": moved}, sd)


def test_a_parameter_not_trained_must_come_back_unchanged(reference):
    sd, result = checked_run(reference)
    with pytest.raises(checks.CheckFailed, match="`0.weight`, which the run was not to train, came back changed"):
        expect_steps(result, sd, trainable=["0.bias", "2.weight", "2.bias"])


def test_more_steps_than_the_grader_checks_fail_before_any_is_checked(reference):
    sd, result = checked_run(reference, batch_size=1)
    with pytest.raises(checks.CheckFailed, match="took 90 optimiser steps, more than the 30"):
        expect_steps(result, sd)


def recorded(loop, model=None, X=X.float()):
    """The record of `loop(model)` run under a StepRecorder that keeps the weights of every step."""
    from autograder.worker.probes.core import StepRecorder

    model = model or torch.nn.Sequential(torch.nn.Linear(2, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    with StepRecorder(model, X, trajectory=10) as recorder:
        loop(model)
    return recorder.record()


@pytest.mark.parametrize("call", ["keyword", "layer by layer"])
def test_rows_are_recorded_however_the_loop_calls_the_model(call):
    adam_of = {}

    def loop(model):
        adam = adam_of.setdefault("adam", torch.optim.Adam(model.parameters(), lr=0.05))
        for batch in (torch.arange(0, 7), torch.arange(7, 30)):
            adam.zero_grad()
            if call == "keyword":
                out = model(input=X.float()[batch])
            else:
                out = X.float()[batch]
                for layer in model:
                    out = layer(out)
            torch.nn.functional.cross_entropy(out, Y[batch]).backward()
            adam.step()

    record = recorded(loop)
    assert record["step_rows"] == [7, 23]
    assert record["step_entry"] == (["", ""] if call == "keyword" else ["0", "0"])
    batches = replay.recorded_batches(record, X.float(), "p", "h")
    assert [b.tolist() for b in batches] == [list(range(7)), list(range(7, 30))]


def test_a_head_trained_on_features_computed_once_maps_back_to_rows_of_X():
    net = torch.nn.Sequential()
    net.add_module("backbone", torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Tanh()))
    net.add_module("head", torch.nn.Linear(4, 3))
    net.backbone.requires_grad_(False)

    def loop(model):
        adam = torch.optim.Adam(model.head.parameters(), lr=0.05)
        with torch.no_grad():
            features = model.backbone(X.float())
        for batch in (torch.tensor([3, 1, 4]), torch.tensor([15, 9, 2, 6])):
            adam.zero_grad()
            torch.nn.functional.cross_entropy(model.head(features[batch]), Y[batch]).backward()
            adam.step()

    record = recorded(loop, net)
    assert record["step_entry"] == ["head", "head"]
    with torch.no_grad():  # the judge's own features: a batch of all of X, rounded otherwise than the loop's
        features = copy.deepcopy(net.backbone).double()(X.float().double()).float()
    batches = replay.recorded_batches(record, X.float(), "p", "h", inputs={"head": features}.get)
    assert [b.tolist() for b in batches] == [[3, 1, 4], [15, 9, 2, 6]]
    with pytest.raises(checks.CheckFailed, match="not rows of X"):
        replay.recorded_batches(record, X.float(), "p", "h", inputs={"head": features + 1}.get)


@pytest.mark.parametrize("entries", [["", ""], ["", "head"]], ids=["the model's", "a submodule's, only this step"])
def test_a_step_on_no_row_gets_its_own_message(entries):
    """A step whose rows the grader never saw (the model fed only through a path the
    record cannot follow) is named as such, also when it is the only step of its entry."""
    record = {"rows": X[:3], "step_rows": [3, 0], "step_entry": entries}
    with pytest.raises(checks.CheckFailed, match="optimiser step 2 trained on no row the grader could see"):
        replay.recorded_batches(record, X, "p", "h", inputs={"head": X * 2}.get)
