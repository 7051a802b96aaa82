"""CORRECT: one einsum over the concatenated [x, h] and [W_ih | W_hh] for RNN/LSTM, einsum pairs for the GRU, torch.split for gates, the cell called by keyword, norms from retain_grad and a saved-and-restored .grad."""

import torch
import torch.nn as nn


class _Base(nn.Module):
    def __init__(self, input_size, hidden_size, n, bias):
        super().__init__()
        self.H = hidden_size
        k = hidden_size ** -0.5
        self.weight_ih = nn.Parameter(torch.rand(n * hidden_size, input_size) * 2 * k - k)
        self.weight_hh = nn.Parameter(torch.rand(n * hidden_size, hidden_size) * 2 * k - k)
        if bias:
            self.bias_ih = nn.Parameter(torch.rand(n * hidden_size) * 2 * k - k)
            self.bias_hh = nn.Parameter(torch.rand(n * hidden_size) * 2 * k - k)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def fused(self, x, h):
        """x W_ih^T + h W_hh^T (+ both biases) in one product over the concatenated [x, h]."""
        out = torch.einsum("bk,gk->bg", torch.cat([x, h], dim=-1), torch.cat([self.weight_ih, self.weight_hh], dim=-1))
        return out if self.bias_ih is None else out + (self.bias_ih + self.bias_hh)

    def affine(self, x, h):
        gi = torch.einsum("bi,gi->bg", x, self.weight_ih)
        gh = torch.einsum("bh,gh->bg", h, self.weight_hh)
        if self.bias_ih is not None:
            gi, gh = gi + self.bias_ih, gh + self.bias_hh
        return gi, gh

    def zeros(self, x):
        return x.new_zeros(len(x), self.H)


class RNNCell(_Base):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        super().__init__(input_size, hidden_size, 1, bias)
        self.relu = nonlinearity == "relu"

    def forward(self, x, h=None):
        pre = self.fused(x, self.zeros(x) if h is None else h)
        return pre.clamp(min=0) if self.relu else pre.tanh()


class LSTMCell(_Base):
    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__(input_size, hidden_size, 4, bias)

    def forward(self, x, state=None):
        h, c = (self.zeros(x), self.zeros(x)) if state is None else state
        i, f, g, o = torch.split(self.fused(x, h), self.H, dim=-1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        return o.sigmoid() * c.tanh(), c


class GRUCell(_Base):
    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__(input_size, hidden_size, 3, bias)

    def forward(self, x, h=None):
        h = self.zeros(x) if h is None else h
        gi, gh = self.affine(x, h)
        ir, iz, inn = torch.split(gi, self.H, dim=-1)
        hr, hz, hn = torch.split(gh, self.H, dim=-1)
        r = (ir + hr).sigmoid()
        z = (iz + hz).sigmoid()
        return (1 - z) * (inn + r * hn).tanh() + z * h


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, cell="rnn"):
        super().__init__()
        if cell == "lstm":
            self.cell = LSTMCell(input_size, hidden_size)
        elif cell == "gru":
            self.cell = GRUCell(input_size, hidden_size)
        else:
            self.cell = RNNCell(input_size, hidden_size)
        self.hidden_size = hidden_size
        self.kind = cell

    def forward(self, x, state=None):
        outs = []
        for x_t in x.unbind(1):
            if self.kind == "lstm":
                state = self.cell(x_t, state=state)
                outs.append(state[0])
            else:
                state = self.cell(x_t, h=state)
                outs.append(state)
        return torch.stack(outs, dim=1), state


def hidden_state_gradient_norms(model, x):
    saved = {n: (p.grad.clone() if p.grad is not None else None) for n, p in model.named_parameters()}
    with torch.enable_grad():
        hs, state = [], None
        for x_t in x.unbind(1):
            state = model.cell(x_t, state)
            h = state[0] if isinstance(state, tuple) else state
            h.retain_grad()
            hs.append(h)
        hs[-1].sum().backward()
    norms = torch.stack([h.grad.norm() for h in hs]).detach()
    for n, p in model.named_parameters():
        p.grad = saved[n]
    return norms


class SequenceClassifier(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes, cell="lstm"):
        super().__init__()
        self.rnn = RNN(input_size, hidden_size, cell=cell)
        self.readout = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        return self.readout(self.rnn(x)[0][:, -1, :])
