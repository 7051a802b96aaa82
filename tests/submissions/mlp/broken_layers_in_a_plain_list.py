"""BROKEN: loses test_mlp_layers_follow_sizes, test_mlp_matches_reference, test_mlp_maps_any_batch_size, test_every_mlp_parameter_gets_a_gradient — `layers` is a Python list, not an nn.ModuleList: the MLP registers no layer, so it has no parameters to train or compare (an audit, 2026-12-05: the message said the MLP had no `layers` list at all)."""

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
        ### BEGIN SOLUTION
        k = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-k, k))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features).uniform_(-k, k))
        else:
            self.register_parameter("bias", None)
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Hint: one matrix product with the transposed weight handles every leading dimension; then add the bias.
        ### BEGIN SOLUTION
        out = x @ self.weight.T  # (*, out)
        if self.bias is not None:
            out = out + self.bias
        return out
        ### END SOLUTION


def relu(x: torch.Tensor) -> torch.Tensor:
    r"""The rectified linear unit, elementwise: :math:`\max(0, x)`.

    Shape:
        - Input: :math:`(*)`; Output: :math:`(*)`, same shape and dtype.

    Example:
        >>> relu(torch.tensor([-1.0, 0.0, 2.0]))
        tensor([0., 0., 2.])
    """
    # Hint: keep positive entries, replace the others by zero (torch.clamp or torch.where).
    ### BEGIN SOLUTION
    return torch.clamp(x, min=0)
    ### END SOLUTION


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
        ### BEGIN SOLUTION
        sizes = [in_features, *hidden_sizes, out_features]
        self.layers = [Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]  # bug: a plain list registers nothing
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Hint: check the input size first (an MLP has a fixed input size); no ReLU after the last layer — its outputs are logits.
        ### BEGIN SOLUTION
        if x.shape[-1] != self.in_features:
            raise ValueError(f"MLP expects {self.in_features} input features, got {x.shape[-1]}")
        for i, layer in enumerate(self.layers):
            x = layer(x)  # (B, sizes[i + 1])
            if i < len(self.layers) - 1:
                x = relu(x)
        return x
        ### END SOLUTION


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
    # Hint: zero the gradients before every backward pass, and weight each batch's mean loss by its size.
    ### BEGIN SOLUTION
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
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
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    with torch.no_grad():
        predictions = model(X).argmax(dim=-1)  # (N,)
    return (predictions == y).double().mean().item()
    ### END SOLUTION
