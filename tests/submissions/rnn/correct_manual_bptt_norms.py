"""CORRECT: gates as one batched matmul, gradient norms by hand-written backpropagation through time.

Recurrent networks — per-gate weights as a batch of matrices, BPTT by hand.

Style: the stacked (G*H, I) weights viewed as G matrices (G, H, I) and applied with one
batched torch.matmul (G, B, H); outputs assembled functionally with index_copy into a
zero (B, T, H) tensor; the vanishing-gradient norms by an explicit backward pass through
time: every step is run on a detached copy of the previous state, and the cotangent of
(h, c) is carried backwards one step at a time with vector-Jacobian products; the
classifier goes through a private helper.
"""

import math

import torch
import torch.nn as nn


class _GatedBase(nn.Module):
    GATES = 1

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        k = 1 / math.sqrt(hidden_size)
        G = self.GATES
        self.weight_ih = nn.Parameter(torch.rand(G * hidden_size, input_size) * (2 * k) - k)
        self.weight_hh = nn.Parameter(torch.rand(G * hidden_size, hidden_size) * (2 * k) - k)
        if bias:
            self.bias_ih = nn.Parameter(torch.rand(G * hidden_size) * (2 * k) - k)
            self.bias_hh = nn.Parameter(torch.rand(G * hidden_size) * (2 * k) - k)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def _per_gate(self, inp, weight, bias):
        """(G, B, H): gate g is inp @ W_g^T + b_g."""
        G, H = self.GATES, self.hidden_size
        out = torch.matmul(inp.unsqueeze(0), weight.view(G, H, -1).transpose(1, 2))  # (G, B, H)
        if bias is not None:
            out = out + bias.view(G, 1, H)
        return out

    def _init_h(self, x):
        return x.new_zeros(x.shape[0], self.hidden_size)


class RNNCell(_GatedBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        super().__init__(input_size, hidden_size, bias)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(nonlinearity)
        self.nonlinearity = nonlinearity

    def forward(self, x, h=None):
        if h is None:
            h = self._init_h(x)
        pre = (self._per_gate(x, self.weight_ih, self.bias_ih) + self._per_gate(h, self.weight_hh, self.bias_hh))[0]
        return torch.tanh(pre) if self.nonlinearity == "tanh" else torch.relu(pre)


class LSTMCell(_GatedBase):
    GATES = 4

    def forward(self, x, state=None):
        h, c = (self._init_h(x), self._init_h(x)) if state is None else state
        gates = self._per_gate(x, self.weight_ih, self.bias_ih) + self._per_gate(h, self.weight_hh, self.bias_hh)
        i, f, g, o = gates[0].sigmoid(), gates[1].sigmoid(), gates[2].tanh(), gates[3].sigmoid()
        c_new = f * c + i * g
        h_new = o * c_new.tanh()
        return h_new, c_new


class GRUCell(_GatedBase):
    GATES = 3

    def forward(self, x, h=None):
        if h is None:
            h = self._init_h(x)
        gx = self._per_gate(x, self.weight_ih, self.bias_ih)
        gh = self._per_gate(h, self.weight_hh, self.bias_hh)
        r = torch.sigmoid(gx[0] + gh[0])
        z = torch.sigmoid(gx[1] + gh[1])
        n = torch.tanh(gx[2] + r * gh[2])
        return n + z * (h - n)


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, cell="rnn"):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        factories = {
            "rnn": lambda: RNNCell(input_size, hidden_size),
            "lstm": lambda: LSTMCell(input_size, hidden_size),
            "gru": lambda: GRUCell(input_size, hidden_size),
        }
        try:
            self.cell = factories[cell]()
        except KeyError:
            raise ValueError(f"cell must be 'rnn', 'lstm' or 'gru', got {cell!r}") from None

    def forward(self, x, state=None):
        B, T, _ = x.shape
        outputs = None
        for t in range(T):
            state = self.cell(x[:, t], state)
            h = state[0] if isinstance(state, tuple) else state
            if outputs is None:
                outputs = h.new_zeros(B, T, h.shape[-1])
            outputs = outputs.index_copy(1, torch.tensor([t], device=x.device), h.unsqueeze(1))
        return outputs, state


def _detached_leaf(state):
    if isinstance(state, tuple):
        return tuple(s.detach().requires_grad_() for s in state)
    return state.detach().requires_grad_()


def _as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def hidden_state_gradient_norms(model, x):
    """Backpropagation through time written out: dL/dh_t from dL/d(h_{t+1}, c_{t+1})."""
    T = x.shape[1]
    steps = []  # (input state as a leaf, output state) for steps 1 .. T-1
    with torch.enable_grad():
        state = model.cell(x[:, 0], None)
        for t in range(1, T):
            prev = _detached_leaf(state)
            state = model.cell(x[:, t], prev)
            steps.append((prev, state))
        last = _as_tuple(state)
        # cotangent of the state after the last step: ones on h, zeros on c
        cot = [torch.ones_like(last[0])] + [torch.zeros_like(s) for s in last[1:]]
        norms = [None] * T
        norms[T - 1] = torch.linalg.vector_norm(cot[0])
        for t in range(T - 1, 0, -1):  # steps[t-1] maps state_{t-1} -> state_t
            prev, new = steps[t - 1]
            prev, new = _as_tuple(prev), _as_tuple(new)
            cot = list(torch.autograd.grad(new, prev, grad_outputs=cot, allow_unused=True))
            cot = [torch.zeros_like(p) if g is None else g for g, p in zip(cot, prev)]
            norms[t - 1] = torch.linalg.vector_norm(cot[0])
    return torch.stack(norms).detach().to(x.dtype)


class SequenceClassifier(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes, cell="lstm"):
        super().__init__()
        self.rnn = RNN(input_size, hidden_size, cell=cell)
        self.readout = nn.Linear(hidden_size, num_classes)

    def _summary(self, x):
        outputs, _ = self.rnn(x)
        return outputs[:, -1]

    def forward(self, x):
        return self.readout(self._summary(x))
