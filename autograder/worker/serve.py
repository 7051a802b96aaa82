"""The worker: runs inside the sandbox, imports the student's module, answers probes.

Protocol over one duplex pipe, raw bytes both ways: the judge sends the student's source
(UTF-8, one frame, right after the fork), then pickled `ProbeRequest`s (trusted →
untrusted); the worker answers in the bounded wire format of
`autograder.worker.encoding` (plain values only), which the judge decodes as data.
The source never passes through the fork server, whose memory every later worker
inherits: a classmate's code is never in it.

1. `{"levels": ...}`: the isolation reached — sent before the student's module is
   imported, so no student code has run yet when it is written (or
   `{"isolation_error": ...}` when the worker could not be isolated: it then exits);
2. `{"ready": True}` or `{"import_error": ...}` after importing the student's module —
   or, for a preflight worker (no student code), `{"reachability": ...}`;
3. per request: `{"ok": result}` or `{"raised": exception}`.
"""

from __future__ import annotations

import importlib.util
import io
import os
import pickle
import sys
import tokenize
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

import autograder.worker.probes as probes
from autograder.worker import shell
from autograder.worker.encoding import encode
from autograder.worker.forbidden import carry_watches_into_threads, student_import
from autograder.worker.isolation import Sandbox
from autograder.worker.limits import SandboxLimits
from autograder.worker.preflight import Reachability, reachability


def describe_exception(exc: BaseException, source: str) -> dict[str, Any]:
    """Type names (its MRO), message and the innermost line of `source` it passed."""
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == source:
            where = f"{Path(source).name}, line {frame.lineno}, in {frame.name}"
    try:
        message = str(exc)[:2000]
    except BaseException:  # noqa: BLE001 — a student's __str__ may raise too
        message = "(the exception's message could not be read)"
    return {"types": [str(c.__name__)[:200] for c in type(exc).__mro__][:32], "message": message, "where": where[:300]}


def source_bytes(text: str) -> bytes:
    """`text` encoded as its coding line says (PEP 263; UTF-8 without one), so that Python
    reads back this very text when it imports the file."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(text.encode("utf-8")).readline)
    except SyntaxError:  # a coding line naming no known codec: the import reports it
        encoding = "utf-8"
    return text.encode(encoding, errors="replace")


def import_student_module(source: Path, name: str) -> Any:
    """Import the student's file as module `name`, with a `get_ipython` for notebook code."""
    spec = importlib.util.spec_from_file_location(name, source)
    module = importlib.util.module_from_spec(spec)
    shell.install(module.__dict__)
    sys.modules[name] = module
    with student_import():  # the packages it loads are its own (`Watch.check_namespace`)
        spec.loader.exec_module(module)
    return module


def _send(conn: Any, message: dict) -> None:
    conn.send_bytes(encode(message))


@dataclass(frozen=True)
class WorkerSpec:
    """What a new worker needs.

    Attributes:
        module_name: the name the student's code (sent over the worker's own pipe) is
            written as (`<module_name>.py`, in the worker's scratch) and imported as.
        scratch: a host folder for the worker's files when it gets no private root (the
            fallback); created by the worker and owned by its uid.
        limits: the limits in force (and the worker's uid).
        preflight: instead of a student's module, find out what the worker can reach.
        course_root: the judge's `NNZOO_ROOT` (None: the installed project's course), set
            in the worker's environment: the fork server may have started for another.
        cpu: the one CPU the worker (and every thread it starts) runs on; None: any.
    """

    module_name: str
    scratch: str
    limits: SandboxLimits
    preflight: Reachability | None = None
    course_root: str | None = None
    cpu: int | None = None


def serve(conn: Any, spec: WorkerSpec, sandbox: Sandbox) -> None:
    """Worker entry point (runs in the forked child)."""
    torch.set_num_threads(1)
    try:
        levels = sandbox.isolate(spec.limits, spec.scratch, keep_fds=[conn.fileno()], cpu=spec.cpu)
    except Exception as exc:  # noqa: BLE001 — said to the judge; no student code runs
        _send(conn, {"isolation_error": f"{type(exc).__name__}: {exc}"[:500]})
        return
    if spec.course_root is None:
        os.environ.pop("NNZOO_ROOT", None)
    else:
        os.environ["NNZOO_ROOT"] = spec.course_root
    filename = f"{spec.module_name}.py"
    source = os.path.abspath(filename)
    with open(os.devnull) as devnull:
        os.dup2(devnull.fileno(), 0)
    log = os.open("output.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    _send(conn, {"levels": levels})
    if spec.preflight is not None:
        _send(conn, {"reachability": reachability(spec.preflight)})
        return
    name = spec.module_name
    carry_watches_into_threads()  # a thread the student's code starts, even at import, is watched
    try:
        Path(source).write_bytes(source_bytes(conn.recv_bytes().decode("utf-8", "surrogatepass")))
        module = import_student_module(Path(source), name)
    except BaseException as exc:  # noqa: BLE001 — SystemExit and KeyboardInterrupt too
        _send(conn, {"import_error": describe_exception(exc, source)})
        return
    _send(conn, {"ready": True})
    while True:
        try:
            request = pickle.loads(conn.recv_bytes())
        except EOFError:
            return
        try:
            frame = encode({"ok": probes.run_probe(module, request)})
        except BaseException as exc:  # noqa: BLE001
            frame = encode({"raised": describe_exception(exc, source)})
        conn.send_bytes(frame)
