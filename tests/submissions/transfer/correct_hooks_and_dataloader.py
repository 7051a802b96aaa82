"""CORRECT: regex prefixes, a DataLoader with a seeded generator, frozen BatchNorms forced into eval mode by forward pre-hooks (removed afterwards), extract_features as a no_grad-decorated helper with modes restored by name."""

from __future__ import annotations

import re

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from autograder.data.transfer import SmallNet, load_pretrained  # noqa: F401  (provided)


def freeze(model: nn.Module, trainable=()) -> None:
    prefixes = [trainable] if isinstance(trainable, str) else list(trainable)
    pattern = re.compile("|".join(re.escape(p) for p in prefixes)) if prefixes else None
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(bool(pattern and pattern.match(name)))


def replace_head(model: nn.Module, num_classes: int) -> nn.Module:
    weight = model.head.weight
    model.head = nn.Linear(model.head.in_features, num_classes, device=weight.device, dtype=weight.dtype)
    return model


def _force_eval(module: nn.Module, args) -> None:
    module.eval()


def fine_tune(model, X, y, *, epochs, lr, batch_size=32, seed=0):
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("fine_tune needs at least one trainable parameter")
    hooks = [m.register_forward_pre_hook(_force_eval) for m in model.modules()
             if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)) and not any(p.requires_grad for p in m.parameters())]
    loader = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    optimizer = torch.optim.Adam(trainable, lr=lr)
    model.train()
    losses = []
    try:
        for _ in range(epochs):
            total = 0.0
            for xb, yb in loader:
                optimizer.zero_grad()
                loss = F.cross_entropy(model(xb), yb)
                loss.backward()
                optimizer.step()
                total += loss.item() * xb.shape[0]
            losses.append(total / len(loader.dataset))
    finally:
        for hook in hooks:
            hook.remove()
    return losses


@torch.no_grad()
def _backbone_eval(model, X):
    return model.backbone(X)


def extract_features(model, X):
    modes = dict((name, m.training) for name, m in model.named_modules())
    model.eval()
    features = _backbone_eval(model, X)
    for name, m in model.named_modules():
        m.training = modes[name]  # not m.train(): that would recurse into the children
    return features
