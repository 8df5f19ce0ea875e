"""Draining a remote command's stdout and stderr: one reader thread per stream.

Each reader pulls chunks off its paramiko stream as fast as they arrive (so the SSH
window never fills and neither stream can block the other, whatever their sizes),
feeds them to a `BoundedCapture` and, if there is a stream callback, cuts them into
lines, redacts each line and hands it to the callback while the command is still
running. The stderr reader also picks out the wrapper's pid marker line
(see `commandline.wrap`) so it never reaches the output.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Callable

from hermes_ops.secrets import Redactor
from hermes_ops.ssh.capture import BoundedCapture

log = logging.getLogger("hermes_ops.ssh")

StreamCallback = Callable[[str, str], None]

CHUNK_BYTES = 512 * 1024
# A "line" longer than this (a progress bar without newlines, a binary blob) is delivered in pieces.
MAX_LINE_BYTES = 64 * 1024
# The pid marker must turn up within this many stderr bytes (login scripts may print first).
MARKER_SEARCH_BYTES = 64 * 1024


def print_stream(stream: str, line: str) -> None:
    """A ready-made stream callback: stdout lines to sys.stdout, stderr lines to sys.stderr."""
    print(line, file=sys.stderr if stream == "stderr" else sys.stdout, flush=True)


class SerializedCallback:
    """Calls the user's callback from both reader threads, one call at a time.

    If the callback raises, the error is logged once and the callback is dropped for the
    rest of the command: the streams must keep draining, or the command would block.
    """

    def __init__(self, callback: StreamCallback):
        self._callback = callback
        self._lock = threading.Lock()
        self.failed = False

    def __call__(self, stream: str, line: str) -> None:
        with self._lock:
            if self.failed:
                return
            try:
                self._callback(stream, line)
            except Exception:
                self.failed = True
                log.exception("the stream callback raised; it gets no more lines for this command")


class LineSplitter:
    """Turns chunks of bytes into redacted text lines (without their newline)."""

    def __init__(self, emit: Callable[[str], None], redactor: Redactor, max_line: int = MAX_LINE_BYTES):
        self._emit = emit
        self._redactor = redactor
        self._max_line = max_line
        self._pending = b""

    def feed(self, data: bytes) -> None:
        buffer = self._pending + data if self._pending else data
        lines = buffer.split(b"\n")
        self._pending = lines.pop()
        for line in lines:
            self._deliver(line)
        while len(self._pending) > self._max_line:
            self._deliver(self._pending[:self._max_line])
            self._pending = self._pending[self._max_line:]

    def close(self) -> None:
        if self._pending:
            self._deliver(self._pending)
            self._pending = b""

    def _deliver(self, line: bytes) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        self._emit(self._redactor.redact(line.decode("utf-8", "replace")))


class PidMarkerFilter:
    """Removes the wrapper's `\\x1ehermes-ops:<nonce>:<pid>\\n` line from the start of stderr.

    Bytes before the marker (a login script's chatter) are passed through. If the marker
    does not show up within `MARKER_SEARCH_BYTES`, everything is passed through and `pid`
    stays None (the runner then cannot kill the remote process on timeout).
    """

    def __init__(self, marker: bytes):
        self._marker = marker
        self._buffer = b""
        self.searching = True
        self.pid: int | None = None
        self.found = threading.Event()

    def feed(self, data: bytes) -> bytes:
        """The part of `data` that is real output."""
        if not self.searching:
            return data
        self._buffer += data
        start = self._buffer.find(self._marker)
        if start >= 0:
            end = self._buffer.find(b"\n", start)
            if end < 0:
                return b""
            value = self._buffer[start + len(self._marker):end]
            if value.isdigit():
                self.pid = int(value)
            output = self._buffer[:start] + self._buffer[end + 1:]
            self._finish()
            return output
        if len(self._buffer) > MARKER_SEARCH_BYTES:
            output = self._buffer
            self._finish()
            return output
        return b""

    def flush(self) -> bytes:
        """Whatever is still held back when the stream ends."""
        output, self._buffer = (self._buffer if self.searching else b""), b""
        self._finish()
        return output

    def _finish(self) -> None:
        self.searching = False
        self._buffer = b""
        self.found.set()


class StreamReader(threading.Thread):
    """Reads one stream of a channel until EOF. `read` is `channel.recv` or `channel.recv_stderr`."""

    def __init__(self, name: str, read: Callable[[int], bytes], capture: BoundedCapture, *,
                 redactor: Redactor, callback: SerializedCallback | None = None,
                 marker: PidMarkerFilter | None = None):
        super().__init__(name=f"hermes-ops-{name}-reader", daemon=True)
        self.stream = name
        self._read = read
        self.capture = capture
        self._marker = marker
        self._lines = LineSplitter(lambda line: callback(name, line), redactor) if callback else None
        self.last_data = time.monotonic()
        self.error: BaseException | None = None
        self.finished = threading.Event()

    def run(self) -> None:
        try:
            while True:
                data = self._read(CHUNK_BYTES)
                if not data:
                    break
                self.last_data = time.monotonic()
                if self._marker is not None and self._marker.searching:
                    data = self._marker.feed(data)
                self._take(data)
            if self._marker is not None:
                self._take(self._marker.flush())
            if self._lines is not None:
                self._lines.close()
        except BaseException as error:  # reported by the runner, which owns the exception policy
            self.error = error
        finally:
            if self._marker is not None:
                self._marker.found.set()
            self.finished.set()

    def _take(self, data: bytes) -> None:
        if data:
            self.capture.feed(data)
            if self._lines is not None:
                self._lines.feed(data)
