"""The transfer assignment's data: scikit-learn's bundled handwritten digits, split once into
a source task ("which digit?") and a target task ("is it odd?", few labels), and the
deterministic recipe that pretrained the shipped `SmallNet` weights.

Judge side only: held-out images and labels are made here, never in a worker.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F

from autograder.data.transfer import NUM_SOURCE_CLASSES, SmallNet, sha256_of
from autograder.worker.probes import one_thread

#: sha256 of scikit-learn's bundled `sklearn/datasets/data/digits.csv.gz` (what `load_digits` reads).
DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"


def _digits_file() -> Path:
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("the transfer tasks need scikit-learn (its bundled digits): pip install scikit-learn")
    return Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"


@lru_cache(maxsize=1)
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 digits, in the order of `sklearn.datasets.load_digits()`, as tensors.

    Read straight from scikit-learn's bundled file (importing scikit-learn takes seconds).

    Shape:
        - X: (1797, 1, 8, 8), float32, pixel values 0..16 scaled to [0, 1]
        - y: (1797,), int64 digit in [0, 10)
    """
    import numpy as np

    path = _digits_file()
    if sha256_of(path) != DIGITS_SHA256:
        raise ValueError(f"{path} is not the digits file this project was built with (its sha256 differs)")
    table = torch.from_numpy(np.loadtxt(path, delimiter=","))  # (1797, 65): 64 pixels, then the digit
    X = (table[:, :64] / 16.0).float().reshape(-1, 1, 8, 8)
    return X, table[:, 64].long()


@lru_cache(maxsize=1)
def _halves() -> dict[str, torch.Tensor]:
    """Indices of the source half, and of the target half's label pool and test set.

    Per digit, a fixed permutation: first half → source; of the rest, half → the pool
    the few target labels are drawn from, half → the target test set.
    """
    _, y = digits()
    gen = torch.Generator().manual_seed(0)
    parts: dict[str, list[torch.Tensor]] = {"source": [], "pool": [], "test": []}
    for digit in range(10):
        idx = torch.nonzero(y == digit).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        half, quarter = len(idx) // 2, (3 * len(idx)) // 4
        parts["source"].append(idx[:half])
        parts["pool"].append(idx[half:quarter])
        parts["test"].append(idx[quarter:])
    return {k: torch.cat(v) for k, v in parts.items()}


def source_task() -> tuple[torch.Tensor, torch.Tensor]:
    """The source task: the source half's images and their digit labels (≈ 895 images)."""
    X, y = digits()
    idx = _halves()["source"]
    return X[idx], y[idx]


def target_label(digit: torch.Tensor) -> torch.Tensor:
    """The target task's label: 1 for an odd digit, 0 for an even one."""
    return digit % 2


def target_task(shots: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The target task: `shots` labelled images of every digit (drawn by `seed`), and a
    fixed test set (the same for every seed), labelled odd (1) / even (0).

    Returns:
        `(X_few, y_few, X_test, y_test)`: `(10 * shots, 1, 8, 8)`, `(10 * shots,)`, and the
        ≈ 450 test images with their labels.
    """
    X, y = digits()
    halves = _halves()
    gen = torch.Generator().manual_seed(1000 + seed)
    pool = halves["pool"]
    few = torch.cat([pool[y[pool] == d][torch.randperm(int((y[pool] == d).sum()), generator=gen)[:shots]] for d in range(10)])
    few = few[torch.randperm(len(few), generator=gen)]
    test = halves["test"]
    return X[few], target_label(y[few]), X[test], target_label(y[test])


def pretrain(*, epochs: int = 20, lr: float = 1e-2, batch_size: int = 64, label_smoothing: float = 0.2,
             seed: int = 0) -> dict[str, torch.Tensor]:
    """Train a `SmallNet` on the source task (Adam, cross-entropy); its `state_dict`.

    Label smoothing keeps each digit's features compact, which is what a new linear head
    learnt from a handful of labels needs (without it, transfer to the target task is
    ≈ 0.93 instead of ≈ 0.98).  Deterministic on one machine: one torch thread, seeded
    weights and shuffling.
    """
    with one_thread():
        torch.manual_seed(seed)
        model = SmallNet(NUM_SOURCE_CLASSES)
        X, y = source_task()
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(seed)
        model.train()
        for _ in range(epochs):
            for idx in torch.randperm(len(X), generator=gen).split(batch_size):
                optimizer.zero_grad()
                F.cross_entropy(model(X[idx]), y[idx], label_smoothing=label_smoothing).backward()
                optimizer.step()
        return {name: value.detach().clone() for name, value in model.state_dict().items()}
