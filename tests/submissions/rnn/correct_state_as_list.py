"""CORRECT: the LSTM cell returns its state as a list `[h, c]`.

The grader unrolls a student's cell to compare gradients through the state; it stacked a
tuple's parts only, and this file lost the LSTM cell's 2 points (an outside audit, 2026-12-04).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn


def _uniform(*shape: int, hidden_size: int) -> nn.Parameter:
    k = 1.0 / math.sqrt(hidden_size)
    return nn.Parameter(torch.empty(*shape).uniform_(-k, k))


class RNNCell(nn.Module):
    r"""An Elman RNN cell, like `nn.RNNCell`: :math:`h' = \tanh(x W_{ih}^T + b_{ih} + h W_{hh}^T + b_{hh})`.

    Args:
        input_size: features of each input x (I).
        hidden_size: features of the hidden state h (H).
        bias: whether to use ``bias_ih`` and ``bias_hh``.
        nonlinearity: ``"tanh"`` or ``"relu"``.

    Shape:
        - Input: x :math:`(B, I)`, h :math:`(B, H)` or None (zeros).
        - Output: h' :math:`(B, H)`.

    Attributes:
        weight_ih :math:`(H, I)`, weight_hh :math:`(H, H)`, bias_ih :math:`(H,)`, bias_hh :math:`(H,)`,
        all drawn from :math:`\mathcal{U}(-k, k)`, :math:`k = 1/\sqrt{H}`.

    Example:
        >>> cell = RNNCell(3, 5)
        >>> cell(torch.randn(2, 3)).shape
        torch.Size([2, 5])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh") -> None:
        super().__init__()
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"unknown nonlinearity {nonlinearity!r}")
        self.hidden_size = hidden_size
        self.nonlinearity = nonlinearity
        # Hint: four parameters named as in nn.RNNCell; without bias, register the biases as None.
        ### BEGIN SOLUTION
        self.weight_ih = _uniform(hidden_size, input_size, hidden_size=hidden_size)
        self.weight_hh = _uniform(hidden_size, hidden_size, hidden_size=hidden_size)
        if bias:
            self.bias_ih = _uniform(hidden_size, hidden_size=hidden_size)
            self.bias_hh = _uniform(hidden_size, hidden_size=hidden_size)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        ### END SOLUTION

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        # Hint: h=None means a zero state; add both affine maps, then apply the nonlinearity.
        ### BEGIN SOLUTION
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        pre = x @ self.weight_ih.T + h @ self.weight_hh.T  # (B, H)
        if self.bias_ih is not None:
            pre = pre + self.bias_ih + self.bias_hh
        return torch.tanh(pre) if self.nonlinearity == "tanh" else torch.relu(pre)
        ### END SOLUTION


class LSTMCell(nn.Module):
    """nn.LSTMCell's equations; returns the new state as a list [h, c]."""

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.hidden_size = hidden_size
        self.weight_ih = _uniform(4 * hidden_size, input_size, hidden_size=hidden_size)
        self.weight_hh = _uniform(4 * hidden_size, hidden_size, hidden_size=hidden_size)
        if bias:
            self.bias_ih = _uniform(4 * hidden_size, hidden_size=hidden_size)
            self.bias_hh = _uniform(4 * hidden_size, hidden_size=hidden_size)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def _step(self, x, state):
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)
            state = (zeros, zeros)
        h, c = state
        gates = x @ self.weight_ih.T + h @ self.weight_hh.T
        if self.bias_ih is not None:
            gates = gates + self.bias_ih + self.bias_hh
        i, f, g, o = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c

    def forward(self, x, state=None):
        h, c = self._step(x, state)
        return [h, c]
        ### END SOLUTION


class GRUCell(nn.Module):
    r"""A gated recurrent unit, like `nn.GRUCell` (gates in the order r, z, n).

    .. math::
        \begin{aligned}
        r &= \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}) \\
        z &= \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz}) \\
        n &= \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn})) \\
        h' &= (1 - z) \odot n + z \odot h
        \end{aligned}

    Args:
        input_size: I; hidden_size: H; bias: whether to use the biases.

    Shape:
        - Input: x :math:`(B, I)`, h :math:`(B, H)` or None (zeros).
        - Output: h' :math:`(B, H)`.

    Attributes:
        weight_ih :math:`(3H, I)`, weight_hh :math:`(3H, H)`, bias_ih, bias_hh :math:`(3H,)`.

    Example:
        >>> GRUCell(3, 5)(torch.randn(2, 3)).shape
        torch.Size([2, 5])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        # Hint: like nn.GRUCell: three gates' weights stacked per input, (3H, ·).
        ### BEGIN SOLUTION
        self.weight_ih = _uniform(3 * hidden_size, input_size, hidden_size=hidden_size)
        self.weight_hh = _uniform(3 * hidden_size, hidden_size, hidden_size=hidden_size)
        if bias:
            self.bias_ih = _uniform(3 * hidden_size, hidden_size=hidden_size)
            self.bias_hh = _uniform(3 * hidden_size, hidden_size=hidden_size)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        ### END SOLUTION

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        # Hint: keep the input part and the hidden part of each gate apart: the reset gate multiplies the hidden part of n only.
        ### BEGIN SOLUTION
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        gi = x @ self.weight_ih.T  # (B, 3H)
        gh = h @ self.weight_hh.T  # (B, 3H)
        if self.bias_ih is not None:
            gi = gi + self.bias_ih
            gh = gh + self.bias_hh
        i_r, i_z, i_n = gi.chunk(3, dim=1)
        h_r, h_z, h_n = gh.chunk(3, dim=1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        return (1 - z) * n + z * h
        ### END SOLUTION


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, cell="rnn"):
        super().__init__()
        self.input_size, self.hidden_size, self.kind = input_size, hidden_size, cell
        self.cell = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}[cell](input_size, hidden_size)

    def forward(self, x, state=None):
        outputs = []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
            outputs.append(state[0] if isinstance(state, (list, tuple)) else state)
        return torch.stack(outputs, dim=1), state
        ### END SOLUTION


def hidden_state_gradient_norms(model, x):
    with torch.enable_grad():
        state, hidden = None, []
        for t in range(x.shape[1]):
            state = model.cell(x[:, t], state)
            hidden.append(state[0] if isinstance(state, (list, tuple)) else state)
        grads = torch.autograd.grad(hidden[-1].sum(), hidden)
    return torch.stack([g.norm() for g in grads]).detach().to(x.dtype)
    ### END SOLUTION


class SequenceClassifier(nn.Module):
    r"""Classifies a whole sequence from the RNN's last hidden state:
    :math:`\text{logits} = \operatorname{readout}(h_{T-1})`.

    Args:
        input_size: I; hidden_size: H; num_classes: C; cell: as in `RNN`.

    Shape:
        - Input: :math:`(B, T, I)`; Output: :math:`(B, C)` logits.

    Attributes:
        rnn: an `RNN`; readout: ``nn.Linear(H, C)`` of the hidden state after the last step.

    Example:
        >>> SequenceClassifier(3, 16, 4)(torch.randn(2, 10, 3)).shape
        torch.Size([2, 4])
    """

    def __init__(self, input_size: int, hidden_size: int, num_classes: int, cell: str = "lstm") -> None:
        super().__init__()
        # Hint: an RNN named `rnn` and a linear `readout`.
        ### BEGIN SOLUTION
        self.rnn = RNN(input_size, hidden_size, cell=cell)
        self.readout = nn.Linear(hidden_size, num_classes)
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Hint: the last step's hidden state summarises the whole sequence.
        ### BEGIN SOLUTION
        outputs, _ = self.rnn(x)  # (B, T, H)
        return self.readout(outputs[:, -1])  # (B, C)
        ### END SOLUTION
