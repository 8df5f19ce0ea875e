"""What a remote command did: the frozen `Result`, a plain value.

A deploy step can print a 100 MB build log; a `Result` keeps only the head and the tail
of each stream (`hermes_ops.ssh.capture.BoundedCapture` collects them), with the byte
count and sha256 of the whole, so it stays small while still proving exactly what the
host sent (compare with `wc -c` / `sha256sum` on the host). The stream callback, not
the `Result`, is the place to see every line.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import datetime

from hermes_ops.terminal_text import neutralise


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
