"""CORRECT: names bound at import time (Adam through a module-level table, an alias and a default argument, cross-entropy and no_grad imported by name), model.zero_grad() instead of optimizer.zero_grad(), summed losses, a closure for the prefix test, private helpers and a private module-level counter, modes restored from a list of pairs under torch.set_grad_enabled(False)."""

from __future__ import annotations

from torch import Generator, nn, randperm, set_grad_enabled
from torch.nn.functional import cross_entropy as _xent
from torch.optim import Adam as _Adam

from autograder.data.transfer import SmallNet, load_pretrained  # noqa: F401  (provided)

_OPTIMISERS = {"adam": _Adam}
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm)
_calls = {"fine_tune": 0}


def _matcher(trainable):
    prefixes = (trainable,) if isinstance(trainable, str) else tuple(trainable)

    def matches(name):
        return any(name.startswith(p) for p in prefixes)

    return matches


def freeze(model, trainable=()):
    matches = _matcher(trainable)
    for name, parameter in model.named_parameters():
        parameter.requires_grad = matches(name)


def replace_head(model, num_classes):
    old = model.head
    factory = {"device": old.weight.device, "dtype": old.weight.dtype}
    model.head = nn.Linear(old.in_features, num_classes, **factory)
    return model


def _frozen_norms(model):
    return [m for m in model.modules() if isinstance(m, _NORMS) and not any(p.requires_grad for p in m.parameters())]


def fine_tune(model, X, y, *, epochs, lr, batch_size=32, seed=0, _make_optimiser=_OPTIMISERS["adam"]):
    params = [p for p in model.parameters() if p.requires_grad]
    if len(params) == 0:
        raise ValueError("nothing to train: every parameter is frozen")
    _calls["fine_tune"] += 1
    optimiser = _make_optimiser(params, lr=lr)
    model.train(True)
    for norm in _frozen_norms(model):
        norm.train(False)
    rng = Generator()
    rng.manual_seed(seed)
    history = []
    for epoch in range(epochs):
        running = 0.0
        batches = randperm(X.shape[0], generator=rng).split(batch_size)
        for batch in batches:
            model.zero_grad(set_to_none=True)
            loss = _xent(model(X[batch]), y[batch], reduction="sum")
            (loss / batch.numel()).backward()
            optimiser.step()
            running += float(loss)
        history.append(running / X.shape[0])
    return history


def extract_features(model, X):
    saved = [(m, m.training) for m in model.modules()]
    model.eval()
    with set_grad_enabled(False):
        out = model.backbone(X)
    for m, flag in saved:
        m.training = flag
    return out
