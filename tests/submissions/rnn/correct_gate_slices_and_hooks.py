"""CORRECT: one F.linear per gate on slices of the weights, outputs written into a preallocated tensor, norms from tensor hooks, a dict of cell classes (an outside audit's style)."""
from __future__ import annotations
import math
import torch
import torch.nn as nn
import torch.nn.functional as F


class _CellBase(nn.Module):
    GATES = 1

    def _make(self, input_size, hidden_size, bias):
        G = self.GATES
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(G * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(G * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(G * hidden_size)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(G * hidden_size)) if bias else None
        bound = 1 / math.sqrt(hidden_size)
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-bound, bound)

    def _part(self, which, k):
        """k-th gate block of weight/bias `which` (ih or hh)."""
        H = self.hidden_size
        w = getattr(self, "weight_" + which)[k * H:(k + 1) * H]
        b = getattr(self, "bias_" + which)
        return w, (None if b is None else b[k * H:(k + 1) * H])

    def _gate_in(self, x, k):
        w, b = self._part("ih", k)
        return F.linear(x, w, b)

    def _gate_h(self, h, k):
        w, b = self._part("hh", k)
        return F.linear(h, w, b)

    def _zeros(self, x):
        return torch.zeros(x.size(0), self.hidden_size, dtype=x.dtype, device=x.device)


class RNNCell(_CellBase):
    GATES = 1

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        super().__init__()
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"unknown nonlinearity {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self._make(input_size, hidden_size, bias)

    def forward(self, x, h=None):
        h = self._zeros(x) if h is None else h
        act = torch.tanh if self.nonlinearity == "tanh" else F.relu
        return act(self._gate_in(x, 0) + self._gate_h(h, 0))


class LSTMCell(_CellBase):
    GATES = 4

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self._make(input_size, hidden_size, bias)

    def forward(self, x, state=None):
        if state is None:
            h_prev = self._zeros(x)
            c_prev = self._zeros(x)
        else:
            h_prev, c_prev = state
        pre = [self._gate_in(x, k) + self._gate_h(h_prev, k) for k in range(4)]
        i_gate = torch.sigmoid(pre[0])
        f_gate = torch.sigmoid(pre[1])
        g_cand = torch.tanh(pre[2])
        o_gate = torch.sigmoid(pre[3])
        c_new = f_gate * c_prev + i_gate * g_cand
        h_new = o_gate * torch.tanh(c_new)
        return h_new, c_new


class GRUCell(_CellBase):
    GATES = 3

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self._make(input_size, hidden_size, bias)

    def forward(self, x, h=None):
        h = self._zeros(x) if h is None else h
        r = torch.sigmoid(self._gate_in(x, 0) + self._gate_h(h, 0))
        z = torch.sigmoid(self._gate_in(x, 1) + self._gate_h(h, 1))
        n = torch.tanh(self._gate_in(x, 2) + r * self._gate_h(h, 2))
        return (1 - z) * n + z * h


CELLS = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, cell="rnn"):
        super().__init__()
        self.input_size, self.hidden_size, self.kind = input_size, hidden_size, cell
        self.cell = CELLS[cell](input_size, hidden_size)

    def forward(self, x, state=None):
        B, T, _ = x.shape
        out = x.new_empty(B, T, self.hidden_size)
        for t in range(T):
            state = self.cell(x[:, t, :], state)
            out[:, t] = state[0] if self.kind == "lstm" else state
        return out, state


def hidden_state_gradient_norms(model, x):
    T = x.shape[1]
    norms = torch.zeros(T, dtype=x.dtype)
    store = {}

    def hook_for(t):
        def hook(g):
            store[t] = g.detach().norm()
        return hook

    hs = []
    state = None
    with torch.enable_grad():
        for t in range(T):
            state = model.cell(x[:, t], state)
            h = state[0] if isinstance(state, tuple) else state
            h.register_hook(hook_for(t))
            hs.append(h)
        torch.autograd.grad(hs[-1].sum(), hs[0])
    for t, v in store.items():
        norms[t] = v
    return norms


class SequenceClassifier(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes, cell="lstm"):
        super().__init__()
        self.rnn = RNN(input_size, hidden_size, cell)
        self.readout = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        _, last = self.rnn(x)
        h = last[0] if isinstance(last, tuple) else last
        return self.readout(h)
