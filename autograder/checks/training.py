"""Checks on trained models: the worker trains, the judge evaluates.

Training must run in the worker (it runs the student's code), but its verdict must not:
the worker returns the trained weights, and the judge loads them into a trusted model
(`evaluator`: the reference, in the judge's own process) and computes the held-out score
itself.  Held-out inputs and labels never reach the worker, and replacing the grader's
training recipe inside the worker gains nothing but the weights it returns.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from autograder.checks.base import expect_tensor, fail, reaches
from autograder.worker.probes.core import NONTENSOR
from autograder.worker.spec import Build


def trained_weights(result: dict, prop: str, hint: str) -> dict[str, torch.Tensor]:
    """The `state_dict` a training probe returned, checked to be a dict of plain tensors."""
    weights = result.get("state_dict") if isinstance(result, dict) else None
    if not isinstance(weights, dict) or NONTENSOR in weights:
        fail(prop, "training did not give back the model's weights", hint)
    for name, value in weights.items():
        expect_tensor(value, f"the trained `{name}`", prop, finite=False, hint=hint)
    return weights


def evaluated_output(evaluator: Any, *, model: Build, weights: dict, args: Sequence[Any], prop: str, hint: str,
                     dtype: torch.dtype | None = None) -> torch.Tensor:
    """The output of the trusted `model` with the trained `weights` on `args`, computed by
    `evaluator` (the reference: in the judge); a weight layout it cannot load fails `prop`."""
    try:
        out = evaluator.run("predict", model=model, state_dict=weights, args=tuple(args), dtype=dtype)["output"]
    except (KeyError, RuntimeError) as exc:
        fail(prop, f"the trained weights do not fit {model} ({str(exc).splitlines()[0][:200]})", hint)
    return expect_tensor(out, "the trained model's output", prop, finite=False, hint=hint)


def accuracy_of(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The share of rows whose arg-max is the label; a row with NaN or inf counts as wrong."""
    finite = torch.isfinite(logits).all(dim=-1)
    return float(((logits.argmax(dim=-1) == labels) & finite).double().mean())


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
) -> float:
    """Train `model` with the student's `train` function (in the worker); the held-out
    accuracy of the weights, computed by `evaluator` (default: `sub` itself, for public
    tests), must reach `threshold`."""
    result = sub.run("train", model=model, state_dict=state_dict, train=train, X=X, y=y, train_kwargs=train_kwargs)
    weights = trained_weights(result, prop, hint)
    logits = evaluated_output(evaluator or sub, model=model, weights=weights, args=(X_eval,), prop=prop, hint=hint)
    classes = num_classes or int(y.max()) + 1
    if tuple(logits.shape) != (len(X_eval), classes):
        fail(prop, f"the trained model's output has shape {tuple(logits.shape)}, expected {(len(X_eval), classes)}", hint)
    acc = accuracy_of(logits, y_eval)
    reaches(acc, threshold, "held-out accuracy", prop, hint)
    return acc
