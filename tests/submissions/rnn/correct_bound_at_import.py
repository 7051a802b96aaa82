"""CORRECT: names bound at import time (a module-level table of the cell classes, an alias, a default argument), `from torch import ...`, isinstance checks on the student's own cell class, private attributes read from the cell, private RNN methods used by the norms and by the classifier."""

from math import sqrt

from torch import Tensor, autograd, cat, empty, nn, sigmoid, stack, tanh, zeros
from torch.nn.functional import relu


def _param(*shape, hidden_size):
    bound = 1 / sqrt(hidden_size)
    return nn.Parameter(empty(*shape).uniform_(-bound, bound))


class _Cell(nn.Module):
    """Shared set-up: `_n_gates` rows of weights per gate, as in PyTorch's cells."""

    _n_gates = 1

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.hidden_size = hidden_size
        self._width = self._n_gates * hidden_size
        self.weight_ih = _param(self._width, input_size, hidden_size=hidden_size)
        self.weight_hh = _param(self._width, hidden_size, hidden_size=hidden_size)
        self.bias_ih = _param(self._width, hidden_size=hidden_size) if bias else None
        self.bias_hh = _param(self._width, hidden_size=hidden_size) if bias else None

    def _affine(self, x, h):
        a, b = x @ self.weight_ih.t(), h @ self.weight_hh.t()
        if self.bias_ih is not None:
            a, b = a + self.bias_ih, b + self.bias_hh
        return a, b

    def _zeros(self, x):
        return zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)


class RNNCell(_Cell):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        super().__init__(input_size, hidden_size, bias)
        self._act = {"tanh": tanh, "relu": relu}[nonlinearity]

    def forward(self, x, h=None):
        a, b = self._affine(x, self._zeros(x) if h is None else h)
        return self._act(a + b)


class LSTMCell(_Cell):
    _n_gates = 4

    def forward(self, x, state=None):
        h, c = (self._zeros(x), self._zeros(x)) if state is None else state
        a, b = self._affine(x, h)
        i, f, g, o = (a + b).split(self.hidden_size, dim=1)
        c = sigmoid(f) * c + sigmoid(i) * tanh(g)
        return sigmoid(o) * tanh(c), c


class GRUCell(_Cell):
    _n_gates = 3

    def forward(self, x, h=None):
        h = self._zeros(x) if h is None else h
        a, b = self._affine(x, h)
        a_r, a_z, a_n = a.split(self.hidden_size, dim=1)
        b_r, b_z, b_n = b.split(self.hidden_size, dim=1)
        r, z = sigmoid(a_r + b_r), sigmoid(a_z + b_z)
        n = tanh(a_n + r * b_n)
        return n + z * (h - n)


_CELLS = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}  # bound once, at import
_Gated = LSTMCell  # an alias


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, cell="rnn", _table=_CELLS):
        super().__init__()
        self._kind = cell
        self.cell = _table[cell](input_size, hidden_size)

    def _hidden(self, state):
        return state[0] if isinstance(self.cell, _Gated) else state

    def _unroll(self, x, state=None):
        """Every step's state (h, or (h, c)), in time order."""
        states = []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
            states.append(state)
        return states

    def forward(self, x, state=None):
        states = self._unroll(x, state)
        if self.cell._n_gates == 4:  # a private attribute of the cell
            hs = [s[0] for s in states]
        else:
            hs = [self._hidden(s) for s in states]
        return cat([h.unsqueeze(1) for h in hs], dim=1), states[-1]

    def _last_hidden(self, x):
        return self._hidden(self._unroll(x)[-1])


def hidden_state_gradient_norms(model, x):
    hs = [model._hidden(s) for s in model._unroll(x)]
    grads = autograd.grad(hs[-1].sum(), hs)
    return stack([g.pow(2).sum().sqrt() for g in grads]).detach().to(x.dtype)


class SequenceClassifier(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes, cell="lstm"):
        super().__init__()
        self.rnn = RNN(input_size, hidden_size, cell=cell)
        self.readout = nn.Linear(hidden_size, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.readout(self.rnn._last_hidden(x))
