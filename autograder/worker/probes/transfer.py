"""Probes and trusted building blocks for the transfer assignment.

Each probe prepares the model with trusted code (the grader sets which parameters train
itself, by their full names — `set_trainable` — and composes new heads as state dicts),
then calls ONE of the student's functions, so a bug costs the points of the function it
is in.  The probes report plain facts — flags, shapes, dtypes,
which parameters an optimiser received, the training modes seen during a call — and the
judge decides.
"""

from __future__ import annotations

import importlib
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Sequence

import torch
import torch.nn as nn

from autograder.worker.probes import probe
from autograder.worker.probes.core import build_model, plain
from autograder.worker.spec import Build, resolve


class TinyNet(nn.Module):
    """A BatchNorm-free `backbone` + `head` model for grading the training loop alone.

    Shape: `(B, 6) -> (B, 3)`; parameters `backbone.fc1.*`, `backbone.fc2.*`, `head.*`.
    """

    def __init__(self, in_features: int = 6, hidden: int = 12, features: int = 8, num_classes: int = 3) -> None:
        super().__init__()
        self.backbone = nn.Sequential(OrderedDict([
            ("fc1", nn.Linear(in_features, hidden)), ("relu1", nn.Tanh()),
            ("fc2", nn.Linear(hidden, features)), ("relu2", nn.Tanh()),
        ]))
        self.head = nn.Linear(features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def set_trainable(model: nn.Module, names: Iterable[str]) -> None:
    """`requires_grad` True exactly for the parameters whose full name is in `names`
    (the judge works the names out; no prefix rules here)."""
    wanted = set(names)
    unknown = wanted - {name for name, _ in model.named_parameters()}
    if unknown:
        raise LookupError(f"the model has no parameter {sorted(unknown)[0]!r}")
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name in wanted)


def modes_of(model: nn.Module) -> dict[str, bool]:
    """`module.training` of every submodule, by name ("" is the model itself)."""
    return {name: module.training for name, module in model.named_modules()}


@probe
def freeze_flags(module: Any, *, model: Build, trainable: Any, start: bool | None = None) -> dict:
    """Call the module's `freeze(model, trainable)` on a built model whose parameters all
    have `requires_grad = start` (unless None); report every parameter's flag after."""
    obj = build_model(module, model, None, None)
    if start is not None:
        for parameter in obj.parameters():
            parameter.requires_grad_(start)
    returned = resolve(module, "freeze")(obj, trainable)
    return {"requires_grad": {n: bool(p.requires_grad) for n, p in obj.named_parameters()},
            "returned_none": returned is None}


def _head_facts(head: Any, old: Sequence[torch.Tensor]) -> dict | None:
    if not isinstance(head, nn.Module):
        return None
    weight, bias = getattr(head, "weight", None), getattr(head, "bias", None)
    params = list(head.parameters())
    on_meta = any(p.is_meta for p in params)
    reused = any(p is q for p in params for q in old) or (
        not on_meta and any(p.data_ptr() == q.data_ptr() for p in params for q in old if not q.is_meta))
    return {
        "type": f"{type(head).__module__}.{type(head).__qualname__}",
        "in_features": getattr(head, "in_features", None),
        "out_features": getattr(head, "out_features", None),
        "weight_shape": list(weight.shape) if isinstance(weight, torch.Tensor) else None,
        "bias_shape": list(bias.shape) if isinstance(bias, torch.Tensor) else None,
        "dtypes": sorted({str(p.dtype) for p in params}),
        "devices": sorted({str(p.device) for p in params}),
        "requires_grad": all(p.requires_grad for p in params) if params else None,
        "reuses_old_parameters": reused,
        "weight": None if on_meta or not isinstance(weight, torch.Tensor) else plain(weight.detach()),
        "bias": None if on_meta or not isinstance(bias, torch.Tensor) else plain(bias.detach()),
    }


@probe
def replace_head_facts(
    module: Any,
    *,
    model: Build,
    num_classes: int,
    state_dict: dict | None = None,
    dtype: torch.dtype | None = None,
    device: str | None = None,
    frozen: bool = False,
    x: torch.Tensor | None = None,
) -> dict:
    """Call the module's `replace_head(model, num_classes)`; describe the head of the model
    passed in (`head`) and of the model returned (`returned_head`), and — given `x` —
    the shape of the model's output afterwards (or the error the forward pass raised)."""
    obj = build_model(module, model, state_dict, dtype)
    if device is not None:
        obj.to(device)
    if frozen:
        set_trainable(obj, ())
    old = [p for p in obj.head.parameters()]
    old_values = {n: plain(p.detach()) for n, p in obj.head.named_parameters()} if device != "meta" else {}
    returned = resolve(module, "replace_head")(obj, num_classes)
    facts = {
        "same_model": returned is obj,
        "head": _head_facts(obj.head, old),
        "returned_head": _head_facts(getattr(returned, "head", None), old),
        "old_head": old_values,
        "output_shape": None,
    }
    if x is not None:
        try:
            with torch.no_grad():
                facts["output_shape"] = list(obj.eval()(x.to(dtype or x.dtype)).shape)
        except Exception as exc:  # reported, so the judge can first name the wrong layer shape
            facts["output_shape"] = f"{type(exc).__name__}: {exc}"
    return facts


@contextmanager
def recording_adam(module: Any, model: nn.Module, trainable: set[str], marks: dict[str, torch.Tensor]) -> Iterator[dict]:
    """Replace `torch.optim.Adam` (and the module's own names for it) by a subclass that
    records which parameters each optimiser gets and, at every step, which frozen
    parameters require grad or carry a gradient other than their `marks`."""
    original = torch.optim.Adam
    names = {id(p): n for n, p in model.named_parameters()}
    record: dict = {"optimisers": [], "steps": 0, "frozen_trained": []}

    def frozen_violations() -> list[str]:
        bad = []
        for name, p in model.named_parameters():
            if name in trainable:
                continue
            stale_or_zero = p.grad is None or bool((p.grad == 0).all()) or (name in marks and torch.equal(p.grad, marks[name]))
            fresh_grad = not stale_or_zero
            if p.requires_grad or fresh_grad:
                bad.append(name)
        return bad

    class RecordingAdam(original):  # type: ignore[misc, valid-type]
        def __init__(self, params: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(params, *args, **kwargs)
            got = [names.get(id(p), "<not a parameter of the model>") for g in self.param_groups for p in g["params"]]
            record["optimisers"].append(sorted(got))

        def step(self, closure: Any = None) -> Any:
            record["steps"] += 1
            record["frozen_trained"] = sorted(set(record["frozen_trained"]) | set(frozen_violations()))
            return super().step(closure)

    # every name the student's code may reach Adam by: torch.optim.Adam, torch.optim.adam.Adam,
    # and `from torch.optim import Adam` in the module itself
    places = [(torch.optim, "Adam"), (importlib.import_module("torch.optim.adam"), "Adam")]
    places += [(module, name) for name, value in vars(module).items() if value is original]
    for owner, name in places:
        setattr(owner, name, RecordingAdam)
    try:
        yield record
    finally:
        for owner, name in places:
            setattr(owner, name, original)


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
    stale_grads: bool = False,
    record: bool = False,
    X_eval: torch.Tensor | None = None,
) -> dict:
    """Make exactly the parameters named in `trainable` trainable (the grader's own
    freezing, by full names), put the model in training mode,
    optionally leave a stale `.grad` on every frozen parameter (as an earlier backward
    pass would), then call the module's `fine_tune(model, X, y, **train_kwargs)`.

    Returns `losses`, the `state_dict` after, with `record` what the optimisers got
    (`optimisers`, `steps`, `frozen_trained`), and with `X_eval` the logits of the
    fine-tuned model in eval mode (the labels never reach the worker).  Runs on one
    thread (as in the sandbox), also in-process: the models are tiny, and extra threads
    only slow them down on a busy machine.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _fine_tune_run(module, model, state_dict, trainable, X, y, train_kwargs, dtype, stale_grads, record, X_eval)
    finally:
        torch.set_num_threads(threads)


def _fine_tune_run(module: Any, model: Build, state_dict: dict | None, trainable: Sequence[str], X: torch.Tensor, y: torch.Tensor,
                   train_kwargs: dict, dtype: torch.dtype | None, stale_grads: bool, record: bool,
                   X_eval: torch.Tensor | None) -> dict:
    obj = build_model(module, model, state_dict, dtype)
    set_trainable(obj, trainable)
    obj.train()
    marks: dict[str, torch.Tensor] = {}
    if stale_grads:
        for name, p in obj.named_parameters():
            if not p.requires_grad:
                marks[name] = torch.full_like(p, 0.25)
                p.grad = marks[name].clone()
    fine_tune = resolve(module, "fine_tune")
    recorded: dict = {}
    if record:
        with recording_adam(module, obj, set(trainable), marks) as recorded:
            losses = fine_tune(obj, X, y, **train_kwargs)
    else:
        losses = fine_tune(obj, X, y, **train_kwargs)
    result = {"losses": plain(losses), "state_dict": plain(dict(obj.state_dict())), **plain(recorded)}
    if X_eval is not None:
        obj.eval()
        with torch.no_grad():
            result["logits"] = plain(obj(X_eval))
    return result


@probe
def extract_features_run(
    module: Any,
    *,
    model: Build,
    state_dict: dict | None,
    X: torch.Tensor,
    eval_modules: Sequence[str] = (),
    dtype: torch.dtype | None = None,
) -> dict:
    """Call the module's `extract_features(model, X)` on a model in training mode (but for
    `eval_modules`); report the output, whether it carries a graph or is an inference
    tensor, the grad/inference mode and training modes seen by the backbone's layers
    while they ran, and every submodule's mode before and after."""
    obj = build_model(module, model, state_dict, dtype)
    obj.train()
    for name in eval_modules:
        obj.get_submodule(name).eval()
    before = modes_of(obj)
    seen: dict = {"calls": 0, "grad_enabled": False, "inference_mode": False, "modules_in_train_mode": []}

    def watch(name: str):
        def hook(mod: nn.Module, args: Any) -> None:
            seen["calls"] += 1
            seen["grad_enabled"] |= torch.is_grad_enabled()
            seen["inference_mode"] |= torch.is_inference_mode_enabled()
            if mod.training and name not in seen["modules_in_train_mode"]:
                seen["modules_in_train_mode"].append(name)
        return hook

    handles = [m.register_forward_pre_hook(watch(f"backbone.{n}" if n else "backbone"))
               for n, m in obj.backbone.named_modules()]
    try:
        out = resolve(module, "extract_features")(obj, X)
    finally:
        for handle in handles:
            handle.remove()
    is_tensor = isinstance(out, torch.Tensor)
    return {
        "output": plain(out),
        "requires_grad": bool(out.requires_grad) if is_tensor else None,
        "has_graph": (out.grad_fn is not None) if is_tensor else None,
        "is_inference": bool(out.is_inference()) if is_tensor else None,
        "seen": seen,
        "before": before,
        "after": modes_of(obj),
    }
