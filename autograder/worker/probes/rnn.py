"""Probes and trusted building blocks for the rnn assignment.

Trusted cells are PyTorch's own cells behind the assignment's signatures
(`cell(x, h=None)`, `cell(x, state=None)`).  Tests put one into the student's BUILT model
where SPEC keeps the cell, whatever way the student's code names or binds its classes:

    Build("RNN", 4, 8, cell="lstm").swap("cell", trusted_cell("lstm", 4, 8))
    Build("SequenceClassifier", 4, 8, 3, cell="gru").swap("rnn.cell", trusted_cell("gru", 4, 8))

The trusted cell takes over the student's cell object's place AND its class: it becomes an
instance of a subclass of the student's cell class (PyTorch's computation first in the
MRO) that keeps the student's plain attributes, so correct code that asks
`isinstance(self.cell, LSTMCell)` or reads `self.cell._gates` still works.  The same goes
for `trusted_rnn_around`, which replaces a classifier's whole `rnn` by a trusted one.

Nothing here repeats a line of the reference solution: the student bundle ships this
file, and `autograder.bundle` stubs every definition that does.
"""

from __future__ import annotations

import re
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.worker.forbidden import runs_the_students_parts, trust, unrecorded, untrusted
from autograder.worker.probes import probe
from autograder.worker.probes.core import adam_on_random_batches, build_model, parameters_of, plain
from autograder.worker.spec import Build, adopt


class _Recording:
    """Mixin for trusted cells, with two recording modes (both off by default):

    - `record` (a list): every call uses fresh leaf copies of the cell's parameters and
      appends them, so each step's contribution to a weight's gradient can be read from
      its own copies;
    - `states` (a list): every call appends the hidden state h it returns, so that
      dL/dh_t can be taken for the states the model really computed.
    """

    record: list[dict[str, torch.Tensor]] | None = None
    states: list[torch.Tensor] | None = None
    #: the student's own kind of `(h, c)`: a tuple subclass (a namedtuple), `list`; None: a tuple
    _nnzoo_state_kind: type | None = None
    _inside = False

    def _call(self, x: torch.Tensor, state: Any) -> Any:
        if self.record is None or self._inside:
            new = super().forward(x, state)
        else:
            copies = {n: p.detach().clone().requires_grad_() for n, p in parameters_of(self).items()}
            self.record.append(copies)
            self._inside = True
            try:
                new = torch.func.functional_call(self, copies, (x, state))
            finally:
                self._inside = False
        if self.states is not None and not self._inside:
            self.states.append(new[0] if isinstance(new, tuple) else new)
        if self._nnzoo_state_kind is not None and isinstance(new, tuple) and not self._inside:
            kind = self._nnzoo_state_kind  # made without calling the student's class: no code of theirs runs here
            new = list(new) if kind is list else tuple.__new__(kind, new)
        return new


def state_kind(cell: nn.Module, input_size: int) -> type | None:
    """How the student's LSTM `cell` hands back its `(h, c)`, for the trusted cell that takes
    its place to do the same: its tuple subclass (a namedtuple: the student's RNN may read
    `state.h`), `list`, or None for a plain tuple — or when the cell fails on a zero input of
    `input_size` features (its own tests' to cost).  The glance runs untrusted (a built-in
    the cell reaches is charged as anywhere) and unrecorded (it is the cell's own tests' to
    cost, not the test asking now's); it leaves the global RNG as it was."""
    try:
        with untrusted(), unrecorded(), torch.no_grad(), torch.random.fork_rng(devices=[]):
            weight = next((p for p in cell.parameters() if p.is_floating_point()), None)
            out = cell(torch.zeros(1, input_size, dtype=weight.dtype if weight is not None else torch.get_default_dtype()))
            kind = type(out)
            if kind is list or (kind is not tuple and isinstance(out, tuple)):
                return kind if len(out) == 2 else None
    except Exception:  # noqa: BLE001 — a cell that fails here: nothing to copy
        return None
    return None


class TrustedRNNCell(_Recording, nn.RNNCell):
    """`nn.RNNCell` with the assignment's signature `forward(x, h=None)`."""

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        return self._call(x, h)


class TrustedLSTMCell(_Recording, nn.LSTMCell):
    """`nn.LSTMCell` with the assignment's signature `forward(x, state=None) -> (h, c)`."""

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self._call(x, state)


class TrustedGRUCell(_Recording, nn.GRUCell):
    """`nn.GRUCell` with the assignment's signature `forward(x, h=None)`."""

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        return self._call(x, h)


TRUSTED_CELL_CLASS = {"rnn": TrustedRNNCell, "lstm": TrustedLSTMCell, "gru": TrustedGRUCell}


def trusted_cell(kind: str, input_size: int, hidden_size: int) -> str:
    """The swap factory that puts PyTorch's `kind` cell (`input_size`, `hidden_size`) in the
    place and class of a student's cell:
    `Build("RNN", 4, 8, cell="lstm").swap("cell", trusted_cell("lstm", 4, 8))`.

    The sizes travel in the name because a factory is called with the replaced module
    only, and the student's cell may not show them (a wrong parameter layout)."""
    if kind not in TRUSTED_CELL_CLASS:
        raise ValueError(f"unknown cell {kind!r}")
    return f"{__name__}:trusted_{kind}_cell_{int(input_size)}_{int(hidden_size)}"


def __getattr__(name: str) -> Any:
    """The factories `trusted_cell` names (PEP 562): `trusted_<kind>_cell_<I>_<H>`."""
    match = re.fullmatch(r"trusted_(rnn|lstm|gru)_cell_(\d{1,4})_(\d{1,4})", name)
    if match is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    kind, input_size, hidden_size = match.group(1), int(match.group(2)), int(match.group(3))

    def factory(old: nn.Module) -> nn.Module:
        cell = adopt(trust(TRUSTED_CELL_CLASS[kind])(input_size, hidden_size), old)
        if kind == "lstm":
            object.__setattr__(cell, "_nnzoo_state_kind", state_kind(old, input_size))
        return cell

    factory.__name__ = name
    return factory


@runs_the_students_parts
class TrustedRNN(nn.Module):
    """A trusted cell applied through time, with the assignment's `RNN` API and names.  The
    loop itself is not a trust boundary: a cell it is given runs as whoever made it.

    Args:
        input_size, hidden_size: I, H.
        cell: ``"rnn" | "lstm" | "gru"`` (a new trusted cell), or a cell module to use.
    """

    def __init__(self, input_size: int = 0, hidden_size: int = 0, cell: str | nn.Module = "rnn") -> None:
        super().__init__()
        self.cell = cell if isinstance(cell, nn.Module) else trust(TRUSTED_CELL_CLASS[cell])(input_size, hidden_size)

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        hs = []
        for x_t in x.unbind(1):  # (B, I) per step, in time order
            state = self.cell(x_t, state)
            hs.append(state if torch.is_tensor(state) else state[0])
        return torch.stack(hs, 1), state  # (B, T, H), the last state


TRUSTED_RNN_AROUND = f"{__name__}:trusted_rnn_around"


@runs_the_students_parts
def trusted_rnn_around(old: nn.Module) -> nn.Module:
    """Swap factory for a classifier's `rnn`: a `TrustedRNN` around the cell already in
    `old` (put there by a previous swap of `"rnn.cell"`), in the place and class of the
    student's RNN `old`: `.swap("rnn.cell", trusted_cell(...)).swap("rnn", TRUSTED_RNN_AROUND)`."""
    return adopt(trust(TrustedRNN)(cell=old.cell), old)


class TrustedSequenceClassifier(nn.Module):
    """The assignment's `SequenceClassifier` on trusted parts: logits = readout(h after the last step)."""

    def __init__(self, input_size: int, hidden_size: int, num_classes: int, cell: str = "lstm") -> None:
        super().__init__()
        self.rnn = TrustedRNN(input_size, hidden_size, cell)
        self.readout = nn.Linear(in_features=hidden_size, out_features=num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hs, _ = self.rnn(x)
        return self.readout(hs[:, x.shape[1] - 1])  # (B, C)


@runs_the_students_parts
class UnrolledCell(nn.Module):
    """A given cell (e.g. the student's) applied through time by the grader's code, so that
    gradients through the state `h` (and `c`) of a cell are compared too; the loop is not a
    trust boundary (what the cell reaches is the student's).

    `forward(x (B, T, I), state=None)` returns the stacked h (B, T, H), and for a cell with
    an `(h, c)` state the tuple (h (B, T, H), c (B, T, H)).
    """

    def __init__(self, cell: nn.Module) -> None:
        super().__init__()
        self.cell = cell

    def forward(self, x: torch.Tensor, state: Any = None) -> Any:
        seen = []
        for x_t in x.unbind(1):
            state = self.cell(x_t, state)
            seen.append(state)
        if isinstance(state, (tuple, list)):  # (h, c) as a tuple, a namedtuple or a list
            return tuple(torch.stack(parts, 1) for parts in zip(*seen))  # (h, c), each (B, T, H)
        return torch.stack(seen, 1)  # (B, T, H)


def norms_by_autograd(rnn: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """||dL/dh_t|| taken by autograd on the model as it is (its trusted cell records the h_t
    it returns), for SPEC's L = `rnn(x)[0][:, -1].sum()`.  None when the model's cell is not
    a trusted one, the model fails, or its cell did not run once per step."""
    cell = getattr(rnn, "cell", None)
    if not isinstance(cell, _Recording):
        return None
    cell.states = []
    try:
        with torch.set_grad_enabled(True):
            outputs = rnn(x)[0]
        kept = list(cell.states)
        total = outputs[:, -1].sum()
        if len(kept) != x.shape[1] or not total.requires_grad:
            return None
        dh = torch.autograd.grad(total, kept, allow_unused=True)
    except Exception:  # the student's RNN failed: no expectation from this model
        return None
    finally:
        cell.states = None
    return torch.stack([torch.linalg.vector_norm(g) if g is not None else x.new_zeros(()) for g in dh]).to(x.dtype)


@probe
def gradient_norms_experiment(module: Any, *, model: Build, state_dict: dict, x: torch.Tensor, marks: dict,
                              function: str = "hidden_state_gradient_norms") -> dict:
    """Call the module's `hidden_state_gradient_norms` on the built RNN, whose parameters
    carry the judge's `marks` as `.grad`, and report raw data for the judge to decide:

    - `norms`: what the function returned;
    - `grads_after_call`: each marked parameter's `.grad` after the call;
    - `grads_after_backward`: the same after `norms.sum().backward()`, tried only when the
      norms require grad (norms still attached to the model's graph change them).
    """
    rnn = build_model(module, model, state_dict, x.dtype)
    params = parameters_of(rnn)
    for name, p in params.items():
        if name in marks:
            p.grad = marks[name].to(p.dtype).clone()

    def grads() -> dict:
        return {name: plain(p.grad) for name, p in params.items() if name in marks}

    norms = getattr(module, function)(rnn, x)
    after_call = grads()
    if isinstance(norms, torch.Tensor) and norms.requires_grad:
        try:
            norms.sum().backward()
        except RuntimeError:  # e.g. a graph already freed: nothing reaches .grad
            pass
    return {"norms": plain(norms), "grads_after_call": after_call, "grads_after_backward": grads()}


@probe
def step_contributions(module: Any, *, model: Build, state_dict: dict, x: torch.Tensor, cotangent: torch.Tensor) -> dict:
    """Weight sharing, seen from inside: the built RNN's trusted cell (swapped into `cell`)
    records fresh copies of its weights at every call, so each step's contribution to a
    weight's gradient is the gradient of that step's copy.

    Runs `(outputs * cotangent).sum()` backward once; returns `calls` (how often the cell
    ran) and `per_call` (one dict name → gradient per call).  The gradient of the shared
    weights themselves comes from the `run` probe (another request), and the judge checks
    both against each other and, where it can, against the reference's.
    """
    rnn = build_model(module, model, state_dict, x.dtype)
    cell = getattr(rnn, "cell", None)
    if not isinstance(cell, _Recording):
        return {"calls": 0, "per_call": []}
    cell.record = []
    try:
        outputs, _ = rnn(x)
        (outputs * cotangent).sum().backward()
        per_call = [{n: plain(c.grad) for n, c in copies.items()} for copies in cell.record]
    finally:
        cell.record = None
    return {"calls": len(per_call), "per_call": per_call}


@probe
def train_sequence_classifier(
    module: Any,
    *,
    model: Build,
    state_dict: dict | None,
    X: torch.Tensor,
    y: torch.Tensor,
    steps: int,
    lr: float,
    batch_size: int = 64,
    seed: int = 0,
) -> dict:
    """The grader's own loop (`adam_on_random_batches`) on cross-entropy.  The judge
    evaluates the returned `state_dict` on a trusted model with held-out sequences that
    never reach the worker."""
    clf = build_model(module, model, state_dict, None)
    return adam_on_random_batches(clf, X, y, steps=steps, lr=lr, batch_size=batch_size, seed=seed, loss=F.cross_entropy)
