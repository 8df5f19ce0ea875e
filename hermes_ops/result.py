"""What a remote command did: the frozen `Result`, and the bounded capture that fills it.

A deploy step can print a 100 MB build log; keeping all of it in memory (and in the
deploy record) would be a liability. `BoundedCapture` keeps the first and the last
kilobytes of a stream, counts every byte and hashes the whole, so a `Result` stays
small while still proving exactly what the host sent (the count and the sha256 can
be compared with `wc -c` / `sha256sum` on the host). The stream callback, not the
`Result`, is the place to see every line.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import datetime

from hermes_ops.secrets import Redactor
from hermes_ops.terminal_text import neutralise

DEFAULT_HEAD_BYTES = 32 * 1024
DEFAULT_TAIL_BYTES = 32 * 1024


@dataclass(frozen=True)
class Result:
    """The outcome of one remote command. Every text field is already redacted.

    Attributes:
        host: where it ran, as `user@host:port`.
        command: the command line as shown to people (secrets masked as `****`).
        exit_code: the remote exit status; None if the host sent none (the command was
            killed by a signal, timed out, or the connection was lost).
        stdout, stderr: the captured output, decoded as UTF-8; when `truncated`, the
            head and the tail with a marker line saying how much was left out.
        started_at, ended_at: timezone-aware UTC datetimes.
        duration: seconds, from a monotonic clock.
        stdout_bytes, stderr_bytes: how many bytes each stream carried in all.
        stdout_sha256, stderr_sha256: hex sha256 of each whole stream, as received.
        truncated: True if either stream was longer than what was kept.
        dry_run: True if nothing ran (the result came from a `DryRunRunner`).
    """

    host: str
    command: str
    exit_code: int | None
    stdout: str
    stderr: str
    started_at: datetime
    ended_at: datetime
    duration: float
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    stdout_sha256: str = hashlib.sha256(b"").hexdigest()
    stderr_sha256: str = hashlib.sha256(b"").hexdigest()
    truncated: bool = False
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        """True if the command exited 0."""
        return self.exit_code == 0

    def tail(self, lines: int = 10, stream: str = "stdout") -> str:
        """The last `lines` lines of `stream` ("stdout" or "stderr"), for error messages."""
        if stream not in ("stdout", "stderr"):
            raise ValueError(f"stream must be 'stdout' or 'stderr', not {stream!r}")
        if lines <= 0:
            return ""
        text = self.stdout if stream == "stdout" else self.stderr
        return "\n".join(text.rstrip("\n").splitlines()[-lines:])

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (datetimes as ISO 8601 strings), for deploy records.

        The command and output text are neutralised (`terminal_text`), since records are
        read in terminals and rendered as HTML; the byte counts and sha256 stay those of
        the raw streams as received, which still prove exactly what the host sent.
        """
        data = dataclasses.asdict(self)
        for name in ("command", "stdout", "stderr"):
            data[name] = neutralise(data[name])
        data["started_at"] = self.started_at.isoformat()
        data["ended_at"] = self.ended_at.isoformat()
        data["ok"] = self.ok
        return data


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
