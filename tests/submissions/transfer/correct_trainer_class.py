"""CORRECT: prefixes tested by slicing, nn.init on the new head, a private _Trainer class that puts the frozen norms back in eval mode every step, the loss summed with reduction='sum' (an outside audit's style).

Assignment 5 — transfer learning.

A network trained on a large *source* task has learnt features worth reusing on a related
*target* task that has only a few labels.  Instead of training from scratch, start from
the pretrained network and either

- **freeze** some layers (their parameters stop changing) and fine-tune the rest, or
- **replace the head** — the last, task-specific layer — with a fresh one for the target
  classes, and fine-tune all or part of the model.

The lecture distinguishes three kinds of transfer:

- **inductive transfer**: the target *task* differs from the source task and a few target
  labels are available.  This assignment: the source task is "which digit is it?"
  (0–9, hundreds of labels); the target task is "is the digit odd?" on new images, with
  only 2 labelled images of each digit.  A frozen pretrained backbone plus a new head
  reaches ≈ 98 % where the same network trained from scratch reaches ≈ 86 %.
- **transductive transfer**: the *same* task in a different domain (e.g. digits written
  by other people, photographed instead of scanned); labels exist only in the source
  domain, so the model is adapted with unlabelled target data.
- **unsupervised transfer**: no labels on either side; what transfers is a
  representation learnt without labels (e.g. by an autoencoder or by predicting masked
  parts of the input), later reused for clustering or another task.

Provided (do not change them): `SmallNet`, a small CNN for 8×8 digit images made of a
`backbone` (conv → BatchNorm → ReLU → pool, twice, then a linear layer: 64 features) and
a `head` (`nn.Linear(64, num_classes)`), and `load_pretrained()`, which returns a
`SmallNet` trained on the source task.  Its BatchNorm layers carry *running statistics*
(buffers, not parameters) of the source data: freezing a BatchNorm layer means keeping
its parameters AND its statistics, i.e. keeping it in eval mode while fine-tuning.

You write `freeze`, `replace_head`, `fine_tune` and `extract_features`.

Example (the whole recipe, on the target task's 20 labelled images; run it from a
notebook or a script of your own, not at the top of this file: the grader imports
transfer.py where the digit data sets are not available):
    >>> from autograder.data.digits import target_task
    >>> X_few, y_few, X_test, y_test = target_task(shots=2, seed=0)
    >>> model = replace_head(load_pretrained(), num_classes=2)
    >>> freeze(model, trainable="head")
    >>> losses = fine_tune(model, X_few, y_few, epochs=20, lr=1e-2, batch_size=10)
    >>> accuracy = (model.eval()(X_test).argmax(1) == y_test).float().mean()  # ≈ 0.98
"""

from __future__ import annotations

from typing import Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.data.transfer import SmallNet, load_pretrained  # noqa: F401  (provided)

#: Layer types that normalise their input (those with running statistics keep them as buffers).
NORMALISATION_LAYERS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


def freeze(model, trainable=()):
    if isinstance(trainable, str):
        trainable = (trainable,)
    trainable = tuple(trainable)
    frozen, kept = 0, 0
    for name, param in model.named_parameters():
        keep = False
        for prefix in trainable:
            if name[: len(prefix)] == prefix:
                keep = True
                break
        param.requires_grad = keep
        kept += keep
        frozen += not keep
    model._freeze_summary = (kept, frozen)   # a private attribute of my own


def replace_head(model, num_classes):
    w = model.head.weight
    new = nn.Linear(model.head.in_features, num_classes, device=w.device, dtype=w.dtype)
    nn.init.kaiming_uniform_(new.weight, a=5 ** 0.5)
    bound = 1 / model.head.in_features ** 0.5
    nn.init.uniform_(new.bias, -bound, bound)
    setattr(model, "head", new)
    return model


class _Trainer:
    def __init__(self, model, lr):
        self.model = model
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("no trainable parameters")
        self.opt = torch.optim.Adam(self.params, lr=lr)

    def set_modes(self):
        self.model.train()
        for m in self.model.modules():
            if isinstance(m, NORMALISATION_LAYERS):
                ps = list(m.parameters())
                if len(ps) == 0 or all(not p.requires_grad for p in ps):
                    m.eval()

    def step(self, xb, yb):
        self.set_modes()          # re-applied every step, harmless
        self.opt.zero_grad()
        loss_sum = F.cross_entropy(self.model(xb), yb, reduction="sum")
        (loss_sum / xb.shape[0]).backward()
        self.opt.step()
        return loss_sum.item()


def fine_tune(model, X, y, *, epochs, lr, batch_size=32, seed=0):
    trainer = _Trainer(model, lr)
    gen = torch.Generator()
    gen.manual_seed(seed)
    out = []
    for _ in range(epochs):
        order = torch.randperm(X.shape[0], generator=gen).tolist()
        batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
        out.append(sum(trainer.step(X[b], y[b]) for b in batches) / X.shape[0])
    return out


def extract_features(model, X):
    before = [m.training for m in model.modules()]
    for m in model.modules():
        m.training = False
    with torch.no_grad():
        f = model.backbone(X)
    for m, t in zip(model.modules(), before):
        m.training = t
    return f.detach()
