"""CORRECT: stage lambdas bind each layer by a default argument (an outside audit's, 2026-12-04: the grader's trusted layers were not put where the lambdas held the student's, 20/23).

MLP: the MLP precomputes its forward as a private list of stage functions in __init__ — one
lambda per layer that binds the layer by a default argument (`lambda x, layer=layer: ...`) —
and runs them in order; otherwise the reference's style."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Linear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        k = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-k, k))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features).uniform_(-k, k))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        out = x @ self.weight.T
        return out if self.bias is None else out + self.bias


def relu(x):
    return torch.clamp(x, min=0)


class MLP(nn.Module):
    def __init__(self, in_features, hidden_sizes, out_features):
        super().__init__()
        self.in_features = in_features
        sizes = [in_features, *hidden_sizes, out_features]
        self.layers = nn.ModuleList(Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        last = len(self.layers) - 1
        self._stages = [
            (lambda x, layer=layer: layer(x)) if i == last else (lambda x, layer=layer: relu(layer(x)))
            for i, layer in enumerate(self.layers)
        ]

    def forward(self, x):
        if x.shape[-1] != self.in_features:
            raise ValueError(f"MLP expects {self.in_features} input features, got {x.shape[-1]}")
        for stage in self._stages:
            x = stage(x)
        return x


def train_classifier(model, X, y, *, epochs, lr, batch_size=64, seed=0):
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
            loss = F.cross_entropy(model(X[idx]), y[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        losses.append(total / n)
    return losses


def accuracy(model, X, y):
    with torch.no_grad():
        predictions = model(X).argmax(dim=-1)
    return (predictions == y).double().mean().item()
