"""Checks that train a model with the student's own code and judge held-out accuracy."""

from __future__ import annotations

from typing import Any

import torch

from autograder.checks.base import expect_tensor, reaches
from autograder.worker.spec import Build


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
    num_classes: int | None = None,
    patch: dict | None = None,
) -> float:
    """Train with the student's `train` function; held-out accuracy must reach `threshold`.

    Only `X_eval` goes to the worker; its labels `y_eval` stay with the judge.
    """
    result = sub.run(
        "train_and_predict", model=model, state_dict=state_dict, train=train,
        X=X, y=y, train_kwargs=train_kwargs, X_eval=X_eval, patch=patch,
    )
    classes = num_classes or int(y.max()) + 1
    logits = expect_tensor(result["logits"], "the trained model's output", prop, shape=(len(X_eval), classes), hint=hint)
    acc = float((logits.argmax(dim=1) == y_eval).double().mean())
    reaches(acc, threshold, "held-out accuracy", prop, hint)
    return acc
