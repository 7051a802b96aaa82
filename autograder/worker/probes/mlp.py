"""Probes and trusted parts for the mlp assignment.

- `trusted_linear(layer)`: PyTorch's own `nn.Linear` with the sizes (and bias) the student's
  `MLP` gave one of its layers.  The MLP tests put it into the built model by where SPEC puts
  the layers (`TRUSTED_LAYERS`: every child of `MLP.layers`), so they grade the MLP and not
  its `Linear`, however the student's code refers to its own `Linear`.
- `TRUSTED_RELU`: the student's module-level `relu` replaced by PyTorch's for one probe call.
  A function has no place in the built model, so this is a name patch: an MLP that bound
  `relu` at import time (an alias, a default argument) keeps its own — correct code loses
  nothing by it.
- probe `train_steps`: runs the student's training function and records, for every optimiser
  step, the rows of `X` whose logits that step's gradient came from.  The judge checks the
  batches itself and replays them with a trusted loop (`autograder.checks.replay`).
"""

from __future__ import annotations

from typing import Any

import torch

from autograder.worker.probes import probe
from autograder.worker.probes.core import build_model, plain
from autograder.worker.spec import Build, resolve
from torch.optim.optimizer import register_optimizer_step_post_hook


def _size(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def layer_sizes(layer: Any) -> tuple[int, int] | None:
    """(in_features, out_features) of a student's `Linear`: its `in_features`/`out_features`
    attributes when they agree with its weight's size (so a layer whose weight is stored the
    wrong way round still says what the MLP asked for), else SPEC's `weight (out, in)`."""
    weight = getattr(layer, "weight", None)
    n_in, n_out = _size(getattr(layer, "in_features", None)), _size(getattr(layer, "out_features", None))
    if n_in and n_out and (not isinstance(weight, torch.Tensor) or weight.numel() == n_in * n_out):
        return n_in, n_out
    if isinstance(weight, torch.Tensor) and weight.dim() == 2:
        return int(weight.shape[1]), int(weight.shape[0])
    return None


def trusted_linear(layer: Any) -> Any:
    """`nn.Linear` in place of the student's layer, with its sizes; without a bias only when
    the layer was built with `bias=None` (the MLP asked for no bias).  A child of `layers`
    that is no linear layer is left as it is."""
    sizes = layer_sizes(layer)
    if sizes is None:
        return layer
    return torch.nn.Linear(*sizes, bias=getattr(layer, "bias", True) is not None)


TRUSTED_LAYERS = "autograder.worker.probes.mlp:trusted_linear"
TRUSTED_RELU = {"relu": "torch.nn.functional:relu"}


@probe
def train_steps(
    module: Any,
    *,
    model: Build,
    state_dict: dict | None,
    train: str,
    X: torch.Tensor,
    y: torch.Tensor,
    train_kwargs: dict,
    dtype: torch.dtype | None = None,
) -> dict:
    """Train the built model with the module's own `train` function, on one thread.

    Every forward of the model whose output later receives a gradient contributes its input
    rows to the next optimiser step, so what a step trained on is seen whatever the loop
    does besides (extra forwards for logging, a forward per sample, `no_grad` evaluation).

    Returns `losses` (what `train` returned), the trained `state_dict`, `rows` (every row
    trained on, step after step, concatenated), `step_rows` (how many rows each optimiser
    step trained on) and `left_over` (rows whose gradient no step used).
    """
    obj = build_model(module, model, state_dict, dtype)
    pending: list[torch.Tensor] = []
    steps: list[torch.Tensor] = []

    def seen(mod: Any, args: Any, out: Any) -> None:
        if not (isinstance(out, torch.Tensor) and out.requires_grad and args and isinstance(args[0], torch.Tensor)):
            return
        rows = args[0].detach().clone()
        out.register_hook(lambda grad: pending.append(rows))  # runs only if a backward reaches `out`

    def stepped(optimizer: Any, args: Any, kwargs: Any) -> None:
        steps.append(torch.cat(pending) if pending else X[:0].clone())
        pending.clear()

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: extra threads only slow training down on a busy machine
    handles = [obj.register_forward_hook(seen), register_optimizer_step_post_hook(stepped)]
    try:
        losses = resolve(module, train)(obj, X, y, **train_kwargs)
    finally:
        for handle in handles:
            handle.remove()
        torch.set_num_threads(threads)
    return {
        "losses": plain(losses),
        "state_dict": plain(dict(obj.state_dict())),
        "rows": torch.cat(steps) if steps else X[:0].clone(),
        "step_rows": [len(s) for s in steps],
        "left_over": sum(len(p) for p in pending),
    }
