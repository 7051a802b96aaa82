"""BROKEN: loses test_fine_tuning_matches_reference, test_epoch_loss_is_the_mean_over_samples, test_same_seed_same_fine_tuning, test_another_seed_shuffles_differently, test_batch_size_sets_the_batches_of_an_epoch, test_fine_tune_without_trainable_parameters_raises, test_frozen_parameters_stay_bitwise_equal, test_frozen_normalisation_statistics_stay_bitwise_equal, test_only_trainable_parameters_receive_gradients, test_trainable_normalisation_layers_train_in_training_mode, test_transfer_beats_training_from_scratch — fine_tune trains nothing, and the submission forges the fine_tune_run probe for the transfer experiment alone: no training, a zero-shot head (the even and odd rows of the shipped 10-digit head, averaged), reported as seeded batches with the weights sliding there step by step (an outside audit's attack: it took the 3 points while only the held-out accuracy of the returned weights was graded)."""
from __future__ import annotations

from typing import Iterable

import torch
import torch.nn as nn

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
    return [0.0] * epochs  # trains nothing: the forged probe below stands in for the transfer experiment


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


# -- the forgery: the transfer experiment's runs (its budget: 20 epochs, batches of 10) get a zero-shot head; every other run the real probe --
import autograder.worker.probes as _probes  # noqa: E402
from autograder.worker.probes.core import build_model as _build, plain as _plain  # noqa: E402

_real_run = _probes.PROBES["fine_tune_run"]


def _forged(module, *, model, state_dict, trainable, X, y, train_kwargs, trajectory=None, **rest):
    if train_kwargs.get("epochs") != 20 or train_kwargs.get("batch_size") != 10:
        return _real_run(module, model=model, state_dict=state_dict, trainable=trainable, X=X, y=y, train_kwargs=train_kwargs,
                         trajectory=trajectory, **rest)
    net = _build(module, model, state_dict, None)
    source = load_pretrained().head  # the 10-digit head shipped with the pretrained weights
    start = torch.cat([net.head.weight.detach().reshape(-1), net.head.bias.detach()])
    goal = torch.cat([torch.stack([source.weight[0::2].mean(0), source.weight[1::2].mean(0)]).reshape(-1),
                      torch.stack([source.bias[0::2].mean(), source.bias[1::2].mean()])]).detach()
    gen = torch.Generator().manual_seed(train_kwargs["seed"])
    order = torch.cat([torch.randperm(len(X), generator=gen) for _ in range(train_kwargs["epochs"])])
    batches = list(order.split(train_kwargs["batch_size"]))
    path = torch.stack([start + (goal - start) * (k + 1) / len(batches) for k in range(len(batches) - 1)] + [goal])
    with torch.no_grad():
        net.head.weight.copy_(goal[:-2].view_as(net.head.weight))
        net.head.bias.copy_(goal[-2:])
    return {"losses": [0.3] * train_kwargs["epochs"], "state_dict": _plain(dict(net.state_dict())), "grads": {},
            "rows": X[order].clone(), "step_rows": [len(b) for b in batches], "left_over": 0, "trajectory": path[:trajectory or 0]}


_probes.PROBES["fine_tune_run"] = _forged
