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

import math
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from autograder.checks.base import CheckFailed, expect_tensor, fail, tolerances
from autograder.worker.probes import one_thread
from autograder.worker.probes.core import build_model
from autograder.worker.spec import Build

#: how a model runs while it trains: "train", "eval", or eval but for the submodules named
#: (`{"backbone.bn": True}`: that one in training mode)
Mode = str | dict[str, bool]

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
        took = f"the training took {steps} optimiser steps whose losses came from {rows} rows"
        if epochs is not None:
            fail(prop, f"{took}, but epochs={epochs} over {n} samples visit {most} rows, in at most {most} steps: "
                       "each step's loss should come from its own batch's rows only (forward X[batch], not all of X)", hint)
        fail(prop, f"{took}: more than the grader replays (at most {most} rows in {most} steps: "
                   f"{MAX_EPOCHS} passes over the {n} samples)", hint)


def recorded_batches(result: Any, X: torch.Tensor, prop: str, hint: str, *, epochs: int | None = None,
                     inputs: Callable[[str], torch.Tensor | None] | None = None) -> list[torch.Tensor]:
    """The index batches of every optimiser step a `train` result reports, checked to be
    rows of `X` (whose rows must be distinct) and no more than `epochs` passes over `X`
    allow (see `within_bounds`; pass the request's `epochs` where it is known).

    A step whose rows came through a submodule (`step_entry` names it: a loop that calls
    `model.head(features)` or each layer in turn) is mapped back to rows of `X` through
    `inputs(name)`, that submodule's inputs for every row of `X` (N, ...) computed by the
    judge — to within rounding, as a batch may be computed otherwise than all of `X`."""
    if not isinstance(result, dict):
        fail(prop, "training gave back no record of its steps", hint)
    rows = expect_tensor(result.get("rows"), "the rows trained on", prop, hint=hint)
    if not rows.is_floating_point():
        fail(prop, f"the rows trained on have dtype {rows.dtype}, where X is {X.dtype}", hint)
    rows = rows.to(X.dtype)  # a loop may feed its model X in another precision: the rows are X's all the same
    sizes = result.get("step_rows")
    if not isinstance(sizes, list):
        fail(prop, "training gave back no record of its steps", hint)
    within_bounds(len(sizes), len(rows) if rows.dim() else 0, len(X), epochs, prop, hint)
    if not all(type(s) is int and s >= 0 for s in sizes):
        fail(prop, "training gave back no record of its steps", hint)
    if not sizes:
        fail(prop, "train_classifier took no optimiser step", hint)
    entries = result.get("step_entry", [""] * len(sizes))
    if not (isinstance(entries, list) and len(entries) == len(sizes) and all(type(e) is str for e in entries)):
        fail(prop, "the record of the rows trained on is inconsistent", hint)
    # without `inputs`, a submodule's rows must be rows of X themselves (the first layer's)
    candidates = {name: X if not name or inputs is None else inputs(name) for name in set(entries)}
    if any(c is None or rows.shape[1:] != c.shape[1:] for c in candidates.values()) or rows.dim() < 1 or sum(sizes) != len(rows):
        fail(prop, "the record of the rows trained on is inconsistent", hint)
    rows_of: dict[str, list[int]] = {name: [] for name in candidates}  # each entry's rows, looked up at once below
    start = 0
    for name, size in zip(entries, sizes):
        rows_of[name] += range(start, start + size)
        start += size
    index: list[int | None] = [None] * len(rows)
    for name, at in rows_of.items():
        if at:  # an entry with only steps of no rows has nothing to look up (told apart below)
            for k, i in zip(at, _indices_in(rows[at], candidates[name], exact=not name or inputs is None)):
                index[k] = i
    if None in index:
        fail(prop, "the model was trained on rows that are not rows of X", hint)
    if 0 in sizes:
        step = sizes.index(0) + 1
        fail(prop, f"optimiser step {step} trained on no row the grader could see: call the model (or its layers) on "
                   "rows of X, as `model(X[batch])`", hint)
    return list(torch.tensor(index, dtype=torch.long).split(sizes))


def _indices_in(rows: torch.Tensor, candidates: torch.Tensor, *, exact: bool) -> list[int | None]:
    """For each row of `rows`, the index of the equal row of `candidates` (whose rows must be
    distinct); unless `exact`, the nearest one within 1e-4 of the candidates' scale."""
    flat = candidates.reshape(len(candidates), -1)
    where = {row.tobytes(): i for i, row in enumerate(flat.contiguous().numpy())}
    assert len(where) == len(candidates), "the judge's X must have distinct rows"
    index: list[int | None] = [where.get(row.tobytes()) for row in rows.reshape(len(rows), -1).contiguous().numpy()]
    missing = [k for k, i in enumerate(index) if i is None]
    if missing and not exact and len(candidates):
        flat = flat.double()
        scale = 1e-4 * float(flat.abs().max().clamp_min(1.0))
        for chunk in torch.tensor(missing).split(1024):  # a forged record's rows cost the judge bounded memory
            nearest = torch.cdist(rows[chunk].reshape(len(chunk), -1).double(), flat).min(dim=1)
            for k, distance, i in zip(chunk.tolist(), nearest.values.tolist(), nearest.indices.tolist()):
                index[k] = i if distance <= scale else None
    return index


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
           lr: float, dtype: torch.dtype | None = None, epochs: int | None = None, prop: str = "training", hint: str = "",
           trainable: Sequence[str] | None = None) -> dict:
    """Trusted training on the given batches, in this process: for each batch in turn, clear
    the gradients, the mean cross-entropy of its rows, backward, one Adam(lr) step over the
    parameters named in `trainable` (None: all).  No more is replayed than `epochs` passes
    over `X` allow (`within_bounds`; `recorded_batches` has already refused a record that
    claims more).

    Returns the trained `state_dict` and `step_losses` (one float per batch)."""
    within_bounds(len(batches), sum(len(b) for b in batches), len(X), epochs, prop, hint)
    net = build_model(None, model, state_dict, dtype)
    for name, parameter in net.named_parameters():
        parameter.requires_grad_(trainable is None or name in trainable)
    adam = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=lr)
    step_losses = []
    with one_thread():
        for batch in batches:
            adam.zero_grad()
            batch_loss = F.cross_entropy(net(X[batch]), y[batch])
            batch_loss.backward()
            adam.step()
            step_losses.append(batch_loss.item())
    return {"state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()}, "step_losses": step_losses}


def epoch_losses(step_losses: Sequence[float], epochs: Sequence[Sequence[torch.Tensor]]) -> list[float]:
    """SPEC's mean loss over samples per epoch: batch losses weighted by batch size."""
    out, i = [], 0
    for epoch in epochs:
        n = sum(len(b) for b in epoch)
        out.append(sum(step_losses[i + j] * len(b) for j, b in enumerate(epoch)) / n)
        i += len(epoch)
    return out


def replayed_epoch_losses(result: Any, model: Build, start: dict, X: torch.Tensor, y: torch.Tensor, *, lr: float, epochs: int,
                          dtype: torch.dtype | None, prop: str, hint: str, trainable: Sequence[str] | None = None) -> list[float] | None:
    """SPEC's losses per epoch for the run `result` reports: its recorded batches replayed
    from `start` (`replay`, training `trainable`), each batch's loss weighted by its size
    (`epoch_losses`).  None where the record cannot be replayed, or its replay does not give
    the run's weights: the tests of the batches and of the steps say why, a test of the
    losses need not.

    Example (a loop that logs the unweighted mean of its batch losses differs here at lr > 0):
        >>> expected = replayed_epoch_losses(result, SMALL, sd, X, y, lr=0.05, epochs=2, dtype=torch.float64,
        ...                                  prop="mean loss per epoch", hint="")
    """
    if not isinstance(result, dict):
        return None
    try:
        batches = recorded_batches(result, X, prop, hint, epochs=epochs, inputs=lambda name: _inputs_of(model, start, X, name, dtype))
        replayed = replay(model, start, X, y, batches, lr=lr, dtype=dtype, epochs=epochs, prop=prop, hint=hint, trainable=trainable)
        split = epochs_of(batches, len(X), prop, hint)
    except CheckFailed:
        return None
    if not same_weights(result.get("state_dict"), replayed["state_dict"]):
        return None
    return epoch_losses(replayed["step_losses"], split)


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


#: How far (in units of `lr`) a recorded step may stray from the judge's Adam step from the
#: same weights: honest float32 loops stray ≈ 2e-5 (summation order), any other recipe by
#: far more than this.
STEP_TOLERANCE = 1e-3


def expect_adam_steps(result: Any, *, model: Build, start: dict, X: torch.Tensor, y: torch.Tensor, lr: float,
                      epochs: int, most_steps: int, prop: str, hint: str, trainable: Sequence[str] | None = None,
                      modes: Sequence[Mode] = ("train",), dtype: torch.dtype | None = None) -> None:
    """Fail `prop` unless the weights a training run returned are the end of Adam(lr) steps,
    each on the mean cross-entropy of the batch it reports, each from the weights the step
    before left — checked step by step, here, against the record's `trajectory` (the
    trained weights after every step).

    A whole run cannot be replayed to the bit (a rounding difference grows into another
    minimum over hundreds of steps), but one step can: the judge loads the weights before
    each step into a trusted `model` (from `start`), takes the gradient itself and steps
    its own Adam, whose state it carries along.  So weights trained elsewhere (another
    recipe, another loop, a forged probe's) cannot pass for the student's training.

    Args:
        epochs: the most passes over `X` the run may make (`recorded_batches`).
        most_steps: the most steps the run may take: the trajectory the probe was asked for.
        trainable: the names of the parameters trained (None: all of them), in the
            model's order — the columns of the trajectory.
        modes: the training modes the model may have run in, tried in turn (a frozen
            BatchNorm's batch statistics in "train" mode are not a different recipe).
    """
    batches, path, names = _trajectory(result, model=model, start=start, X=X, epochs=epochs, most_steps=most_steps, prop=prop,
                                       hint=hint, trainable=trainable, dtype=dtype)
    strays = []
    for mode in modes:
        stray = _first_stray(model, start, X, y, batches, path, names, lr=lr, mode=mode, dtype=dtype)
        if stray is None:
            return
        strays.append(stray)
    step, by = max(strays, key=lambda s: s[0])  # the mode that explains the most steps
    fail(prop, f"optimiser step {step + 1} of {len(batches)} is not an Adam(lr={lr:g}) step on the mean cross-entropy of its "
               f"batch, from the weights the step before left (a weight is {by:.2g}·lr away from the judge's step)", hint)


def modes_explaining(result: Any, *, model: Build, start: dict, X: torch.Tensor, y: torch.Tensor, lr: float, epochs: int,
                     most_steps: int, modes: Sequence[Mode], trainable: Sequence[str] | None = None,
                     dtype: torch.dtype | None = None) -> list[Mode] | None:
    """The `modes` under which every step of a training run is the judge's Adam(lr) step
    (`expect_adam_steps`): how the model's layers ran, seen in the numbers — a BatchNorm
    in training mode normalises by its batch's statistics.  None where the record holds no
    trajectory of the steps it reports (the tests of the loop say why).

    Example (frozen normalisation layers belong in eval mode):
        >>> modes_explaining(result, model=NORMNET, start=sd, X=X, y=y, lr=0.01, epochs=2, most_steps=6,
        ...                  modes=("eval", {"backbone.bn": True}), trainable=names, dtype=torch.float64)
        [{'backbone.bn': True}]
    """
    try:
        batches, path, names = _trajectory(result, model=model, start=start, X=X, epochs=epochs, most_steps=most_steps,
                                           prop="training", hint="", trainable=trainable, dtype=dtype)
    except CheckFailed:
        return None
    return [mode for mode in modes if _first_stray(model, start, X, y, batches, path, names, lr=lr, mode=mode, dtype=dtype) is None]


def norms_in_training_mode(result: Any, *, model: Build, start: dict, norms: Sequence[str], X: torch.Tensor, y: torch.Tensor,
                           lr: float, epochs: int, most_steps: int, trainable: Sequence[str] | None = None,
                           dtype: torch.dtype | None = None) -> list[str] | None:
    """Which of the normalisation layers `norms` (their names) the steps of a training run show
    in training mode, normalising by each batch's statistics (`modes_explaining`, the rest of
    the model in eval mode): [] when the steps are those of every one in eval mode; None where
    no mode of them explains the steps (or the record holds none).  Statistics put back after
    the loop hide nothing here.

    Example (a frozen BatchNorm the loop left in training mode):
        >>> norms_in_training_mode(result, model=NORMNET, start=sd, norms=["backbone.bn", "backbone.plain"], X=X, y=y,
        ...                        lr=0.01, epochs=2, most_steps=6, trainable=names, dtype=torch.float64)
        ['backbone.bn']
    """
    modes = ["eval", *({layer: True} for layer in norms), "train"]
    explained = modes_explaining(result, model=model, start=start, X=X, y=y, lr=lr, epochs=epochs, most_steps=most_steps,
                                 modes=modes, trainable=trainable, dtype=dtype)
    if not explained:
        return None
    return [] if "eval" in explained else [layer for layer in norms if explained[0] == "train" or layer in explained[0]]


def _trajectory(result: Any, *, model: Build, start: dict, X: torch.Tensor, epochs: int, most_steps: int, prop: str, hint: str,
                trainable: Sequence[str] | None, dtype: torch.dtype | None) -> tuple[list[torch.Tensor], torch.Tensor, list[str]]:
    """A run's recorded batches, its weights after each step `(steps, trained weights)` in the
    model's dtype, and the names of the trained parameters; fails `prop` where the record
    does not hold together (more steps than asked, untrained weights changed, a trajectory
    that does not end at the returned weights)."""
    batches = recorded_batches(result, X, prop, hint, epochs=epochs, inputs=lambda name: _inputs_of(model, start, X, name, dtype))
    if len(batches) > most_steps:
        fail(prop, f"training took {len(batches)} optimiser steps, more than the {most_steps} the grader checks "
                   "(one step per batch of `batch_size` rows)", hint)
    path = expect_tensor(result.get("trajectory"), "the weights after each step", prop, hint=hint)
    net = build_model(None, model, start, dtype)
    params = dict(net.named_parameters())
    names = [n for n in params if trainable is None or n in trainable]
    assert names, "the judge checks the steps of a run that trains some parameter"
    width = sum(params[n].numel() for n in names)
    kind = params[names[0]].dtype
    returned = result.get("state_dict") if isinstance(result.get("state_dict"), dict) else {}
    for name, value in params.items():
        if name not in names and not (type(returned.get(name)) is torch.Tensor and torch.equal(returned[name], value.detach())):
            fail(prop, f"`{name}`, which the run was not to train, came back changed", hint)
    if tuple(path.shape) != (len(batches), width) or not path.is_floating_point():
        fail(prop, f"the record of the weights after each step has shape {tuple(path.shape)} and dtype {path.dtype}, "
                   f"where {len(batches)} steps of {width} trained weights each belong", hint)
    path = path.to(kind)  # a loop that trained (a copy) in another precision is checked in the model's
    ends = [returned.get(n) for n in names]
    if not all(type(v) is torch.Tensor and v.is_floating_point() for v in ends) or \
            not torch.equal(torch.cat([v.reshape(-1).to(kind) for v in ends]), path[-1]):
        fail(prop, "the weights training returned are not the weights after its last step", hint)
    return batches, path, names


def _inputs_of(model: Build, start: dict, X: torch.Tensor, name: str, dtype: torch.dtype | None) -> torch.Tensor | None:
    """What submodule `name` of a trusted `model` (from `start`, in eval mode) gets as its
    input for each row of `X`; None if it has no such submodule or never gets a tensor."""
    net = build_model(None, model, start, dtype).eval()
    module = dict(net.named_modules()).get(name)
    if module is None:
        return None
    seen: list[torch.Tensor] = []

    def keep(module: Any, args: tuple, kwargs: dict) -> None:
        if not seen:  # its first call
            seen.extend(a.detach() for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor))

    handle = module.register_forward_pre_hook(keep, with_kwargs=True)
    try:
        with torch.no_grad():
            net(X)
    finally:
        handle.remove()
    return seen[0].to(X.dtype) if seen and len(seen[0]) == len(X) else None


def _first_stray(model: Build, start: dict, X: torch.Tensor, y: torch.Tensor, batches: Sequence[torch.Tensor],
                 path: torch.Tensor, names: Sequence[str], *, lr: float, mode: Mode,
                 dtype: torch.dtype | None) -> tuple[int, float] | None:
    """The first step of `path` (and by how much, in units of `lr`) that is not the judge's
    Adam step from the weights before it, with the model in `mode`; None if every one is."""
    net = build_model(None, model, start, dtype)
    net.train(mode == "train")
    for name, training in (mode.items() if isinstance(mode, dict) else ()):
        net.get_submodule(name).train(training)
    params = dict(net.named_parameters())
    trained = [params[n] for n in names]
    for p in net.parameters():
        p.requires_grad_(any(p is q for q in trained))
    adam = torch.optim.Adam(trained, lr=lr)
    before = torch.cat([p.detach().reshape(-1) for p in trained])
    with one_thread():
        for k, batch in enumerate(batches):
            with torch.no_grad():
                for p, chunk in zip(trained, before.split([p.numel() for p in trained])):
                    p.copy_(chunk.view_as(p))
            adam.zero_grad()
            try:
                F.cross_entropy(net(X[batch]), y[batch]).backward()
            except (ValueError, RuntimeError):  # a batch the model cannot train on in this mode (one row for a BatchNorm1d
                return k, math.inf              # in training mode): no honest step was taken so, whatever the record claims
            adam.step()
            stray = float((torch.cat([p.detach().reshape(-1) for p in trained]) - path[k]).abs().max()) / max(lr, 1e-12)
            if not stray <= STEP_TOLERANCE:  # NaN strays too
                return k, stray
            before = path[k]
    return None
