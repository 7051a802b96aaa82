"""Probes and trusted parts for the mlp assignment.

- `trusted_linear(layer)`: PyTorch's own `nn.Linear` with the sizes (and bias) the student's
  `MLP` gave one of its layers.  The MLP tests put it into the built model by where SPEC puts
  the layers (`TRUSTED_LAYERS`: every child of `MLP.layers`), so they grade the MLP and not
  its `Linear`, however the student's code refers to its own `Linear`.  It takes the
  student's layer's class too (`adopt`): an MLP may call a private helper of its own
  `Linear` (`layer._affine(x)`), which then runs on the trusted layer's weights.
- `TRUSTED_RELU`: the student's module-level `relu` replaced by PyTorch's for one probe call.
  A function has no place in the built model, so this is a name patch: an MLP that bound
  `relu` at import time (an alias, a default argument) keeps its own — correct code loses
  nothing by it.
The training tests use the core probe `train`, which records the rows of every optimiser
step for the judge to check and replay (`autograder.checks.replay`).
"""

from __future__ import annotations

from typing import Any

import torch

from autograder.worker.forbidden import trust
from autograder.worker.spec import adopt


def _size(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def layer_sizes(layer: Any) -> tuple[int, int] | None:
    """(in_features, out_features) of a student's `Linear`: its `in_features`/`out_features`
    attributes when they agree with its weight's size (so a layer whose weight is stored the
    wrong way round still says what the MLP asked for), else SPEC's `weight (out, in)`.
    Where the two readings differ (attributes named the other way round, or a weight stored
    `(in, out)`), the one the layer computes decides: it maps a row of zeros of that many
    features to that many outputs."""
    weight = getattr(layer, "weight", None)
    n_in, n_out = _size(getattr(layer, "in_features", None)), _size(getattr(layer, "out_features", None))
    named = (n_in, n_out) if n_in and n_out and (not isinstance(weight, torch.Tensor) or weight.numel() == n_in * n_out) else None
    spec = (int(weight.shape[1]), int(weight.shape[0])) if isinstance(weight, torch.Tensor) and weight.dim() == 2 else None
    if named and spec and named != spec:
        for sizes in (spec, named):
            if _computes(layer, sizes, weight):
                return sizes
    return named or spec


def _computes(layer: Any, sizes: tuple[int, int], weight: torch.Tensor) -> bool:
    """Whether `layer` maps one row of `sizes[0]` zeros to `sizes[1]` outputs."""
    try:
        with torch.no_grad():
            out = layer(torch.zeros(1, sizes[0], dtype=weight.dtype, device=weight.device))
    except Exception:  # the student's forward, on a size it does not take
        return False
    return isinstance(out, torch.Tensor) and tuple(out.shape) == (1, sizes[1])


def trusted_linear(layer: Any) -> Any:
    """`nn.Linear` in the place and class of the student's layer (`adopt`), with its sizes;
    without a bias only when the layer was built with `bias=None` (the MLP asked for no
    bias).  A child of `layers` that is no linear layer is left as it is."""
    sizes = layer_sizes(layer)
    if sizes is None:
        return layer
    return adopt(trust(torch.nn.Linear)(*sizes, bias=getattr(layer, "bias", True) is not None), layer)


TRUSTED_LAYERS = "autograder.worker.probes.mlp:trusted_linear"
TRUSTED_RELU = {"relu": "torch.nn.functional:relu"}
