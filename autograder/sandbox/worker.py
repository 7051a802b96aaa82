"""The worker: runs inside the sandbox, imports the student's module, answers probes.

Protocol over one duplex pipe, raw bytes both ways: the judge sends pickled
`ProbeRequest`s (trusted → untrusted); the worker answers with `torch.save` bytes that
the judge reads with `torch.load(weights_only=True)` — plain tensors and containers only.
The first message is a greeting: `{"ready": levels}` or `{"import_error": ...}`.
"""

from __future__ import annotations

import importlib.util
import io
import os
import pickle
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

import autograder.probes as probes
from autograder.sandbox.isolation import isolate
from autograder.sandbox.limits import SandboxLimits


def describe_exception(exc: BaseException, source: str) -> dict[str, Any]:
    """Type names (its MRO), message and the innermost line of `source` it passed."""
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == source:
            where = f"{Path(source).name}, line {frame.lineno}, in {frame.name}"
    return {
        "types": [c.__name__ for c in type(exc).__mro__],
        "message": str(exc)[:2000],
        "where": where,
    }


def import_student_module(source: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, source)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _send(conn: Any, message: dict) -> None:
    buffer = io.BytesIO()
    torch.save(message, buffer)
    conn.send_bytes(buffer.getvalue())


@dataclass(frozen=True)
class WorkerSpec:
    """What a new worker needs: the student's code, its module name, where to work."""

    source: str
    module_name: str
    scratch: str
    hidden: list[str]
    limits: SandboxLimits


def serve(conn: Any, spec: WorkerSpec) -> None:
    """Worker entry point (runs in the forked child)."""
    torch.set_num_threads(1)
    filename = f"{spec.module_name}.py"
    levels = isolate(Path(spec.scratch), filename, spec.source, spec.hidden, spec.limits)
    source = str(Path(spec.scratch) / filename)
    name = spec.module_name
    with open(os.devnull) as devnull:
        os.dup2(devnull.fileno(), 0)
    log = os.open("output.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    try:
        module = import_student_module(Path(source), name)
    except BaseException as exc:  # noqa: BLE001 — SystemExit and KeyboardInterrupt too
        _send(conn, {"import_error": describe_exception(exc, source)})
        return
    _send(conn, {"ready": levels})
    while True:
        try:
            request = pickle.loads(conn.recv_bytes())
        except EOFError:
            return
        try:
            reply = {"ok": probes.run_probe(module, request)}
        except BaseException as exc:  # noqa: BLE001
            reply = {"raised": describe_exception(exc, source)}
        _send(conn, reply)
