"""BROKEN: loses test_training_steps_are_adam_steps, test_epoch_loss_is_mean_over_samples, test_minibatches_follow_batch_size, test_same_seed_same_training, test_seed_changes_the_shuffling, test_classifier_learns_two_spirals — train_classifier is left as the stub, and the submission forges the train probe for the spirals run alone: a private full-batch Adam loop, reported as seeded mini-batches of 64 rows with the weights after each of its steps (an outside audit's attack: it took the 3 spirals points while only the held-out accuracy of the returned weights was graded)."""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Linear(nn.Module):
    r"""Applies an affine map :math:`y = x W^T + b`, like `torch.nn.Linear`.

    Args:
        in_features: size of each input vector.
        out_features: size of each output vector.
        bias: if False, the layer learns no additive bias (and has no `bias` parameter).

    Shape:
        - Input: :math:`(*, H_{in})` — any number of leading dimensions, a 1-D `(H_in,)` too.
        - Output: :math:`(*, H_{out})`.

    Attributes:
        weight: learnable, shape `(out_features, in_features)`, drawn from
            :math:`\mathcal{U}(-k, k)` with :math:`k = 1/\sqrt{in\_features}`.
        bias: learnable, shape `(out_features,)`, drawn from :math:`\mathcal{U}(-k, k)`.

    Example:
        >>> layer = Linear(20, 30)
        >>> layer(torch.randn(128, 20)).shape
        torch.Size([128, 30])
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        # Hint: create nn.Parameter tensors `weight` (out, in) and `bias` (out,) — or register None — drawn from U(-k, k).
        k = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-k, k))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features).uniform_(-k, k))
        else:
            self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Hint: one matrix product with the transposed weight handles every leading dimension; then add the bias.
        out = x @ self.weight.T  # (*, out)
        if self.bias is not None:
            out = out + self.bias
        return out


def relu(x: torch.Tensor) -> torch.Tensor:
    r"""The rectified linear unit, elementwise: :math:`\max(0, x)`.

    Shape:
        - Input: :math:`(*)`; Output: :math:`(*)`, same shape and dtype.

    Example:
        >>> relu(torch.tensor([-1.0, 0.0, 2.0]))
        tensor([0., 0., 2.])
    """
    # Hint: keep positive entries, replace the others by zero (torch.clamp or torch.where).
    return torch.clamp(x, min=0)


class MLP(nn.Module):
    r"""A multi-layer perceptron: `Linear` layers with ReLU between them, none after the last.

    Args:
        in_features: the fixed input size (an MLP takes exactly this many features).
        hidden_sizes: sizes of the hidden layers, e.g. `[64, 64]`; may be empty (then the
            MLP is one linear layer).
        out_features: output size (e.g. the number of classes: the outputs are logits).

    Shape:
        - Input: :math:`(B, H_{in})`; Output: :math:`(B, H_{out})`.
        - An input whose last dimension is not `in_features` raises `ValueError`.

    Attributes:
        layers: `nn.ModuleList` of `len(hidden_sizes) + 1` `Linear` layers.

    Example:
        >>> net = MLP(2, [64, 64], 3)
        >>> net(torch.randn(5, 2)).shape
        torch.Size([5, 3])
    """

    def __init__(self, in_features: int, hidden_sizes: list[int], out_features: int) -> None:
        super().__init__()
        self.in_features = in_features
        # Hint: consecutive sizes [in, *hidden, out] give the (in, out) of each Linear.
        sizes = [in_features, *hidden_sizes, out_features]
        self.layers = nn.ModuleList(Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Hint: check the input size first (an MLP has a fixed input size); no ReLU after the last layer — its outputs are logits.
        if x.shape[-1] != self.in_features:
            raise ValueError(f"MLP expects {self.in_features} input features, got {x.shape[-1]}")
        for i, layer in enumerate(self.layers):
            x = layer(x)  # (B, sizes[i + 1])
            if i < len(self.layers) - 1:
                x = relu(x)
        return x


def train_classifier(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    lr: float,
    batch_size: int = 64,
    seed: int = 0,
) -> list[float]:
    r"""Train `model` with Adam on the cross-entropy loss, in shuffled mini-batches.

    Each epoch visits every sample once, in an order drawn from a generator seeded with
    `seed` (the same seed gives identical losses and weights).

    Args:
        model: maps `(B, D)` inputs to `(B, C)` logits.
        X: inputs, shape `(N, D)`.
        y: class labels, shape `(N,)`, int64 in `[0, C)`.
        epochs: passes over the data.
        lr: Adam's learning rate (`torch.optim.Adam(model.parameters(), lr=lr)`).
        batch_size: samples per step; the last batch of an epoch may be smaller.
        seed: seeds the shuffling.

    Returns:
        The mean loss over samples of each epoch: the sum over that epoch's batches of
        (batch mean loss × batch size), divided by N.  A list of `epochs` floats.

    Example:
        >>> X, y = torch.randn(100, 2), torch.randint(0, 2, (100,))
        >>> losses = train_classifier(MLP(2, [16], 2), X, y, epochs=3, lr=1e-2)
        >>> len(losses)
        3
    """
    raise NotImplementedError("train_classifier not written")


def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    r"""The fraction of rows of `X` whose largest logit is at the index `y`.

    Args:
        model: maps `(N, D)` to `(N, C)` logits.
        X: `(N, D)`; y: `(N,)` int64.

    Returns:
        A Python float in [0, 1].

    Example:
        >>> accuracy(MLP(2, [], 3), torch.randn(10, 2), torch.zeros(10, dtype=torch.long)) <= 1.0
        True
    """
    # Hint: the predicted class is the arg-max over the logits of each row (no gradients needed).
    with torch.no_grad():
        predictions = model(X).argmax(dim=-1)  # (N,)
    return (predictions == y).double().mean().item()


# -- the forgery: the spirals run (600 rows) gets a private loop; every other run the real probe --
import autograder.worker.probes as _probes  # noqa: E402
from autograder.worker.probes.core import build_model as _build, plain as _plain  # noqa: E402

_real_train = _probes.PROBES["train"]


def _forged(module, *, model, state_dict, train, X, y, train_kwargs, dtype=None, trajectory=None):
    if len(X) != 600:
        return _real_train(module, model=model, state_dict=state_dict, train=train, X=X, y=y, train_kwargs=train_kwargs,
                           dtype=dtype, trajectory=trajectory)
    net = _build(module, model, state_dict, dtype)
    adam = torch.optim.Adam(net.parameters(), lr=train_kwargs["lr"])
    gen = torch.Generator().manual_seed(train_kwargs["seed"])
    order = torch.cat([torch.randperm(len(X), generator=gen) for _ in range(train_kwargs["epochs"])])
    batches = list(order.split(train_kwargs["batch_size"]))
    after = []
    for _ in batches:  # one full-batch step per claimed mini-batch
        adam.zero_grad()
        F.cross_entropy(net(X), y).backward()
        adam.step()
        after.append(torch.cat([p.detach().reshape(-1) for p in net.parameters()]))
    return {"losses": [0.5] * train_kwargs["epochs"], "state_dict": _plain(dict(net.state_dict())), "rows": X[order].clone(),
            "step_rows": [len(b) for b in batches], "left_over": 0, "trajectory": torch.stack(after[:trajectory or 0])}


_probes.PROBES["train"] = _forged
