"""CORRECT: names bound at import time (a layer table, functools.partial, an aliased relu as a default argument, `from torch import ...`), private attributes and helpers, no in_features attributes."""

import functools
import math

from torch import Generator, Tensor, empty, no_grad, randperm, tensordot
from torch.nn import Module, Parameter, Sequential
from torch.nn.functional import cross_entropy
from torch.optim import Adam


class Linear(Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self._bound = 1 / math.sqrt(in_features)
        self.weight = Parameter(empty(out_features, in_features))
        self.bias = Parameter(empty(out_features)) if bias else None
        self._reset()

    def _reset(self):
        with no_grad():
            self.weight.uniform_(-self._bound, self._bound)
            if self.bias is not None:
                self.bias.uniform_(-self._bound, self._bound)

    def forward(self, x):
        out = tensordot(x, self.weight, dims=([-1], [1]))
        return out if self.bias is None else out + self.bias


def relu(x):
    return x.clamp(min=0)


_activation = relu
_LAYERS = {"dense": Linear}
_dense = functools.partial(_LAYERS["dense"], bias=True)


class MLP(Module):
    def __init__(self, in_features, hidden_sizes, out_features, _make=_dense):
        super().__init__()
        self._n_in = in_features
        widths = [in_features, *hidden_sizes, out_features]
        self.layers = Sequential(*[_make(a, b) for a, b in zip(widths, widths[1:])])

    def _check(self, x: Tensor) -> None:
        if x.shape[-1] != self._n_in:
            raise ValueError(f"expected {self._n_in} features, got {x.shape[-1]}")

    def forward(self, x, act=_activation):
        self._check(x)
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x)
            x = x if i == last else act(x)
        return x


def _batches(n, size, generator):
    order = randperm(n, generator=generator)
    return [order[i:i + size] for i in range(0, n, size)]


def train_classifier(model, X, y, *, epochs, lr, batch_size=64, seed=0):
    optimiser = Adam(model.parameters(), lr=lr)
    generator = Generator().manual_seed(seed)
    history = []
    for _ in range(epochs):
        running = 0.0
        for batch in _batches(len(X), batch_size, generator):
            optimiser.zero_grad(set_to_none=True)
            loss = cross_entropy(model(X[batch]), y[batch])
            loss.backward()
            optimiser.step()
            running += float(loss.detach()) * batch.numel()
        history.append(running / len(X))
    return history


def accuracy(model, X, y):
    with no_grad():
        hits = model(X).argmax(-1).eq(y)
    return hits.sum().item() / hits.numel()
