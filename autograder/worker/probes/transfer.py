"""Probes and trusted building blocks for the transfer assignment.

Each probe prepares the model with trusted code (the grader sets which parameters train
itself, by their full names — `set_trainable` — and sends whole state dicts), then calls
ONE of the student's functions, so a bug costs the points of the function it is in.

A probe returns raw data only — gradients as tensors, the `state_dict` (weights AND
buffers), outputs — never a verdict or a flag about the student's code: the student's
code runs in this process and could rewrite any of it.  The judge repeats the
computation itself with trusted copies of the same models (`SmallNet`, `TinyNet`,
`ModeNet`, built in its own process) and compares.  What only this process can see (the
optimiser's parameter list, the grad mode inside a call, a head's device on `meta`) is
either not graded or, for the device, reported as a documented residual.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from typing import Any, Iterable, Sequence

import torch
import torch.nn as nn

from autograder.worker.probes import probe
from autograder.worker.probes.core import StepRecorder, build_model, parameters_of, plain
from autograder.worker.spec import Build, resolve

#: `freeze_grads` without `trainable`: call `freeze(model)` and let its default apply.
_DEFAULT: Any = object()


class TinyNet(nn.Module):
    """A BatchNorm-free `backbone` + `head` model for grading the training loop alone;
    `head_bias=False`: a head without a bias, `head_dtype="float64"`: a head of that dtype
    alone (the features are cast to it), for the tests of what a new head takes from the old.

    Shape: `(B, 6) -> (B, 3)`; parameters `backbone.fc1.*`, `backbone.fc2.*`, `head.*`.
    """

    def __init__(self, in_features: int = 6, hidden: int = 12, features: int = 8, num_classes: int = 3, *,
                 head_bias: bool = True, head_dtype: str | None = None) -> None:
        super().__init__()
        self.backbone = nn.Sequential(OrderedDict([
            ("fc1", nn.Linear(in_features, hidden)), ("relu1", nn.Tanh()),
            ("fc2", nn.Linear(hidden, features)), ("relu2", nn.Tanh()),
        ]))
        self.head = nn.Linear(features, num_classes, bias=head_bias,
                              dtype=getattr(torch, head_dtype) if head_dtype else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x).to(self.head.weight.dtype))


class NormNet(nn.Module):
    """A `backbone` + `head` model with normalisation layers other than SmallNet's BatchNorm2d:
    `backbone.bn` a BatchNorm1d with parameters, `backbone.plain` a BatchNorm1d without any
    (`affine=False`) — both keep their running statistics when frozen (SPEC's "or that have none").

    Shape: `(B, 6) -> (B, 3)`; parameters `backbone.bn.*`, `backbone.fc.*`, `head.*`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(OrderedDict([
            ("bn", nn.BatchNorm1d(6)), ("fc", nn.Linear(6, 8)), ("plain", nn.BatchNorm1d(8, affine=False)), ("act", nn.Tanh()),
        ]))
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


class NestedNormNet(nn.Module):
    """BatchNorm layers where SmallNet and NormNet have none: `backbone.block.bn`, two levels
    down (as in a ResNet's blocks), and `norm`, outside the backbone.  Frozen, each keeps
    its statistics.

    Shape: `(B, 6) -> (B, 3)`; parameters `backbone.fc.*`, `backbone.block.bn.*`, `norm.*`, `head.*`.
    """

    def __init__(self) -> None:
        super().__init__()
        block = nn.Sequential(OrderedDict([("bn", nn.BatchNorm1d(6))]))
        self.backbone = nn.Sequential(OrderedDict([("fc", nn.Linear(6, 6)), ("block", block), ("act", nn.Tanh())]))
        self.norm = nn.BatchNorm1d(6)
        self.head = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.backbone(x)))


# -- ModeNet: a model whose output shows the training mode of every submodule ------------------

class MarkedLinear(nn.Linear):
    """`nn.Linear` that adds `mark` to its output in training mode."""

    def __init__(self, in_features: int, out_features: int, mark: float) -> None:
        super().__init__(in_features, out_features)
        self.mark = mark

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) + self.mark * self.training


class MarkedTanh(nn.Module):
    """`tanh` that adds `mark` to its output in training mode."""

    def __init__(self, mark: float) -> None:
        super().__init__()
        self.mark = mark

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x) + self.mark * self.training


class MarkedSequential(nn.Sequential):
    """`nn.Sequential` that adds `mark` to its output in training mode."""

    def __init__(self, layers: OrderedDict, mark: float) -> None:
        super().__init__(layers)
        self.mark = mark

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) + self.mark * self.training


class ModeNet(nn.Module):
    """A `backbone` + `head` model in which EVERY submodule's training mode changes the output.

    `backbone` = `bn` (BatchNorm1d: batch statistics in training mode) → `fc1` → `act` →
    `fc2`; each marked layer, the backbone itself, the head and the model add their own
    constant in training mode (after the BatchNorm, so no mark is normalised away).  The
    judge runs the same model in the modes it expects and compares outputs: a mode only
    this process could see becomes a number the judge checks.

    Shape: `(B, 6) -> (B, 3)`; `backbone(x)` is `(B, 8)`.  B ≥ 2 in training mode.
    """

    def __init__(self) -> None:
        super().__init__()
        self.backbone = MarkedSequential(OrderedDict([
            ("bn", nn.BatchNorm1d(6)),
            ("fc1", MarkedLinear(6, 8, 0.5)),
            ("act", MarkedTanh(0.25)),
            ("fc2", MarkedLinear(8, 8, 0.125)),
        ]), mark=0.0625)
        self.head = MarkedLinear(8, 3, 0.03125)
        self.mark = 0.015625

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x)) + self.mark * self.training


def set_trainable(model: nn.Module, names: Iterable[str]) -> None:
    """`requires_grad` True exactly for the parameters whose full name is in `names`
    (the judge works the names out; no prefix rules here)."""
    wanted = set(names)
    unknown = wanted - set(parameters_of(model))
    if unknown:
        raise LookupError(f"the model has no parameter {sorted(unknown)[0]!r}")
    for name, parameter in parameters_of(model).items():
        parameter.requires_grad_(name in wanted)


def set_modes(model: nn.Module, eval_modules: Sequence[str]) -> None:
    """Training mode everywhere, except the submodules named in `eval_modules` ("" = the model)."""
    model.train()
    for name in eval_modules:
        model.get_submodule(name).training = False


def grads_of(model: nn.Module) -> dict:
    """Every parameter's `.grad` (a tensor, or None), by name."""
    return {name: plain(p.grad) for name, p in parameters_of(model).items()}


def _backward(out: Any, cotangent: torch.Tensor | None) -> None:
    if isinstance(out, torch.Tensor) and out.requires_grad and cotangent is not None:
        out.backward(cotangent.to(out.dtype))


# -- freeze ------------------------------------------------------------------------------------

@probe
def freeze_grads(
    module: Any,
    *,
    model: Build,
    x: torch.Tensor,
    cotangent: torch.Tensor,
    trainable: Any = _DEFAULT,
    state_dict: dict | None = None,
    dtype: torch.dtype | None = None,
    start: bool | None = None,
    one_pass: bool = False,
) -> dict:
    """Call the module's `freeze(model, trainable)` (`freeze(model)` when `trainable` is
    not given; `one_pass`: the prefixes as an iterator, which can be read once) on a built
    model whose parameters all have `requires_grad = start` (unless None); then run the
    model in eval mode on `x` and backpropagate `cotangent`.

    Returns `grads`: every parameter's `.grad` — None for a frozen parameter, the gradient
    the judge recomputes for a trainable one.
    """
    obj = build_model(module, model, state_dict, dtype)
    if start is not None:
        for parameter in obj.parameters():
            parameter.requires_grad_(start)
    freeze = resolve(module, "freeze")
    if trainable is _DEFAULT:
        freeze(obj)
    else:
        freeze(obj, iter(trainable) if one_pass else trainable)
    obj.eval()
    _backward(obj(x), cotangent)
    return {"grads": grads_of(obj)}


# -- replace_head ------------------------------------------------------------------------------

@probe
def replace_head_run(
    module: Any,
    *,
    model: Build,
    num_classes: int,
    state_dict: dict | None = None,
    dtype: torch.dtype | None = None,
    device: str | None = None,
    head_device: str | None = None,
    frozen: bool = False,
    x: torch.Tensor | None = None,
    cotangent: torch.Tensor | None = None,
) -> dict:
    """Call the module's `replace_head(model, num_classes)` on a built model (cast to
    `dtype`, moved to `device`, its head alone moved to `head_device`, every parameter
    frozen with `frozen`).

    Returns `state_dict` (the model passed in, after the call) and `returned` (the
    `state_dict` of what the call returned, or that value itself when it is no module);
    with `x`: the returned model's `output` in eval mode and, after backpropagating
    `cotangent`, every parameter's `grads` (or `output_error`, what the forward pass
    raised); `devices`: each returned parameter's device, by name — the only fact here the
    judge cannot check (a `meta` tensor cannot travel).  On `meta`, no tensors come back.
    """
    obj = build_model(module, model, state_dict, dtype)
    if device is not None:
        obj.to(device)
    if head_device is not None:
        obj.head.to(head_device)
    if frozen:
        set_trainable(obj, ())
    returned = resolve(module, "replace_head")(obj, num_classes)
    is_model = isinstance(returned, nn.Module)
    result: dict = {"devices": {n: str(p.device) for n, p in parameters_of(returned).items()} if is_model else None}
    if "meta" in (device, head_device):
        return result
    result["state_dict"] = plain(dict(obj.state_dict()))
    result["returned"] = plain(dict(returned.state_dict())) if is_model else plain(returned)
    if x is not None and is_model:
        returned.eval()
        try:
            out = returned(x)
        except Exception as exc:  # reported: the judge first names the wrong layer shape
            result["output_error"] = f"{type(exc).__name__}: {exc}"[:500]
            return result
        _backward(out, cotangent)
        result["output"] = plain(out)
        result["grads"] = grads_of(returned)
    return result


# -- extract_features --------------------------------------------------------------------------

@probe
def extract_features_run(
    module: Any,
    *,
    model: Build,
    state_dict: dict | None,
    X: torch.Tensor,
    eval_modules: Sequence[str] = (),
    dtype: torch.dtype | None = None,
    readout: torch.Tensor | None = None,
    cotangent: torch.Tensor | None = None,
    X_after: torch.Tensor | None = None,
    caller_no_grad: bool = False,
    cotangent_after: torch.Tensor | None = None,
) -> dict:
    """Call the module's `extract_features(model, X)` on a model in training mode (but for
    `eval_modules`).

    Returns `output` (what the call returned) and `state_dict` (right after the call:
    eval mode keeps BatchNorm buffers as they were); with `readout` (the weight `W` of a
    trusted linear layer) and `cotangent` `C`: the features used in autograd afterwards,
    as a student would — `readout_grad` = d<C, features @ W.T>/dW (or `readout_error`,
    what using them raised, e.g. for an inference tensor), then `grads`, every model
    parameter's `.grad` (a features tensor that carries the backbone's graph gives them
    one); with `X_after`: `after`, the model's output on `X_after` once the call is over,
    with the weights and buffers reset to `state_dict` — on a `ModeNet` it shows the
    training mode every submodule was left in.  `caller_no_grad`: the call and the
    read-out's forward pass run inside the caller's `torch.no_grad()` block (its backward
    after it), as a caller that computes features for storage would: a read-out that then
    builds a graph (a `readout_grad`) shows autograd was switched back on.  With
    `cotangent_after`: `grads_after`, every parameter's gradient of a forward and backward
    pass of the model on `X` once the call is over (a parameter the call left frozen gets
    none).
    """
    obj = build_model(module, model, state_dict, dtype)
    set_modes(obj, eval_modules)
    weight = product = None
    result: dict = {}
    with torch.no_grad() if caller_no_grad else contextlib.nullcontext():
        out = resolve(module, "extract_features")(obj, X)
        if readout is not None and isinstance(out, torch.Tensor):
            try:
                weight = readout.detach().clone().to(out.dtype).requires_grad_(True)
                product = out @ weight.T
            except RuntimeError as exc:
                result["readout_error"] = f"{type(exc).__name__}: {exc}"[:500]
    result.update({"output": plain(out), "state_dict": plain(dict(obj.state_dict()))})
    if readout is not None and isinstance(out, torch.Tensor):
        if product is not None:
            try:
                _backward(product, cotangent)
                result["readout_grad"] = plain(weight.grad)
            except RuntimeError as exc:
                result["readout_error"] = f"{type(exc).__name__}: {exc}"[:500]
        result["grads"] = grads_of(obj)
    if cotangent_after is not None:
        for parameter in obj.parameters():
            parameter.grad = None
        _backward(obj(X), cotangent_after)
        result["grads_after"] = grads_of(obj)
    if X_after is not None:
        if state_dict is not None:
            obj.load_state_dict(state_dict)
        with torch.no_grad():
            result["after"] = plain(obj(X_after))
    return result


# -- fine_tune ---------------------------------------------------------------------------------

@probe
def fine_tune_run(
    module: Any,
    *,
    model: Build,
    state_dict: dict | None,
    trainable: Sequence[str],
    X: torch.Tensor,
    y: torch.Tensor,
    train_kwargs: dict,
    dtype: torch.dtype | None = None,
    grads_before: dict | None = None,
    mode: str = "train",
    trajectory: int | None = None,
) -> dict:
    """Make exactly the parameters named in `trainable` trainable (the grader's own
    freezing, by full names), put the model in `mode` ("train", or "eval" as
    `load_pretrained` returns it), give the parameters named in `grads_before` that
    `.grad` (a stale gradient, as an earlier backward pass would leave), then call the
    module's `fine_tune(model, X, y, **train_kwargs)`.

    Returns `losses` (what `fine_tune` returned), the `state_dict` after (weights and
    buffers: the judge evaluates them on its own trusted model, so held-out data never
    comes here) and `grads`, every parameter's `.grad` after; with `trajectory`, also the
    rows each step trained on and the trainable weights after each of the first
    `trajectory` steps (`core.StepRecorder`), for the judge to check every step.  Runs on
    one thread (as in the sandbox), also in-process: the models are tiny, and extra
    threads only slow them down on a busy machine.
    """
    obj = build_model(module, model, state_dict, dtype)
    set_trainable(obj, trainable)
    obj.train(mode == "train")
    parameters = parameters_of(obj)
    for name, grad in (grads_before or {}).items():
        parameters[name].grad = grad.detach().clone().to(parameters[name].dtype)
    recorder = StepRecorder(obj, X, trajectory) if trajectory is not None else None
    with recorder or contextlib.nullcontext():
        losses = resolve(module, "fine_tune")(obj, X, y, **train_kwargs)
    steps = recorder.record() if recorder else {}
    return {"losses": plain(losses), "state_dict": plain(dict(obj.state_dict())), "grads": grads_of(obj), **steps}
