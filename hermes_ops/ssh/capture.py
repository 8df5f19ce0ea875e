"""Collecting one output stream in bounded memory: the head, the tail, a byte count and a sha256.

A deploy step can print a 100 MB build log; keeping all of it in memory (and in the
deploy record) would be a liability. `BoundedCapture` keeps the first and the last
kilobytes of a stream, counts every byte and hashes the whole; the runner builds the
command's `Result` from it, which then still proves exactly what the host sent.
"""

from __future__ import annotations

import hashlib

from hermes_ops.secrets import Redactor

DEFAULT_HEAD_BYTES = 32 * 1024
DEFAULT_TAIL_BYTES = 32 * 1024


class BoundedCapture:
    """Collects one output stream in bounded memory: head, tail, byte count and sha256.

    Feed it chunks as they arrive; memory stays under roughly `head_bytes + 3 * tail_bytes`
    whatever the stream's length.
    """

    def __init__(self, head_bytes: int = DEFAULT_HEAD_BYTES, tail_bytes: int = DEFAULT_TAIL_BYTES):
        if head_bytes < 0 or tail_bytes < 0:
            raise ValueError("capture limits must not be negative")
        self._head_limit = head_bytes
        self._tail_limit = tail_bytes
        self._head = bytearray()
        self._tail = bytearray()
        self._hash = hashlib.sha256()
        self.total = 0

    def feed(self, data: bytes) -> None:
        if not data:
            return
        self._hash.update(data)
        self.total += len(data)
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
            if not data:
                return
        if len(data) >= self._tail_limit:
            self._tail = bytearray(data[len(data) - self._tail_limit:])
            return
        self._tail += data
        if len(self._tail) > 2 * self._tail_limit:
            del self._tail[:-self._tail_limit]

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    @property
    def omitted(self) -> int:
        """Bytes neither in the head nor in the tail kept."""
        kept_tail = min(len(self._tail), self._tail_limit)
        return self.total - len(self._head) - kept_tail

    @property
    def truncated(self) -> bool:
        return self.omitted > 0

    def text(self, redactor: Redactor | None = None) -> str:
        """The kept output as text, redacted; head + marker + tail when truncated."""
        redactor = redactor or Redactor()
        tail = bytes(self._tail[-self._tail_limit:]) if self._tail_limit else b""
        if not self.truncated:
            return redactor.redact((bytes(self._head) + tail).decode("utf-8", "replace"))
        head = redactor.redact_cut(self._head.decode("utf-8", "replace"), cut_at_end=True)
        tail_text = redactor.redact_cut(tail.decode("utf-8", "replace"), cut_at_start=True)
        marker = (f"[... {self.omitted} bytes omitted by hermes-ops; {self.total} bytes in all,"
                  f" sha256 {self.sha256} ...]")
        return f"{head}\n{marker}\n{tail_text}"
