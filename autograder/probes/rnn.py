"""Probes and trusted building blocks for the rnn assignment.

PyTorch's own cells already have the assignment's API (`cell(x, state=None)`), so
`patch={"LSTMCell": "torch.nn:LSTMCell", ...}` grades an `RNN` alone; `TrustedRNN` does
the same for the `SequenceClassifier`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.probes import probe
from autograder.probes.core import build_model, plain
from autograder.probes.spec import Build

TRUSTED_CELLS = {"RNNCell": "torch.nn:RNNCell", "LSTMCell": "torch.nn:LSTMCell", "GRUCell": "torch.nn:GRUCell"}


class TrustedRNN(nn.Module):
    """PyTorch's cells applied through time, with the assignment's `RNN` API and names."""

    def __init__(self, input_size: int, hidden_size: int, cell: str = "rnn") -> None:
        super().__init__()
        self.cell = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}[cell](input_size, hidden_size)

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        outputs = []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
            outputs.append(state[0] if isinstance(state, tuple) else state)
        return torch.stack(outputs, dim=1), state


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
    """The grader's own loop: Adam on cross-entropy with random mini-batches; logits on `X_eval`."""
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
