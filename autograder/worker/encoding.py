"""Plain values across the worker's pipe: a bounded wire format that runs no code.

The worker controls every byte it writes (student code can replace the worker's own send
function), so the judge reads a reply as *data* and bounds it before and while decoding:

    frame = safetensors bytes: the tensors "0", "1", …  (raw, uncompressed, contiguous)
            + metadata {"structure": JSON}: the nesting of lists, tuples, dicts, numbers,
              strings and None, with {"$t": i} where tensor i goes

The worker writes that layout itself (an 8-byte header length, the JSON header, the
tensors' bytes end to end): safetensors' own `save` checks every tensor for storage
shared with another, ≈ 20 µs a tensor.  The judge reads a frame with
safetensors' validating parser.

No pickle, no compression (the decoded size is the received size), no strides (every
tensor is rebuilt contiguous, so its logical size is what was sent), only the dtypes in
`DTYPES`, and limits on the number of tensors, their rank, the structure's size and
depth, and every string's length.  Anything else raises `WireError`.

Both sides use this module: `encode` in the worker, `decode` in the judge.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import torch
from safetensors.torch import load as load_safetensors

from autograder.worker.spec import raw_bytes

#: The tensor dtypes a reply may hold, with safetensors' names for them.
_SAFETENSORS_NAMES = {torch.float16: "F16", torch.bfloat16: "BF16", torch.float32: "F32", torch.float64: "F64",
                      torch.int8: "I8", torch.int16: "I16", torch.int32: "I32", torch.int64: "I64", torch.uint8: "U8",
                      torch.bool: "BOOL"}
DTYPES = frozenset(_SAFETENSORS_NAMES)


class WireError(ValueError):
    """A frame that is malformed or exceeds a limit (the message says which)."""


@dataclass(frozen=True)
class WireLimits:
    """What one decoded reply may cost the judge.

    Attributes:
        frame_bytes: the whole frame (tensor bytes + structure); also the decoded size.
        tensors: number of tensors.
        rank: dimensions of one tensor.
        structure_bytes: the JSON structure's size.
        items: values in the structure (containers, numbers, strings, tensor slots).
        depth: nesting depth of containers.
        string_chars: characters of one string (or dict key).
    """

    frame_bytes: int = 16 * 1024**2
    tensors: int = 4096
    rank: int = 8
    structure_bytes: int = 1024**2
    items: int = 100_000
    depth: int = 32
    string_chars: int = 10_000


# -- worker side -----------------------------------------------------------------------------

def _structure(value: Any, tensors: list[torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        tensors.append(value)
        return {"$t": len(tensors) - 1}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$f": repr(value)}
    if isinstance(value, tuple):
        return {"$tuple": [_structure(v, tensors) for v in value]}
    if isinstance(value, list):
        return [_structure(v, tensors) for v in value]
    if isinstance(value, dict):
        return {"$dict": [[str(k), _structure(v, tensors)] for k, v in value.items()]}
    raise TypeError(f"not a plain value: {type(value).__name__}")


def encode(value: Any) -> bytes:
    """One frame for `value`: tensors (of `DTYPES`), numbers, strings, None, and lists,
    tuples and str-keyed dicts of those."""
    tensors: list[torch.Tensor] = []
    structure = json.dumps(_structure(value, tensors), allow_nan=False, separators=(",", ":"))
    header: dict[str, Any] = {"__metadata__": {"structure": structure}}
    chunks, offset = [], 0
    for i, tensor in enumerate(tensors):
        if tensor.dtype not in _SAFETENSORS_NAMES:
            raise TypeError(f"not a plain value: a tensor of dtype {tensor.dtype}")
        data = raw_bytes(tensor)
        header[str(i)] = {"dtype": _SAFETENSORS_NAMES[tensor.dtype], "shape": list(tensor.shape),
                          "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)  # safetensors aligns the tensors' bytes to 8
    return len(head).to_bytes(8, "little") + head + b"".join(chunks)


# -- judge side ------------------------------------------------------------------------------

class _Decoder:
    def __init__(self, tensors: dict[str, torch.Tensor], limits: WireLimits) -> None:
        self.tensors = tensors
        self.limits = limits
        self.items = 0

    def _string(self, text: str) -> str:
        if len(text) > self.limits.string_chars:
            raise WireError(f"a string of {len(text)} characters (at most {self.limits.string_chars})")
        if text.isascii():
            return text
        # JSON may carry lone surrogates ("\ud800"), which no UTF-8 file can hold: replace them
        return text.encode("utf-8", "replace").decode("utf-8")

    def value(self, node: Any, depth: int = 0) -> Any:
        self.items += 1
        if self.items > self.limits.items:
            raise WireError(f"more than {self.limits.items} values")
        if depth > self.limits.depth:
            raise WireError(f"nested deeper than {self.limits.depth}")
        if node is None or isinstance(node, (bool, float)):
            return node
        if isinstance(node, int):
            if abs(node) >= 2**63:
                raise WireError("an integer beyond 64 bits")
            return node
        if isinstance(node, str):
            return self._string(node)
        if isinstance(node, list):
            return [self.value(v, depth + 1) for v in node]
        if isinstance(node, dict) and len(node) == 1:
            (tag, body), = node.items()
            if tag == "$t" and type(body) is int and str(body) in self.tensors:
                return self.tensors[str(body)]
            if tag == "$f" and body in ("nan", "inf", "-inf"):
                return float(body)
            if tag == "$tuple" and isinstance(body, list):
                return tuple(self.value(v, depth + 1) for v in body)
            if tag == "$dict" and isinstance(body, list):
                out = {}
                for pair in body:
                    if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
                        raise WireError("a malformed dict entry")
                    out[self._string(pair[0])] = self.value(pair[1], depth + 1)
                return out
        raise WireError("an unknown value in the structure")


def decode(frame: bytes, limits: WireLimits = WireLimits()) -> Any:
    """The value `frame` holds, or `WireError` when it is malformed or over `limits`."""
    if len(frame) > limits.frame_bytes:
        raise WireError(f"a reply of {len(frame)} bytes (at most {limits.frame_bytes})")
    try:  # the header counted before any tensor is built (290,000 empty ones cost 4.4 s and 380 MB)
        header = json.loads(frame[8:8 + int.from_bytes(frame[:8], "little")])
        count = len(header) - ("__metadata__" in header)
    except Exception as exc:  # json raises several types for bad bytes; a header that is not an object too
        raise WireError(f"unreadable bytes ({type(exc).__name__})") from None
    if count > limits.tensors:
        raise WireError(f"{count} tensors (at most {limits.tensors})")
    try:
        tensors = load_safetensors(frame)
        metadata = header.get("__metadata__") or {}
    except Exception as exc:  # safetensors raises several types for bad bytes
        raise WireError(f"unreadable bytes ({type(exc).__name__})") from None
    for tensor in tensors.values():
        if tensor.dtype not in DTYPES or tensor.dim() > limits.rank:
            raise WireError(f"a tensor of dtype {tensor.dtype} and rank {tensor.dim()}")
    structure = metadata.get("structure")
    if not isinstance(structure, str) or len(structure) > limits.structure_bytes:
        raise WireError("no structure, or one over its size limit")
    try:
        node = json.loads(structure)
    except (ValueError, RecursionError):
        raise WireError("a structure that is not JSON, or nested too deeply") from None
    return _Decoder(tensors, limits).value(node)
