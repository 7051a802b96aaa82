"""CORRECT: one F.linear per gate on row slices, outputs written into a preallocated tensor, the classifier reads last_state, norms as Python floats turned back into a tensor."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def _param(*shape, h):
    return nn.Parameter(torch.empty(*shape).uniform_(-1 / math.sqrt(h), 1 / math.sqrt(h)))


class _Cell(nn.Module):
    gates = 1

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.hidden_size = hidden_size
        g = self.gates * hidden_size
        self.weight_ih = _param(g, input_size, h=hidden_size)
        self.weight_hh = _param(g, hidden_size, h=hidden_size)
        self.bias_ih = _param(g, h=hidden_size) if bias else None
        self.bias_hh = _param(g, h=hidden_size) if bias else None

    def part(self, k, x, h):
        rows = slice(k * self.hidden_size, (k + 1) * self.hidden_size)
        bi = None if self.bias_ih is None else self.bias_ih[rows]
        bh = None if self.bias_hh is None else self.bias_hh[rows]
        return F.linear(x, self.weight_ih[rows], bi), F.linear(h, self.weight_hh[rows], bh)


class RNNCell(_Cell):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        super().__init__(input_size, hidden_size, bias)
        self.act = torch.tanh if nonlinearity == "tanh" else F.relu

    def forward(self, x, h=None):
        h = torch.zeros(x.size(0), self.hidden_size, dtype=x.dtype) if h is None else h
        a, b = self.part(0, x, h)
        return self.act(a + b)


class LSTMCell(_Cell):
    gates = 4

    def forward(self, x, state=None):
        if state is None:
            state = (torch.zeros(x.size(0), self.hidden_size, dtype=x.dtype),) * 2
        h, c = state
        i, f, g, o = (sum(self.part(k, x, h)) for k in range(4))
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c_new), c_new


class GRUCell(_Cell):
    gates = 3

    def forward(self, x, h=None):
        h = torch.zeros(x.size(0), self.hidden_size, dtype=x.dtype) if h is None else h
        (xr, hr), (xz, hz), (xn, hn) = (self.part(k, x, h) for k in range(3))
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        return n + z * (h - n)


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, cell="rnn"):
        super().__init__()
        self.cell = dict(rnn=RNNCell, lstm=LSTMCell, gru=GRUCell)[cell](input_size, hidden_size)

    def forward(self, x, state=None):
        B, T, _ = x.shape
        outputs = x.new_empty(B, T, self.cell.hidden_size)
        for t in range(T):
            state = self.cell(x[:, t, :], state)
            outputs[:, t] = state[0] if isinstance(state, tuple) else state
        return outputs, state


def hidden_state_gradient_norms(model, x):
    hs, state = [], None
    with torch.enable_grad():
        for t in range(x.shape[1]):
            state = model.cell(x[:, t], state)
            hs.append(state[0] if isinstance(state, tuple) else state)
        grads = torch.autograd.grad(hs[-1].sum(), hs, retain_graph=False)
    return torch.tensor([g.pow(2).sum().sqrt().item() for g in grads], dtype=x.dtype)


class SequenceClassifier(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes, cell="lstm"):
        super().__init__()
        self.rnn = RNN(input_size, hidden_size, cell)
        self.readout = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        _, state = self.rnn(x)
        h = state[0] if isinstance(state, tuple) else state
        return self.readout(h)
