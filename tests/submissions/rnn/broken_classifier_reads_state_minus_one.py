"""BROKEN: loses test_sequence_classifier_matches_reference, test_sequence_classifier_recalls_an_early_symbol — the classifier reads state[-1]: an LSTM's memory cell c, or the last sequence's h alone for a tanh or GRU cell (an audit, 2026-12-05: the recall test showed the grader's own cross-entropy error as the student's).

Assignment 3 — recurrent networks.

An RNN reads a sequence one step at a time.  A hidden state carries what it has seen so
far; at every step the *same* cell (the same weights) updates the state from the current
input and the previous state, so one network handles sequences of any length.  Output t
can only depend on inputs 0..t (causality), and the steps must run one after another,
which makes RNNs harder to parallelise than Transformers.

Training through long sequences multiplies many Jacobians together: with a tanh RNN the
gradient reaching early steps shrinks geometrically (vanishing gradients).  LSTM and GRU
cells add gates that decide what to keep and what to forget, and an additive memory
path along which gradients survive.

You write the three cells exactly as PyTorch defines them (same parameters, same gate
order), the RNN that applies a cell through time, the vanishing-gradient experiment, and
a sequence classifier.  Forbidden here: `nn.RNN*`, `nn.LSTM*`, `nn.GRU*`,
`torch.rnn_tanh_cell`, `torch.rnn_relu_cell`, `torch.lstm_cell`, `torch.gru_cell`, `torch._VF`.
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
    r"""A long short-term memory cell, like `nn.LSTMCell` (gates in the order i, f, g, o).

    .. math::
        \begin{aligned}
        i &= \sigma(W_{ii} x + b_{ii} + W_{hi} h + b_{hi}) &
        f &= \sigma(W_{if} x + b_{if} + W_{hf} h + b_{hf}) \\
        g &= \tanh(W_{ig} x + b_{ig} + W_{hg} h + b_{hg}) &
        o &= \sigma(W_{io} x + b_{io} + W_{ho} h + b_{ho}) \\
        c' &= f \odot c + i \odot g & h' &= o \odot \tanh(c')
        \end{aligned}

    Args:
        input_size: I; hidden_size: H; bias: whether to use the biases.

    Shape:
        - Input: x :math:`(B, I)`; state ``(h, c)``, each :math:`(B, H)`, or None (zeros).
        - Output: ``(h', c')``, each :math:`(B, H)`.

    Attributes:
        weight_ih :math:`(4H, I)` — the rows of :math:`W_{ii}, W_{if}, W_{ig}, W_{io}` stacked;
        weight_hh :math:`(4H, H)`; bias_ih, bias_hh :math:`(4H,)`; all :math:`\mathcal{U}(-1/\sqrt{H}, 1/\sqrt{H})`.

    Example:
        >>> h, c = LSTMCell(3, 5)(torch.randn(2, 3))
        >>> h.shape, c.shape
        (torch.Size([2, 5]), torch.Size([2, 5]))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        # Hint: like nn.LSTMCell: the four gates' weights stacked in one (4H, ·) matrix per input.
        ### BEGIN SOLUTION
        self.weight_ih = _uniform(4 * hidden_size, input_size, hidden_size=hidden_size)
        self.weight_hh = _uniform(4 * hidden_size, hidden_size, hidden_size=hidden_size)
        if bias:
            self.bias_ih = _uniform(4 * hidden_size, hidden_size=hidden_size)
            self.bias_hh = _uniform(4 * hidden_size, hidden_size=hidden_size)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        ### END SOLUTION

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        # Hint: one product per input gives all four gates; split them in the order i, f, g, o.
        ### BEGIN SOLUTION
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)
            state = (zeros, zeros)
        h, c = state
        gates = x @ self.weight_ih.T + h @ self.weight_hh.T  # (B, 4H)
        if self.bias_ih is not None:
            gates = gates + self.bias_ih + self.bias_hh
        i, f, g, o = gates.chunk(4, dim=1)  # each (B, H)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c
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
    r"""Applies one cell at every time step, carrying the state from step to step.

    .. math::
        h_t = \operatorname{cell}(x_t, h_{t-1}), \qquad t = 0, \dots, T-1,

    with :math:`h_{-1}` = ``state`` (zeros when None).  For the LSTM the state is the pair
    :math:`(h_t, c_t)`.  The same cell — the same weights — runs at every step, so the
    parameter count does not depend on T, and output t depends only on inputs 0..t.

    Args:
        input_size: I; hidden_size: H.
        cell: ``"rnn"`` (tanh), ``"lstm"`` or ``"gru"``.

    Shape:
        - Input: x :math:`(B, T, I)`, any T ≥ 1; ``state``: the cell's state or None (zeros).
        - Output: ``(outputs, last_state)``: outputs :math:`(B, T, H)` with ``outputs[:, t]``
          the hidden state :math:`h_t` after step t; last_state :math:`h_{T-1}` :math:`(B, H)`,
          or ``(h, c)`` for the LSTM.

    Attributes:
        cell: the single cell (`RNNCell`, `LSTMCell` or `GRUCell`), shared by every time step.

    Example:
        >>> rnn = RNN(3, 5, cell="gru")
        >>> outputs, h = rnn(torch.randn(2, 7, 3))
        >>> outputs.shape, h.shape
        (torch.Size([2, 7, 5]), torch.Size([2, 5]))
        >>> torch.equal(outputs[:, -1], h)
        True
    """

    def __init__(self, input_size: int, hidden_size: int, cell: str = "rnn") -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.kind = input_size, hidden_size, cell
        # Hint: one cell — RNNCell, LSTMCell or GRUCell, chosen by `cell` — in self.cell, used at every step (weight sharing).
        ### BEGIN SOLUTION
        self.cell = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}[cell](input_size, hidden_size)
        ### END SOLUTION

    def forward(self, x: torch.Tensor, state: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None):
        # Hint: loop over t, feed the previous state back in (do not detach it), collect h at every step.
        ### BEGIN SOLUTION
        outputs = []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
            outputs.append(state[0] if isinstance(state, tuple) else state)  # h_t: (B, H)
        return torch.stack(outputs, dim=1), state  # (B, T, H)
        ### END SOLUTION


def hidden_state_gradient_norms(model: RNN, x: torch.Tensor) -> torch.Tensor:
    r"""The vanishing-gradient experiment: how much the last output depends on each hidden state.

    For :math:`L = \sum_{b, j} h_{T-1}[b, j]` (``outputs[:, -1].sum()``), entry t is the
    Frobenius norm of the whole :math:`(B, H)` gradient :math:`\partial L / \partial h_t` —
    the total derivative, through every later step (entry T-1 is the norm of a matrix of
    ones, :math:`\sqrt{BH}`).  For the LSTM, h is the hidden state (not c), and the chain
    runs through both h and c.  For a tanh RNN it is a product of step Jacobians,

    .. math::
        \frac{\partial L}{\partial h_t}
        = \frac{\partial L}{\partial h_{T-1}} \,
          \frac{\partial h_{T-1}}{\partial h_{T-2}} \cdots \frac{\partial h_{t+1}}{\partial h_t},
        \qquad
        \frac{\partial h_{s+1}}{\partial h_s} = \operatorname{diag}(1 - h_{s+1}^2)\, W_{hh},

    so its norms shrink geometrically towards early steps; the LSTM's gates let them survive.

    Note: the slices of a stacked ``outputs`` tensor are copies; the gradient with respect to
    ``outputs[:, t]`` is not :math:`\partial L / \partial h_t`.  Keep the states themselves.

    Args:
        model: an `RNN`.
        x: :math:`(B, T, I)`.

    Returns:
        A detached tensor :math:`(T,)` of x's dtype (also for T = 1).  Every parameter's
        ``.grad`` is left as it was.

    Example:
        >>> norms = hidden_state_gradient_norms(RNN(3, 16), torch.randn(4, 50, 3))
        >>> norms.shape
        torch.Size([50])
        >>> bool(norms[0] < norms[-1])  # the first step barely moves the last output
        True
    """
    # Hint: keep each step's h (run the cell yourself) and ask torch.autograd.grad for dL/dh_t — it does not touch .grad.
    ### BEGIN SOLUTION
    with torch.enable_grad():
        state, hidden = None, []
        for t in range(x.shape[1]):
            state = model.cell(x[:, t], state)
            hidden.append(state[0] if isinstance(state, tuple) else state)  # h_t: (B, H)
        grads = torch.autograd.grad(hidden[-1].sum(), hidden)  # T tensors (B, H)
    return torch.stack([g.norm() for g in grads]).detach().to(x.dtype)  # (T,)
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
        _, state = self.rnn(x)
        return self.readout(state[-1])  # bug: the last row of h (or an LSTM's c), not the last step's h for every sequence
        ### END SOLUTION
