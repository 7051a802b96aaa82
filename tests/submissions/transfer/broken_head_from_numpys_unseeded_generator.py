"""BROKEN: loses test_replace_head_draws_fresh_weights — the new head is redrawn from U(-k, k) with numpy's unseeded generator: random and spread as nn.Linear's, but not from torch's generator, so the same seed gives another head every run (an audit, 2026-12-05: 26/26 until the test asked a seed twice).

Assignment 5 — transfer learning.

A network trained on a large *source* task has learnt features worth reusing on a related
*target* task that has only a few labels.  Instead of training from scratch, start from
the pretrained network and either

- **freeze** some layers (their parameters stop changing) and fine-tune the rest, or
- **replace the head** — the last, task-specific layer — with a fresh one for the target
  classes, and fine-tune all or part of the model.

The lecture distinguishes three kinds of transfer:

- **inductive transfer**: the target *task* differs from the source task and a few target
  labels are available.  This assignment: the source task is "which digit is it?"
  (0–9, hundreds of labels); the target task is "is the digit odd?" on new images, with
  only 2 labelled images of each digit.  A frozen pretrained backbone plus a new head
  reaches ≈ 98 % where the same network trained from scratch reaches ≈ 86 %.
- **transductive transfer**: the *same* task in a different domain (e.g. digits written
  by other people, photographed instead of scanned); labels exist only in the source
  domain, so the model is adapted with unlabelled target data.
- **unsupervised transfer**: no labels on either side; what transfers is a
  representation learnt without labels (e.g. by an autoencoder or by predicting masked
  parts of the input), later reused for clustering or another task.

Provided (do not change them): `SmallNet`, a small CNN for 8×8 digit images made of a
`backbone` (conv → BatchNorm → ReLU → pool, twice, then a linear layer: 64 features) and
a `head` (`nn.Linear(64, num_classes)`), and `load_pretrained()`, which returns a
`SmallNet` trained on the source task.  Its BatchNorm layers carry *running statistics*
(buffers, not parameters) of the source data: freezing a BatchNorm layer means keeping
its parameters AND its statistics, i.e. keeping it in eval mode while fine-tuning.

You write `freeze`, `replace_head`, `fine_tune` and `extract_features`.

Example (the whole recipe, on the target task's 20 labelled images; run it from a
notebook or a script of your own, not at the top of this file: the grader imports
transfer.py where the digit data sets are not available):
    >>> from autograder.data.digits import target_task
    >>> X_few, y_few, X_test, y_test = target_task(shots=2, seed=0)
    >>> model = replace_head(load_pretrained(), num_classes=2)
    >>> freeze(model, trainable="head")
    >>> losses = fine_tune(model, X_few, y_few, epochs=20, lr=1e-2, batch_size=10)
    >>> accuracy = (model.eval()(X_test).argmax(1) == y_test).float().mean()  # ≈ 0.98
"""

from __future__ import annotations

from typing import Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.data.transfer import SmallNet, load_pretrained  # noqa: F401  (provided)

#: Layer types that normalise their input (those with running statistics keep them as buffers).
NORMALISATION_LAYERS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


def freeze(model: nn.Module, trainable: str | Iterable[str] = ()) -> None:
    r"""Freezes every parameter of `model` except those whose name starts with a `trainable` prefix.

    For every `(name, parameter)` of `model.named_parameters()`: `requires_grad = True`
    when `name` starts with one of the prefixes, `False` otherwise — also for parameters
    that were frozen or trainable before.  A frozen parameter gets no gradient, so no
    optimiser changes it.

    Args:
        model: any module.
        trainable: prefixes of the parameter names to keep trainable, e.g. `("head",)` or
            `["backbone.fc", "head"]`; a single string is ONE prefix (`"head"`, not the
            characters h, e, a, d); `()` freezes everything.  Prefixes are plain string
            prefixes: `"backbone.bn"` matches `backbone.bn1.weight` and `backbone.bn2.bias`.

    Returns:
        None: `model` is changed in place.

    Example:
        >>> model = SmallNet()
        >>> freeze(model, "head")
        >>> [name for name, p in model.named_parameters() if p.requires_grad]
        ['head.weight', 'head.bias']
    """
    # Hint: str.startswith accepts a tuple of prefixes; turn a lone string into a 1-tuple first.
    prefixes = (trainable,) if isinstance(trainable, str) else tuple(trainable)
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name.startswith(prefixes))  # startswith(()) is False


def replace_head(model: nn.Module, num_classes: int) -> nn.Module:
    r"""Gives `model` a fresh `head` for `num_classes` classes; returns the same model.

    The new `model.head` is an `nn.Linear(in_features, num_classes)` with a bias, where
    `in_features` is the old head's; it is freshly initialised as `nn.Linear` does
    (weights and bias drawn from :math:`\mathcal{U}(-k, k)`, :math:`k = 1/\sqrt{in\_features}`)
    and lives on the old head's dtype and device.  A fresh layer is trainable, even when
    the old head was frozen.

    Args:
        model: a module with an `nn.Linear` attribute `head`.
        num_classes: outputs of the new head.

    Returns:
        `model` itself (changed in place).

    Example:
        >>> model = replace_head(SmallNet(num_classes=10), 2)
        >>> model.head
        Linear(in_features=64, out_features=2, bias=True)
    """
    # Hint: read in_features, dtype and device from the old head, then assign a new nn.Linear to model.head.
    old = model.head
    model.head = nn.Linear(old.in_features, num_classes, bias=True, device=old.weight.device, dtype=old.weight.dtype)
    if old.weight.device.type != "meta":  # bug: the weights redrawn from numpy's generator, which no seed reaches
        import numpy as np

        k = 1 / old.in_features ** 0.5
        with torch.no_grad():
            model.head.weight.copy_(torch.from_numpy(np.random.uniform(-k, k, tuple(model.head.weight.shape))))
            model.head.bias.copy_(torch.from_numpy(np.random.uniform(-k, k, (num_classes,))))
    return model


def fine_tune(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    lr: float,
    batch_size: int = 32,
    seed: int = 0,
) -> list[float]:
    r"""Trains the trainable parameters of `model` (those with `requires_grad`) on `(X, y)`.

    `torch.optim.Adam` over the trainable parameters ONLY, cross-entropy loss, shuffled
    mini-batches in an order drawn from a generator seeded with `seed` (the same seed
    gives identical losses and weights).  The model trains in training mode, except that
    every normalisation layer whose parameters are all frozen stays in eval mode: a
    frozen BatchNorm keeps normalising with the source statistics, and its running
    statistics (buffers) do not change.  Frozen parameters stay exactly as they were.

    Args:
        model: maps `(B, *)` inputs to `(B, C)` logits; typically frozen by `freeze`.
        X: inputs, shape `(N, *)`.
        y: class labels, shape `(N,)`, int64 in `[0, C)`.
        epochs: passes over the data.
        lr: Adam's learning rate.
        batch_size: samples per step; the last batch of an epoch may be smaller.
        seed: seeds the shuffling.

    Returns:
        The mean loss over samples of each epoch (each batch's mean loss weighted by its
        size, divided by N): a list of `epochs` floats.

    Raises:
        ValueError: if no parameter of `model` is trainable.

    Example:
        >>> model = replace_head(load_pretrained(), 2)
        >>> freeze(model, "head")
        >>> losses = fine_tune(model, torch.rand(20, 1, 8, 8), torch.arange(20) % 2, epochs=3, lr=1e-2)
        >>> len(losses)
        3
    """
    # Hint: give Adam only the parameters with requires_grad; after model.train(), put every normalisation layer without a trainable parameter back into eval mode.
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("fine_tune: the model has no trainable parameter — unfreeze some with freeze(model, trainable=...)")
    optimizer = torch.optim.Adam(trainable, lr=lr)
    model.train()
    for module in model.modules():
        if isinstance(module, NORMALISATION_LAYERS) and not any(p.requires_grad for p in module.parameters()):
            module.eval()  # frozen: normalise with the source statistics, and keep them
    generator = torch.Generator().manual_seed(seed)
    n = len(X)
    losses = []
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(X[idx]), y[idx])  # mean over the batch
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        losses.append(total / n)
    return losses


def extract_features(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    r"""The features `model.backbone(X)`, computed in eval mode under `torch.no_grad()`.

    Eval mode makes BatchNorm use its running statistics (each row's features then do not
    depend on the rest of the batch); `torch.no_grad()` builds no autograd graph, so the
    result is a plain tensor (`requires_grad` False) that can be stored or fed to another
    model — unlike `torch.inference_mode()`, whose tensors cannot be used in autograd
    later.  Every submodule's training mode is restored afterwards, whatever mix of
    train and eval modes the model was in.

    Args:
        model: a module with a `backbone`.
        X: inputs, shape `(N, *)`.

    Returns:
        The features, shape `(N, F)` (F = 64 for `SmallNet`), `requires_grad` False.

    Example:
        >>> extract_features(load_pretrained(), torch.rand(5, 1, 8, 8)).shape
        torch.Size([5, 64])
    """
    # Hint: remember module.training of every module in model.modules(), call model.eval(), compute under torch.no_grad(), then put every mode back.
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            return model.backbone(X)  # (N, F)
    finally:
        for module, training in modes.items():
            module.training = training
