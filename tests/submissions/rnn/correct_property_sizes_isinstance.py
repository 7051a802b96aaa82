"""CORRECT: cell sizes as read-only properties derived from the weights, and the RNN reads h from
the state by `isinstance(self.cell, LSTMCell)` — the trusted cell put in its place must stay an
instance of the student's class, its own sizes winning over the properties; unrolled with
functools.reduce into a tuple of states; norms with autograd.grad and explicit grad_outputs."""
import functools
import math

import torch
import torch.nn as nn


class _Base(nn.Module):
    gates = 1

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        k = 1.0 / math.sqrt(hidden_size)
        rows = self.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size).uniform_(-k, k))
        self.weight_hh = nn.Parameter(torch.empty(rows, hidden_size).uniform_(-k, k))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(rows).uniform_(-k, k))
            self.bias_hh = nn.Parameter(torch.empty(rows).uniform_(-k, k))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    @property
    def input_size(self):
        return self.weight_ih.shape[1]

    @property
    def hidden_size(self):
        return self.weight_hh.shape[1]

    def _zeros(self, x):
        return x.new_zeros(x.shape[0], self.hidden_size)

    def _gi_gh(self, x, h):
        gi, gh = x @ self.weight_ih.T, h @ self.weight_hh.T
        if self.bias_ih is not None:
            gi, gh = gi + self.bias_ih, gh + self.bias_hh
        return gi, gh


class RNNCell(_Base):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def forward(self, x, h=None):
        gi, gh = self._gi_gh(x, self._zeros(x) if h is None else h)
        return torch.tanh(gi + gh) if self.nonlinearity == "tanh" else torch.relu(gi + gh)


class LSTMCell(_Base):
    gates = 4

    def forward(self, x, state=None):
        if state is None:
            state = (self._zeros(x), self._zeros(x))
        h, c = state
        gi, gh = self._gi_gh(x, h)
        i, f, g, o = (gi + gh).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class GRUCell(_Base):
    gates = 3

    def forward(self, x, h=None):
        h = self._zeros(x) if h is None else h
        gi, gh = self._gi_gh(x, h)
        H = self.hidden_size
        r = torch.sigmoid(gi[:, :H] + gh[:, :H])
        z = torch.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        return (1 - z) * n + z * h


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, cell="rnn"):
        super().__init__()
        self.cell = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}[cell](input_size, hidden_size)

    def _hidden(self, state):
        return state[0] if isinstance(self.cell, LSTMCell) else state

    def _unroll(self, x, state=None):
        def step(states, x_t):
            return states + (self.cell(x_t, states[-1] if states else state),)
        return functools.reduce(step, x.unbind(dim=1), ())

    def forward(self, x, state=None):
        states = self._unroll(x, state)
        return torch.stack([self._hidden(s) for s in states], dim=1), states[-1]


def hidden_state_gradient_norms(model, x):
    with torch.enable_grad():
        hs = [model._hidden(s) for s in model._unroll(x)]
        grads = torch.autograd.grad(outputs=[hs[-1]], inputs=hs, grad_outputs=[torch.ones_like(hs[-1])])
    return torch.stack([g.pow(2).sum().sqrt() for g in grads]).detach().to(x.dtype)


class SequenceClassifier(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes, cell="lstm"):
        super().__init__()
        self.rnn = RNN(input_size, hidden_size, cell=cell)
        self.readout = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        outputs, _ = self.rnn(x)
        return self.readout(outputs[:, x.size(1) - 1])
