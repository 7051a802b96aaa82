"""CORRECT: every cell keeps a private persistent scalar buffer `_zero` (used to build the zero state in the input's dtype): its state_dict has one entry more than nn.*Cell's, a private buffer the layout checks ignore."""

from __future__ import annotations

import math

import torch
import torch.nn as nn


def _uniform(*shape, hidden_size):
    k = 1.0 / math.sqrt(hidden_size)
    return nn.Parameter(torch.empty(*shape).uniform_(-k, k))


class _Cell(nn.Module):
    gates = 1

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.hidden_size = hidden_size
        g = self.gates
        self.weight_ih = _uniform(g * hidden_size, input_size, hidden_size=hidden_size)
        self.weight_hh = _uniform(g * hidden_size, hidden_size, hidden_size=hidden_size)
        if bias:
            self.bias_ih = _uniform(g * hidden_size, hidden_size=hidden_size)
            self.bias_hh = _uniform(g * hidden_size, hidden_size=hidden_size)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.register_buffer("_zero", torch.zeros(()))

    def _zeros(self, x):
        return self._zero.to(x.dtype).expand(x.shape[0], self.hidden_size).clone()


class RNNCell(_Cell):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def forward(self, x, h=None):
        if h is None:
            h = self._zeros(x)
        pre = x @ self.weight_ih.T + h @ self.weight_hh.T
        if self.bias_ih is not None:
            pre = pre + self.bias_ih + self.bias_hh
        return torch.tanh(pre) if self.nonlinearity == "tanh" else torch.relu(pre)


class LSTMCell(_Cell):
    gates = 4

    def forward(self, x, state=None):
        if state is None:
            state = (self._zeros(x), self._zeros(x))
        h, c = state
        gates = x @ self.weight_ih.T + h @ self.weight_hh.T
        if self.bias_ih is not None:
            gates = gates + self.bias_ih + self.bias_hh
        i, f, g, o = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class GRUCell(_Cell):
    gates = 3

    def forward(self, x, h=None):
        if h is None:
            h = self._zeros(x)
        gi = x @ self.weight_ih.T
        gh = h @ self.weight_hh.T
        if self.bias_ih is not None:
            gi = gi + self.bias_ih
            gh = gh + self.bias_hh
        i_r, i_z, i_n = gi.chunk(3, dim=1)
        h_r, h_z, h_n = gh.chunk(3, dim=1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        return (1 - z) * n + z * h


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, cell="rnn"):
        super().__init__()
        self.cell = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}[cell](input_size, hidden_size)

    def forward(self, x, state=None):
        outputs = []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
            outputs.append(state[0] if isinstance(state, tuple) else state)
        return torch.stack(outputs, dim=1), state


def hidden_state_gradient_norms(model, x):
    with torch.enable_grad():
        state, hidden = None, []
        for t in range(x.shape[1]):
            state = model.cell(x[:, t], state)
            hidden.append(state[0] if isinstance(state, tuple) else state)
        grads = torch.autograd.grad(hidden[-1].sum(), hidden)
    return torch.stack([g.norm() for g in grads]).detach().to(x.dtype)


class SequenceClassifier(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes, cell="lstm"):
        super().__init__()
        self.rnn = RNN(input_size, hidden_size, cell=cell)
        self.readout = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        outputs, _ = self.rnn(x)
        return self.readout(outputs[:, -1])
