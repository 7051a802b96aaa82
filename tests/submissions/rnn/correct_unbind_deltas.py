"""CORRECT: torch.addmm and torch.unbind, cells made by closures with the class bound in a default argument, the state's kind read from the state itself, norms from zero perturbations added to each h_t, the classifier reading last_state."""

import math

import torch
import torch.nn as nn


def _init(module, gates, input_size, hidden_size, bias):
    k = 1.0 / math.sqrt(hidden_size)
    for name, shape in (("weight_ih", (gates * hidden_size, input_size)), ("weight_hh", (gates * hidden_size, hidden_size)),
                        ("bias_ih", (gates * hidden_size,)), ("bias_hh", (gates * hidden_size,))):
        if name.startswith("bias") and not bias:
            module.register_parameter(name, None)
        else:
            setattr(module, name, nn.Parameter(torch.empty(shape).uniform_(-k, k)))


def _lin(x, weight, bias):
    return x @ weight.T if bias is None else torch.addmm(bias, x, weight.T)


class RNNCell(nn.Module):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        super().__init__()
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(nonlinearity)
        self.hidden_size, self.nonlinearity = hidden_size, nonlinearity
        _init(self, 1, input_size, hidden_size, bias)

    def forward(self, x, h=None):
        pre = _lin(x, self.weight_ih, self.bias_ih)
        if h is not None:
            pre = pre + _lin(h, self.weight_hh, self.bias_hh)
        elif self.bias_hh is not None:
            pre = pre + self.bias_hh
        return torch.tanh(pre) if self.nonlinearity == "tanh" else torch.relu(pre)


class LSTMCell(nn.Module):
    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.hidden_size = hidden_size
        _init(self, 4, input_size, hidden_size, bias)

    def forward(self, x, state=None):
        if state is None:
            h = c = x.new_zeros(len(x), self.hidden_size)
        else:
            h, c = state
        gates = _lin(x, self.weight_ih, self.bias_ih) + _lin(h, self.weight_hh, self.bias_hh)
        i, f, g, o = torch.chunk(gates, 4, dim=-1)
        c_new = torch.addcmul(torch.sigmoid(f) * c, torch.sigmoid(i), torch.tanh(g))
        return torch.sigmoid(o) * torch.tanh(c_new), c_new


class GRUCell(nn.Module):
    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.hidden_size = hidden_size
        _init(self, 3, input_size, hidden_size, bias)

    def forward(self, x, h=None):
        if h is None:
            h = x.new_zeros(len(x), self.hidden_size)
        gx = torch.chunk(_lin(x, self.weight_ih, self.bias_ih), 3, dim=-1)
        gh = torch.chunk(_lin(h, self.weight_hh, self.bias_hh), 3, dim=-1)
        r = torch.sigmoid(gx[0] + gh[0])
        z = torch.sigmoid(gx[1] + gh[1])
        n = torch.tanh(gx[2] + r * gh[2])
        return torch.lerp(n, h, z)


def _maker(cls):
    return lambda input_size, hidden_size, _cls=cls: _cls(input_size, hidden_size)


_MAKE = {kind: _maker(cls) for kind, cls in (("rnn", RNNCell), ("lstm", LSTMCell), ("gru", GRUCell))}


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, cell="rnn"):
        super().__init__()
        self.cell = _MAKE[cell](input_size, hidden_size)

    def forward(self, x, state=None):
        hs = []
        for x_t in torch.unbind(x, dim=1):
            state = self.cell(x_t, state)
            hs.append(state[0] if type(state) is tuple else state)
        return torch.stack(hs, dim=1), state


def hidden_state_gradient_norms(model, x):
    batch, steps = x.shape[:2]
    size = model.cell.weight_hh.shape[1]
    deltas = [torch.zeros(batch, size, dtype=x.dtype, requires_grad=True) for _ in range(steps)]
    state = None
    for t in range(steps):
        state = model.cell(x[:, t], state)
        state = (state[0] + deltas[t], state[1]) if isinstance(state, tuple) else state + deltas[t]
    last = state[0] if isinstance(state, tuple) else state
    return torch.stack([torch.linalg.norm(g) for g in torch.autograd.grad(last.sum(), deltas)]).detach()


class SequenceClassifier(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes, cell="lstm"):
        super().__init__()
        self.rnn = RNN(input_size, hidden_size, cell)
        self.readout = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        _, last = self.rnn(x)
        return self.readout(last[0] if isinstance(last, tuple) else last)
