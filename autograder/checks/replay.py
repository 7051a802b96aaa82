"""Checks on a training loop's mini-batches: which rows each optimiser step trained on, and
what those steps should have given.

The worker runs the student's loop and records, for every optimiser step, the rows of `X`
the step's gradient came from (e.g. the core probe `train`).  Here, in the judge, those
rows are mapped back to indices of `X` (whose rows the judge makes distinct), split into
epochs (every epoch must visit every row exactly once), and replayed by trusted code: Adam
on the mean cross-entropy of each batch in turn, on a trusted copy of the model.  The
random order is the student's — SPEC does not grade the exact sequence — but what was done
with it is checked by the judge, not taken from the worker.

The record is the worker's word, so its size is too: the judge replays at most what the
request implies (`epochs` passes over `X`, one optimiser step per row at most), and a
record that claims more fails the student before anything is replayed.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F

from autograder.checks.base import expect_tensor, fail, tolerances
from autograder.worker.probes.core import build_model
from autograder.worker.spec import Build

#: How many passes over `X` a record may claim when the check is not told the request's
#: `epochs`: the hidden tests replay runs of at most 3 epochs, and every claimed row costs
#: the judge a replayed one (≈ 0.25 ms a step).
MAX_EPOCHS = 10


def within_bounds(steps: int, rows: int, n: int, epochs: int | None, prop: str, hint: str) -> None:
    """Fail `prop` when a record of `steps` optimiser steps on `rows` rows claims more than
    `epochs` passes over `n` samples allow (`MAX_EPOCHS` when None): at most `epochs` × `n`
    rows, and at most one step per row."""
    most = (MAX_EPOCHS if epochs is None else epochs) * n
    if rows > most or steps > most:
        claim = f"the record of the training claims {steps} optimiser steps on {rows} rows"
        if epochs is not None:
            fail(prop, f"{claim}, but epochs={epochs} over {n} samples visit {most} rows, in at most {most} steps", hint)
        fail(prop, f"{claim}: more than the grader replays (at most {most} rows in {most} steps: "
                   f"{MAX_EPOCHS} passes over the {n} samples)", hint)


def recorded_batches(result: Any, X: torch.Tensor, prop: str, hint: str, *, epochs: int | None = None) -> list[torch.Tensor]:
    """The index batches of every optimiser step a `train` result reports, checked to be
    rows of `X` (whose rows must be distinct) and no more than `epochs` passes over `X`
    allow (see `within_bounds`; pass the request's `epochs` where it is known)."""
    if not isinstance(result, dict):
        fail(prop, "training gave back no record of its steps", hint)
    rows = expect_tensor(result.get("rows"), "the rows trained on", prop, dtype=X.dtype, hint=hint)
    sizes = result.get("step_rows")
    if not isinstance(sizes, list):
        fail(prop, "training gave back no record of its steps", hint)
    within_bounds(len(sizes), len(rows) if rows.dim() else 0, len(X), epochs, prop, hint)
    if not all(type(s) is int and s >= 0 for s in sizes):
        fail(prop, "training gave back no record of its steps", hint)
    if not sizes:
        fail(prop, "train_classifier took no optimiser step", hint)
    if rows.dim() != 2 or rows.shape[1:] != X.shape[1:] or sum(sizes) != len(rows):
        fail(prop, "the record of the rows trained on is inconsistent", hint)
    where = {X[i].numpy().tobytes(): i for i in range(len(X))}
    assert len(where) == len(X), "the judge's X must have distinct rows"
    index = [where.get(row.numpy().tobytes()) for row in rows]
    if None in index:
        fail(prop, "the model was trained on rows that are not rows of X", hint)
    return list(torch.tensor(index, dtype=torch.long).split(sizes))


def epochs_of(batches: Sequence[torch.Tensor], n: int, prop: str, hint: str) -> list[list[torch.Tensor]]:
    """`batches` split into epochs of `n` rows; each epoch must visit every row exactly once."""
    epochs: list[list[torch.Tensor]] = []
    current: list[torch.Tensor] = []
    count = 0
    for batch in batches:
        current.append(batch)
        count += len(batch)
        if count > n:
            fail(prop, f"epoch {len(epochs) + 1} trained on {count} rows before visiting each of the {n} samples once", hint)
        if count == n:
            if not torch.equal(torch.cat(current).sort().values, torch.arange(n)):
                fail(prop, f"epoch {len(epochs) + 1} did not visit every sample exactly once", hint)
            epochs.append(current)
            current, count = [], 0
    if current:
        fail(prop, f"the last epoch trained on {count} of the {n} samples", hint)
    return epochs


def sizes_of(epoch: Sequence[torch.Tensor]) -> list[int]:
    return [len(b) for b in epoch]


def replay(model: Build, state_dict: dict, X: torch.Tensor, y: torch.Tensor, batches: Sequence[torch.Tensor], *,
           lr: float, dtype: torch.dtype | None = None, epochs: int | None = None, prop: str = "training", hint: str = "") -> dict:
    """Trusted training on the given batches, in this process: for each batch in turn, clear
    the gradients, the mean cross-entropy of its rows, backward, one Adam(lr) step.  No more
    is replayed than `epochs` passes over `X` allow (`within_bounds`; `recorded_batches`
    has already refused a record that claims more).

    Returns the trained `state_dict` and `step_losses` (one float per batch)."""
    within_bounds(len(batches), sum(len(b) for b in batches), len(X), epochs, prop, hint)
    net = build_model(None, model, state_dict, dtype)
    adam = torch.optim.Adam(net.parameters(), lr=lr)
    step_losses = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for batch in batches:
            adam.zero_grad()
            batch_loss = F.cross_entropy(net(X[batch]), y[batch])
            batch_loss.backward()
            adam.step()
            step_losses.append(batch_loss.item())
    finally:
        torch.set_num_threads(threads)
    return {"state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()}, "step_losses": step_losses}


def epoch_losses(step_losses: Sequence[float], epochs: Sequence[Sequence[torch.Tensor]]) -> list[float]:
    """SPEC's mean loss over samples per epoch: batch losses weighted by batch size."""
    out, i = [], 0
    for epoch in epochs:
        n = sum(len(b) for b in epoch)
        out.append(sum(step_losses[i + j] * len(b) for j, b in enumerate(epoch)) / n)
        i += len(epoch)
    return out


def same_weights(actual: Any, expected: dict[str, torch.Tensor]) -> bool:
    """`actual` holds every tensor of `expected`, equal within the dtype's tolerance."""
    if not isinstance(actual, dict):
        return False
    for name, value in expected.items():
        got = actual.get(name)
        if type(got) is not torch.Tensor or got.shape != value.shape or got.dtype != value.dtype:
            return False
        rtol, atol = tolerances(value.dtype)
        if not torch.allclose(got, value, rtol=rtol, atol=atol):
            return False
    return True


def one_epoch(order: torch.Tensor, n: int, what: str, prop: str, hint: str) -> None:
    """Fail `prop` unless `order` (indices, from a record) visits each of `n` samples exactly once."""
    if order.dim() != 1 or len(order) != n:
        fail(prop, f"{what} visits {order.numel()} samples, where one epoch over {n} samples visits {n} "
                   "(was the run asked for one epoch trained for more?)", hint)
    if not torch.equal(order.sort().values, torch.arange(n, dtype=order.dtype)):
        fail(prop, f"{what} does not visit each of the {n} samples exactly once", hint)


def rearranged(X: torch.Tensor, y: torch.Tensor, positions: torch.Tensor, rows: torch.Tensor, *,
               prop: str = "training", hint: str = "") -> tuple[torch.Tensor, torch.Tensor]:
    """`X`, `y` with their rows moved so that visiting `positions` (one epoch's order) meets
    the rows `rows` of the originals: `X'[positions[k]] = X[rows[k]]`.

    A loop whose order depends only on its seed and the number of samples visits the same
    positions of the rearranged data as of the original; with `rows` the order another run
    visited, the run on the rearranged data must then train exactly as that other run did —
    a check of the record against the loop's own behaviour, whatever its steps are.  Both
    orders come from records, so each must be one epoch (`one_epoch`), or `prop` fails."""
    one_epoch(positions, len(X), "the order the run reported", prop, hint)
    one_epoch(rows, len(X), "the order the other run reported", prop, hint)
    source = torch.empty_like(positions)
    source[positions] = rows
    return X[source], y[source]
