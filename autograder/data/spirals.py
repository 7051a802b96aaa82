"""Two interleaved spirals: a 2-D, two-class data set that no linear model can solve."""

from __future__ import annotations

import math

import torch


def two_spirals(n_per_class: int = 500, *, noise: float = 0.06, turns: float = 1.5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Points on two spirals, class 0 and class 1, rotated by half a turn from each other.

    Args:
        n_per_class: points per spiral.
        noise: standard deviation of the Gaussian noise added to every point.
        turns: how many times each spiral winds around the origin.
        seed: the same seed gives the same points.

    Shape:
        - X: (2 * n_per_class, 2), float32, roughly within [-1.2, 1.2]
        - y: (2 * n_per_class,), int64 in {0, 1}

    Example:
        >>> X, y = two_spirals(100, seed=0)
        >>> X.shape, y.shape
        (torch.Size([200, 2]), torch.Size([200]))
    """
    gen = torch.Generator().manual_seed(seed)
    t = torch.sqrt(torch.rand(n_per_class, generator=gen)) * turns * 2 * math.pi  # (n,)
    radius = t / (turns * 2 * math.pi)
    arms = []
    for k in range(2):
        angle = t + k * math.pi
        xy = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)  # (n, 2)
        arms.append(xy + noise * radius[:, None] * torch.randn(n_per_class, 2, generator=gen) + 0.02 * torch.randn(n_per_class, 2, generator=gen))
    X = torch.cat(arms).float()
    y = torch.cat([torch.zeros(n_per_class), torch.ones(n_per_class)]).long()
    perm = torch.randperm(2 * n_per_class, generator=gen)
    return X[perm], y[perm]
