"""Checks on trained models: the worker trains, the judge evaluates.

Training must run in the worker (it runs the student's code), but its verdict must not:
the worker returns the trained weights, and the judge loads them into a trusted model
(`evaluator`: the reference, in the judge's own process) and computes the held-out score
itself.  Held-out inputs and labels never reach the worker, and replacing the grader's
training recipe inside the worker gains nothing but the weights it returns.

When the score misses its threshold, the feedback shows it against the threshold, and the
student's loss curve beside the reference's (the reference trained the same way, in the
judge, once per judge process — only for a failing student).
"""

from __future__ import annotations

import hashlib
from typing import Any, Sequence

import torch

from autograder.checks import replay
from autograder.checks.base import CheckFailed, expect_close, expect_tensor, fail, reaches
from autograder.checks.figures import show_training_curve
from autograder.worker.probes.core import NONTENSOR
from autograder.worker.spec import Build


def trained_weights(result: dict, prop: str, hint: str) -> dict[str, torch.Tensor]:
    """The `state_dict` a training probe returned, checked to be a dict of plain tensors."""
    weights = result.get("state_dict") if isinstance(result, dict) else None
    if not isinstance(weights, dict) or NONTENSOR in weights:
        fail(prop, "training did not give back the model's weights", hint)
    for name, value in weights.items():
        expect_tensor(value, f"the trained `{name}`", prop, finite=False, bool_ok=True, hint=hint)
    return weights


def evaluated_output(evaluator: Any, *, model: Build, weights: dict, args: Sequence[Any], prop: str, hint: str,
                     dtype: torch.dtype | None = None) -> torch.Tensor:
    """The output of the trusted `model` with the trained `weights` on `args`, computed by
    `evaluator` (the reference: in the judge); a weight layout it cannot load fails `prop`."""
    try:
        out = evaluator.run("predict", model=model, state_dict=weights, args=tuple(args), dtype=dtype)["output"]
    except (KeyError, RuntimeError) as exc:
        fail(prop, f"the trained weights do not fit {model} ({(str(exc).splitlines() or [''])[0][:200]})", hint)
    return expect_tensor(out, "the trained model's output", prop, finite=False, hint=hint)


def expect_own_logits(submission: Any, reference: Any, *, model: Build, weights: dict, args: Sequence[Any], prop: str, hint: str,
                      patch: dict | None = None) -> None:
    """Fail `prop` unless the student's own `model` computes the reference's logits (float64)
    with the trained `weights`, so that weights trained on any other model gain nothing.

    In eval mode under `torch.no_grad()`, as a trained model predicts — or, failing that,
    in training mode, as the grader's loop trained it: a model wrong in one of the modes
    only (a dropout it should not have, another branch for inference) loses the test of
    its equality with the reference, which runs both, and not the training test too.
    """
    what = "your trained classifier's logits against the reference classifier's with the same weights"
    expected = evaluated_output(reference, model=model, weights=weights, args=args, prop=prop, hint=hint, dtype=torch.float64)
    request = dict(model=model, state_dict=weights, dtype=torch.float64, args=tuple(args), patch=patch)
    try:
        expect_close(submission.run("run", inference=True, **request)["output"], expected, what, prop, hint=hint)
    except CheckFailed as predicting:
        try:
            expect_close(submission.run("run", backward=False, **request)["output"], expected, what, prop, hint=hint)
        except CheckFailed:
            raise predicting from None


def accuracy_of(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The share of rows whose arg-max is the label; a row with NaN or inf counts as wrong
    (logits of another dtype, e.g. bool votes, are read as numbers)."""
    logits = logits if logits.is_floating_point() else logits.double()
    finite = torch.isfinite(logits).all(dim=-1)
    return float(((logits.argmax(dim=-1) == labels) & finite).double().mean())


#: What a failed step check points at: the recipe every step must follow.
STEPS_HINT = ("the accuracy counts when it comes from the training asked for: Adam(model.parameters(), lr) on the "
              "F.cross_entropy of each batch, optimizer.zero_grad() before each backward, one step per batch")

#: The reference's losses per training recipe (a few recipes per course, so never evicted).
_reference_losses: dict[str, Any] = {}


def _digest(value: Any, into: Any) -> None:
    """Feed `value` (tensors, containers, anything with a stable repr) into the hash `into`."""
    if isinstance(value, torch.Tensor):
        into.update(f"tensor{tuple(value.shape)}{value.dtype}".encode())
        into.update(value.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, dict):
        for k in sorted(value, key=str):
            into.update(f"<{k}>".encode())
            _digest(value[k], into)
    elif isinstance(value, (list, tuple)):
        for v in value:
            into.update(b",")
            _digest(v, into)
    else:
        into.update(repr(value).encode())


def reference_losses(evaluator: Any, **request: Any) -> Any:
    """The losses of the reference's own training function given `request` (the `train`
    probe's arguments), computed once per judge process."""
    digest = hashlib.sha256()
    _digest(request, digest)
    key = digest.hexdigest()
    if key not in _reference_losses:
        _reference_losses[key] = evaluator.run("train", **request).get("losses")
    return _reference_losses[key]


def trained_accuracy(
    sub: Any,
    *,
    model: Build,
    state_dict: dict | None,
    train: str,
    X: torch.Tensor,
    y: torch.Tensor,
    X_eval: torch.Tensor,
    y_eval: torch.Tensor,
    train_kwargs: dict,
    threshold: float,
    prop: str,
    hint: str,
    evaluator: Any = None,
    num_classes: int | None = None,
    checked_steps: int | None = None,
    every_epoch: bool = False,
) -> float:
    """Train `model` with the student's `train` function (in the worker); the held-out
    accuracy of the weights, computed by `evaluator` (default: `sub` itself, for public
    tests), must reach `threshold`.

    With `checked_steps` (the most optimiser steps the recipe allows), the weights must
    also be the end of Adam steps on the batches the model was given, each checked by
    the judge (`replay.expect_adam_steps`): the accuracy is then that of the training
    asked for, not of weights made elsewhere in the worker.  With `every_epoch`, a run that
    returns fewer epoch losses than `train_kwargs["epochs"]` stopped early: it fails.
    """
    request = dict(model=model, state_dict=state_dict, train=train, X=X, y=y, train_kwargs=train_kwargs)
    result = sub.run("train", **request, **({} if checked_steps is None else {"trajectory": checked_steps}))
    losses = result.get("losses") if isinstance(result, dict) else None
    losses = losses if isinstance(losses, (list, tuple)) else None  # a list of numbers, or no curve
    if evaluator is not None and evaluator is not sub:
        show_training_curve(losses, lambda: reference_losses(evaluator, **request))
    else:
        show_training_curve(losses)
    if every_epoch and losses is not None and len(losses) < train_kwargs["epochs"]:
        fail(prop, f"{train} returned {len(losses)} epoch losses for epochs={train_kwargs['epochs']}: it should run every epoch "
                   "asked for (no early stop) and return each one's mean loss",
             "loop `for epoch in range(epochs)` to its end, appending each epoch's mean loss")
    weights = trained_weights(result, prop, hint)
    logits = evaluated_output(evaluator or sub, model=model, weights=weights, args=(X_eval,), prop=prop, hint=hint)
    classes = num_classes or int(y.max()) + 1
    if tuple(logits.shape) != (len(X_eval), classes):
        fail(prop, f"the trained model's output has shape {tuple(logits.shape)}, expected {(len(X_eval), classes)}", hint)
    acc = accuracy_of(logits, y_eval)
    reaches(acc, threshold, "held-out accuracy", prop, hint)
    if checked_steps is not None:
        assert state_dict is not None, "the judge checks steps from the weights it sent"
        replay.expect_adam_steps(result, model=model, start=state_dict, X=X, y=y, lr=train_kwargs["lr"],
                                 epochs=2 * train_kwargs["epochs"], most_steps=checked_steps, prop=prop, hint=STEPS_HINT)
    return acc
