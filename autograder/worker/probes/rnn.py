"""Probes and trusted building blocks for the rnn assignment.

Trusted cells are PyTorch's own cells behind the assignment's signatures
(`cell(x, h=None)`, `cell(x, state=None)`), so a student's `RNN` may call its cell
positionally or by keyword.  `patch=TRUSTED_CELLS` grades an `RNN` (or a
`SequenceClassifier`) independently of the student's cells, and `patch=TRUSTED_RNN`
grades `hidden_state_gradient_norms` or a `SequenceClassifier` independently of the
student's `RNN`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.worker.probes import probe
from autograder.worker.probes.core import build_model, plain
from autograder.worker.spec import Build


class _StepCopies:
    """Mixin for trusted cells: while `record` is a list, every call uses fresh leaf copies
    of the cell's parameters and appends them to `record`, so that each step's gradient
    contribution can be read from its own copies."""

    record: list[dict[str, torch.Tensor]] | None = None
    _inside = False

    def _call(self, x: torch.Tensor, state: Any) -> Any:
        if self.record is None or self._inside:
            return super().forward(x, state)
        copies = {n: p.detach().clone().requires_grad_() for n, p in self.named_parameters()}
        self.record.append(copies)
        self._inside = True
        try:
            return torch.func.functional_call(self, copies, (x, state))
        finally:
            self._inside = False


class TrustedRNNCell(_StepCopies, nn.RNNCell):
    """`nn.RNNCell` with the assignment's signature `forward(x, h=None)`."""

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        return self._call(x, h)


class TrustedLSTMCell(_StepCopies, nn.LSTMCell):
    """`nn.LSTMCell` with the assignment's signature `forward(x, state=None) -> (h, c)`."""

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self._call(x, state)


class TrustedGRUCell(_StepCopies, nn.GRUCell):
    """`nn.GRUCell` with the assignment's signature `forward(x, h=None)`."""

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        return self._call(x, h)


class TrustedRNN(nn.Module):
    """The trusted cells applied through time, with the assignment's `RNN` API and names."""

    def __init__(self, input_size: int, hidden_size: int, cell: str = "rnn") -> None:
        super().__init__()
        self.cell = {"rnn": TrustedRNNCell, "lstm": TrustedLSTMCell, "gru": TrustedGRUCell}[cell](input_size, hidden_size)

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        outputs = []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
            outputs.append(state[0] if isinstance(state, tuple) else state)  # h_t: (B, H)
        return torch.stack(outputs, dim=1), state  # (B, T, H)


class UnrolledCell(nn.Module):
    """A given cell (e.g. the student's) applied through time by trusted code, so that
    gradients through the state `h` (and `c`) of a cell are compared too.

    `forward(x (B, T, I), state=None)` returns the stacked h (B, T, H), and for a cell with
    an `(h, c)` state the tuple (h (B, T, H), c (B, T, H)).
    """

    def __init__(self, cell: nn.Module) -> None:
        super().__init__()
        self.cell = cell

    def forward(self, x: torch.Tensor, state: Any = None) -> Any:
        states = []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
            states.append(state)
        if isinstance(state, tuple):
            return tuple(torch.stack(parts, dim=1) for parts in zip(*states))  # (h, c), each (B, T, H)
        return torch.stack(states, dim=1)  # (B, T, H)


TRUSTED_CELLS = {name: f"autograder.worker.probes.rnn:Trusted{name}" for name in ("RNNCell", "LSTMCell", "GRUCell")}
TRUSTED_RNN = {**TRUSTED_CELLS, "RNN": "autograder.worker.probes.rnn:TrustedRNN"}


@probe
def gradient_norms_experiment(module: Any, *, model: Build, state_dict: dict, x: torch.Tensor, function: str = "hidden_state_gradient_norms") -> dict:
    """Call the module's `hidden_state_gradient_norms` on a built RNN whose parameters carry
    a known `.grad`; report the norms, whether they are detached, and whether `.grad` was kept."""
    rnn = build_model(module, model, state_dict, x.dtype)
    marks = {n: torch.full_like(p, 7.0) for n, p in rnn.named_parameters()}
    for n, p in rnn.named_parameters():
        p.grad = marks[n].clone()
    norms = getattr(module, function)(rnn, x)
    kept = all(p.grad is not None and torch.equal(p.grad, marks[n]) for n, p in rnn.named_parameters())
    detached = isinstance(norms, torch.Tensor) and not norms.requires_grad
    return {"norms": plain(norms), "grads_kept": kept, "detached": detached}


@probe
def step_contributions(module: Any, *, model: Build, state_dict: dict, x: torch.Tensor, cotangent: torch.Tensor) -> dict:
    """Weight sharing, seen from inside: the built RNN's trusted cell (patch `TRUSTED_CELLS`)
    records fresh copies of its weights at every call, so each step's contribution to a
    weight's gradient is the gradient of that step's copy.

    Runs `outputs · cotangent` backward twice: once as the model is (`shared`: the gradient
    of each `cell.*` parameter), once with per-call copies (`per_call`: one dict per call of
    the cell).  `calls` counts the calls; `cell` is the class name of `model.cell`.
    """
    rnn = build_model(module, model, state_dict, x.dtype)
    cell = getattr(rnn, "cell", None)
    if not isinstance(cell, _StepCopies):
        return {"cell": type(cell).__name__, "calls": 0, "shared": {}, "per_call": []}
    outputs, _ = rnn(x)
    (outputs * cotangent).sum().backward()
    shared = {n: plain(p.grad) for n, p in cell.named_parameters()}
    cell.record = []
    try:
        outputs, _ = rnn(x)
        (outputs * cotangent).sum().backward()
        per_call = [{n: plain(c.grad) for n, c in copies.items()} for copies in cell.record]
    finally:
        cell.record = None
    return {"cell": type(cell).__name__, "calls": len(per_call), "shared": shared, "per_call": per_call}


@probe
def train_sequence_classifier(
    module: Any,
    *,
    model: Build,
    state_dict: dict | None,
    X: torch.Tensor,
    y: torch.Tensor,
    X_eval: torch.Tensor,
    steps: int,
    lr: float,
    batch_size: int = 64,
    seed: int = 0,
) -> dict:
    """The grader's own loop: Adam on cross-entropy with random mini-batches drawn from
    `seed`; returns the logits on `X_eval` (its labels never reach the worker).

    Runs on one thread (as in the sandbox), also in-process: the model is tiny, and extra
    threads only slow it down on a busy machine.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        obj = build_model(module, model, state_dict, None)
        optimizer = torch.optim.Adam(obj.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(seed)
        for _ in range(steps):
            idx = torch.randint(0, len(X), (batch_size,), generator=gen)
            loss = F.cross_entropy(obj(X[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            return {"logits": plain(obj(X_eval))}
    finally:
        torch.set_num_threads(threads)
