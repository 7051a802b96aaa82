"""The transfer assignment's provided network, its pretrained weights, and the two digit tasks.

- `SmallNet`: a small convolutional network for 8×8 grey images, split into a `backbone`
  (features, with BatchNorm layers) and a `head` (`nn.Linear`).
- `load_pretrained()`: a `SmallNet` with the weights shipped in
  `datasets/transfer_pretrained.pt` (sha256 verified), trained on the SOURCE task.
- The tasks come from scikit-learn's bundled handwritten digits (1,797 images of 8×8
  pixels, read from the installed package; nothing is downloaded).  The images of every
  digit are split once, by a fixed permutation, into a source half and a target half:
  - SOURCE task: "which digit is it?" (10 classes), every label of the source half;
  - TARGET task: "is the digit odd?" (2 classes: 0 = even, 1 = odd) on the target half,
    with only a few labelled images (`shots` of each digit) — a different task on new
    images, i.e. inductive transfer.
- `pretrain()`: the deterministic recipe that produced the shipped weights
  (`datasets/pretrain_transfer.py` runs it and writes the file).

Only torch is imported at module level: the sandboxed worker imports this module to
build `SmallNet` and never needs the data.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.paths import project_root

NUM_SOURCE_CLASSES = 10
NUM_TARGET_CLASSES = 2
PRETRAINED_FILE = "transfer_pretrained.pt"
#: sha256 of `datasets/transfer_pretrained.pt`, as written by `datasets/pretrain_transfer.py`.
PRETRAINED_SHA256 = "cf908cfcb53234ce91bb2b4dee4f1f570e594e53903f4a5e537a1747f832746a"
#: sha256 of scikit-learn's bundled `sklearn/datasets/data/digits.csv.gz` (what `load_digits` reads).
DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"


class SmallNet(nn.Module):
    r"""A small CNN for 8×8 grey images: a `backbone` of features, then a linear `head`.

    The backbone is two conv → BatchNorm → ReLU → max-pool stages and a fully connected
    layer; its output is a 64-dimensional feature vector.  The head maps it to logits.

    Args:
        num_classes: outputs of the head (the source task has 10: the digits).

    Shape:
        - Input: :math:`(B, 1, 8, 8)`, pixel values in [0, 1].
        - Output: :math:`(B, \text{num\_classes})` logits; `backbone(x)` is :math:`(B, 64)`.

    Attributes:
        backbone: `nn.Sequential` of the named layers `conv1`, `bn1`, `relu1`, `pool1`,
            `conv2`, `bn2`, `relu2`, `pool2`, `flatten`, `fc`, `relu3`, so parameters are
            called `backbone.conv1.weight`, `backbone.bn2.bias`, `backbone.fc.weight`, ...
            and the BatchNorm running statistics (buffers) `backbone.bn1.running_mean`, ...
        head: `nn.Linear(64, num_classes)`.

    Example:
        >>> net = SmallNet(num_classes=10)
        >>> x = torch.rand(4, 1, 8, 8)
        >>> net(x).shape, net.backbone(x).shape
        (torch.Size([4, 10]), torch.Size([4, 64]))
    """

    feature_dim = 64

    def __init__(self, num_classes: int = NUM_SOURCE_CLASSES) -> None:
        super().__init__()
        self.backbone = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(1, 16, 3, padding=1)),   # (B, 16, 8, 8)
            ("bn1", nn.BatchNorm2d(16)),
            ("relu1", nn.ReLU()),
            ("pool1", nn.MaxPool2d(2)),                  # (B, 16, 4, 4)
            ("conv2", nn.Conv2d(16, 32, 3, padding=1)),  # (B, 32, 4, 4)
            ("bn2", nn.BatchNorm2d(32)),
            ("relu2", nn.ReLU()),
            ("pool2", nn.MaxPool2d(2)),                  # (B, 32, 2, 2)
            ("flatten", nn.Flatten()),                   # (B, 128)
            ("fc", nn.Linear(128, self.feature_dim)),    # (B, 64)
            ("relu3", nn.ReLU()),
        ]))
        self.head = nn.Linear(self.feature_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))  # (B, num_classes)


def pretrained_path() -> Path:
    """Where the shipped weights are: the project's `datasets/` folder, or — in a released
    bundle or notebook folder — a `datasets/` folder (or the file itself) in the working
    directory.  The first place that has the file wins; the project's when none has it."""
    places = [project_root() / "datasets", Path.cwd() / "datasets", Path.cwd()]
    return next((p / PRETRAINED_FILE for p in places if (p / PRETRAINED_FILE).is_file()), places[0] / PRETRAINED_FILE)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pretrained_state_dict(path: Path | str | None = None) -> dict[str, torch.Tensor]:
    """The shipped weights (parameters and BatchNorm buffers), after checking their sha256."""
    path = Path(path) if path is not None else pretrained_path()
    if not path.is_file():
        raise FileNotFoundError(f"load_pretrained: {path} not found — it ships in the project's datasets/ folder; "
                                "run from a folder that has datasets/transfer_pretrained.pt, or pass its path")
    if sha256_of(path) != PRETRAINED_SHA256:
        raise ValueError(f"load_pretrained: {path} does not match its recorded sha256 — restore it from the "
                         "repository (or re-create it with datasets/pretrain_transfer.py)")
    return torch.load(path, weights_only=True)


def load_pretrained(path: Path | str | None = None) -> SmallNet:
    """A `SmallNet` with 10 outputs, trained on the source task (which digit, 0–9).

    Its head still predicts digits; replace it for a new task.  Returned in eval mode.

    Args:
        path: the weights file; default `datasets/transfer_pretrained.pt` of the project.
            Its sha256 must equal `PRETRAINED_SHA256`.

    Example:
        >>> model = load_pretrained()
        >>> model.head
        Linear(in_features=64, out_features=10, bias=True)
    """
    model = SmallNet(NUM_SOURCE_CLASSES)
    model.load_state_dict(pretrained_state_dict(path))
    return model.eval()


# -- data ------------------------------------------------------------------------------------

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
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
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
    finally:
        torch.set_num_threads(threads)
