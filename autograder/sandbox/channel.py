"""The judge's end of a worker's pipe: every read and write bounded in time and size.

The worker speaks `multiprocessing.connection`'s framing (a 4-byte big-endian signed
length — or -1 and an 8-byte length — then the bytes).  The judge reads the length first
and refuses a frame over its limit without reading a byte of it, and it reads and writes
against a deadline, so a worker that sends half a frame and stalls, or stops reading its
requests, cannot hang the judge.
"""

from __future__ import annotations

import socket
import struct
import time
from typing import Callable


class ChannelTimeout(Exception):
    """The deadline passed before the frame was complete."""


class ChannelClosed(Exception):
    """The worker's end closed (it exited, or it died) before the frame was complete."""


class FrameTooLong(Exception):
    """The worker announced a frame longer than the limit (`length`, in bytes)."""

    def __init__(self, length: int) -> None:
        super().__init__(f"a frame of {length} bytes")
        self.length = length


POLL_SECONDS = 0.25


class Channel:
    """A connected stream socket to one worker.

    Args:
        sock: the judge's end of a socketpair whose other end the worker holds.
        alive: tells whether the worker process still exists; waiting stops early when it
            does not (a process it left behind may hold the pipe open).
    """

    def __init__(self, sock: socket.socket, alive: Callable[[], bool]) -> None:
        self.sock = sock
        self.alive = alive

    def _wait(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ChannelTimeout()
        self.sock.settimeout(min(left, POLL_SECONDS))

    def _read_exactly(self, n: int, deadline: float) -> bytes:
        chunks, got = [], 0
        while got < n:
            self._wait(deadline)
            try:
                chunk = self.sock.recv(min(n - got, 1 << 20))
            except (socket.timeout, BlockingIOError):
                if not self.alive():
                    raise ChannelClosed() from None
                continue
            except OSError:
                raise ChannelClosed() from None
            if not chunk:
                raise ChannelClosed()
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def wait(self, deadline: float) -> str:
        """Wait until a frame starts arriving: "ready"; or "closed" (end of file, or the
        worker is gone) or "timeout" (the deadline passed)."""
        while True:
            try:
                self._wait(deadline)
            except ChannelTimeout:
                return "timeout"
            try:
                return "ready" if self.sock.recv(1, socket.MSG_PEEK) else "closed"
            except (socket.timeout, BlockingIOError):
                if not self.alive():
                    return "ready" if self._peek_now() else "closed"
            except OSError:
                return "closed"

    def _peek_now(self) -> bool:
        self.sock.settimeout(0)
        try:
            return bool(self.sock.recv(1, socket.MSG_PEEK))
        except OSError:
            return False

    def receive(self, limit: int, deadline: float) -> bytes:
        """One frame of at most `limit` bytes, complete before `deadline`."""
        (length,) = struct.unpack("!i", self._read_exactly(4, deadline))
        if length == -1:
            (length,) = struct.unpack("!Q", self._read_exactly(8, deadline))
        if length < 0 or length > limit:
            raise FrameTooLong(length)
        return self._read_exactly(length, deadline)

    def send(self, data: bytes, deadline: float) -> None:
        """One frame, written before `deadline` (a worker that stops reading cannot block us)."""
        header = struct.pack("!i", len(data)) if len(data) <= 0x7FFFFFFF else struct.pack("!iQ", -1, len(data))
        view = memoryview(header + data)
        while view:
            self._wait(deadline)
            try:
                sent = self.sock.send(view)
            except (socket.timeout, BlockingIOError):
                if not self.alive():
                    raise ChannelClosed() from None
                continue
            except OSError:
                raise ChannelClosed() from None
            view = view[sent:]

    def close(self) -> None:
        self.sock.close()
