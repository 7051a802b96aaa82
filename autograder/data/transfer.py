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
The digit tasks and the pretraining recipe live in `autograder.data.digits` (judge side).

This module is *provided code*: students import it (`from autograder.data.transfer import
SmallNet, load_pretrained`), so it is one of the few nnzoo files a sandboxed worker can
import — it holds the network and the weights loader, never any data or labels.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn as nn

NUM_SOURCE_CLASSES = 10
NUM_TARGET_CLASSES = 2
PRETRAINED_FILE = "transfer_pretrained.pt"
#: sha256 of `datasets/transfer_pretrained.pt`, as written by `datasets/pretrain_transfer.py`.
PRETRAINED_SHA256 = "cf908cfcb53234ce91bb2b4dee4f1f570e594e53903f4a5e537a1747f832746a"


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
    project = Path(os.environ.get("NNZOO_ROOT") or Path(__file__).resolve().parents[2])
    places = [project / "datasets", Path.cwd() / "datasets", Path.cwd()]
    return next((p / PRETRAINED_FILE for p in places if (p / PRETRAINED_FILE).is_file()), places[0] / PRETRAINED_FILE)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pretrained_state_dict(path: Path | str | None = None) -> dict[str, torch.Tensor]:
    """The shipped weights (parameters and BatchNorm buffers), after checking their sha256:
    a fresh copy on every call, read from the file only when it changed since the last."""
    path = Path(path) if path is not None else pretrained_path()
    if not path.is_file():
        raise FileNotFoundError(f"load_pretrained: {path} not found — it ships in the project's datasets/ folder; "
                                "run from a folder that has datasets/transfer_pretrained.pt, or pass its path")
    seen = path.stat()
    state = _verified_weights(str(path.resolve()), (seen.st_dev, seen.st_ino, seen.st_size, seen.st_mtime_ns))
    return {name: tensor.clone() for name, tensor in state.items()}


@lru_cache(maxsize=4)
def _verified_weights(path: str, identity: tuple[int, ...]) -> dict[str, torch.Tensor]:
    """The weights in `path` as last seen with `identity` (device, inode, size, mtime):
    the sha256 and `torch.load` (≈ 2 ms) once per file version, not once per call."""
    if sha256_of(Path(path)) != PRETRAINED_SHA256:
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
