"""Re-create `datasets/transfer_pretrained.pt`: the transfer assignment's SmallNet trained on
the source task (which digit, 0–9, on the source half of scikit-learn's digits).

    .venv/bin/python datasets/pretrain_transfer.py [--check]

The recipe is `autograder.data.digits.pretrain` (Adam, lr 1e-2, 20 epochs, batches of
64, label smoothing 0.2, seed 0, one thread); on this project's machines it writes the
same bytes every time, whose sha256 is recorded as `PRETRAINED_SHA256` in
`autograder/data/transfer.py` (and checked by tests/test_transfer_oracles.py).
With `--check`, nothing is written: the script says whether a fresh run reproduces the file.
"""

from __future__ import annotations

import hashlib
import io
import sys

import torch

from autograder.data.digits import pretrain
from autograder.data.transfer import PRETRAINED_SHA256, pretrained_path


def main(argv: list[str]) -> int:
    buffer = io.BytesIO()
    torch.save(pretrain(), buffer)
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    if "--check" in argv:
        same = digest == PRETRAINED_SHA256
        print(f"fresh run sha256 {digest}: {'reproduces' if same else 'DIFFERS FROM'} the recorded {PRETRAINED_SHA256}")
        return 0 if same else 1
    path = pretrained_path()
    path.write_bytes(buffer.getvalue())
    print(f"wrote {path} ({len(buffer.getvalue()) // 1024} KiB), sha256 {digest}")
    if digest != PRETRAINED_SHA256:
        print("update PRETRAINED_SHA256 in autograder/data/transfer.py (and datasets/README.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
