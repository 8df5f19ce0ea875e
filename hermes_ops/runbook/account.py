"""The readable account a step prints: commands with exit codes and durations, key facts, the verdict.

Output goes to a callable the caller chooses (a notebook cell's stdout, a terminal, the
widget console), so the same steps serve every caller. Long command output is bounded:
the first lines stream live, the rest is counted (the record keeps head, tail and hash).
Everything written passes through `neutralise` (commit messages and build output are
untrusted: no escape sequence reaches the operator's terminal) and `mask` (registered
secrets, such as the key's passphrase, show as `****`).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from hermes_ops.result import Result
from hermes_ops.secrets import mask
from hermes_ops.terminal_text import neutralise

Writer = Callable[[str], None]
LIVE_LINES_LIMIT = 200


def _safe(text: str) -> str:
    """Text fit for the operator's terminal: registered secrets masked, controls shown as escapes."""
    return neutralise(mask(text))


def print_writer(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def display_path(path: str | os.PathLike) -> str:
    """Paths as an operator reads them, without this machine's home or checkout prefix."""
    path = Path(path)
    for base, shown in ((Path(__file__).resolve().parents[2], "."), (Path.home(), "~")):
        try:
            return f"{shown}/{path.resolve().relative_to(base)}"
        except ValueError:
            continue
    return str(path)


class Account:
    """Writes one step's account through `writer`; thread-safe, since output arrives from reader threads."""

    def __init__(self, writer: Writer | None = None, live_lines_limit: int = LIVE_LINES_LIMIT):
        self.writer = writer or print_writer
        self.live_lines_limit = live_lines_limit
        self._lock = threading.Lock()
        self._live_lines = 0
        self._hidden_lines = 0

    def write(self, text: str) -> None:
        with self._lock:
            self.writer(_safe(text))

    def heading(self, number: int, title: str) -> None:
        self.write(f"Step {number} · {title}")

    def command(self, result: Result) -> None:
        code = "—" if result.exit_code is None else str(result.exit_code)
        self.write(f"  $ {result.command}   [exit {code}, {result.duration:.2f}s]")

    def fact(self, label: str, value) -> None:
        self.write(f"  {label}: {value}")

    def note(self, text: str) -> None:
        self.write(f"  {text}")

    def verdict(self, status: str, duration: float, summary: str = "") -> None:
        mark = {"done": "✔", "skipped": "–", "no-op": "✔", "failed": "✘"}.get(status, "•")
        self.write(f"  {mark} {status}{': ' + summary if summary else ''} ({duration:.1f}s)")

    # -- live output of long commands ------------------------------------------------------------
    def start_live(self) -> None:
        self._live_lines = self._hidden_lines = 0

    def live(self, stream: str, line: str) -> None:
        """Stream callback for builds: the first lines as they come, then a count."""
        with self._lock:
            if self._live_lines < self.live_lines_limit:
                self._live_lines += 1
                self.writer(_safe(f"    {'!' if stream == 'stderr' else '|'} {line.rstrip()}"))
            else:
                self._hidden_lines += 1

    def end_live(self, result: Result) -> None:
        if self._hidden_lines:
            self.write(f"    … {self._hidden_lines} more lines not shown live "
                       f"({result.stdout_bytes + result.stderr_bytes} bytes in all); last lines:")
            for line in (result.tail(5, "stdout").splitlines() + result.tail(5, "stderr").splitlines()):
                self.write(f"    | {line}")
