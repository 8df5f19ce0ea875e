"""The readable account a step prints: commands with exit codes and durations, key facts, the verdict.

Output goes to a callable the caller chooses (a notebook cell's stdout, a terminal, the
widget console), so the same steps serve every caller. Long command output is bounded:
the first lines stream live, the rest is counted (the record keeps head, tail and hash).
Everything written passes through `neutralise` (commit messages and build output are
untrusted: no escape sequence reaches the operator's terminal) and `mask` (registered
secrets, such as the key's passphrase, show as `****`).

A step that prints nothing for `HEARTBEAT_SECONDS` (a silent build, a slow pull, the
health gate waiting) gets a heartbeat line, so neither an operator nor a CI job's
watchdog takes a working deploy for a hung one.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from hermes_ops import paths
from hermes_ops.result import Result
from hermes_ops.runbook.vocabulary import STEPS
from hermes_ops.secrets import mask
from hermes_ops.terminal_text import neutralise

Writer = Callable[[str], None]
LIVE_LINES_LIMIT = 200
HEARTBEAT_SECONDS = 30.0
HEARTBEAT_ENV = "HERMES_OPS_HEARTBEAT_SECONDS"  # another interval (seconds; 0: none), e.g. for a CI watchdog


def default_heartbeat_seconds() -> float:
    """`$HERMES_OPS_HEARTBEAT_SECONDS` if it is a number of seconds, else `HEARTBEAT_SECONDS`."""
    try:
        seconds = float(os.environ.get(HEARTBEAT_ENV, HEARTBEAT_SECONDS))
    except ValueError:
        return HEARTBEAT_SECONDS
    return seconds if 0 <= seconds <= 86400 else HEARTBEAT_SECONDS


def _safe(text: str) -> str:
    """Text fit for the operator's terminal: registered secrets masked, controls shown as escapes."""
    return neutralise(mask(text))


def print_writer(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def display_path(path: str | os.PathLike) -> str:
    """Paths as an operator reads them, without this machine's checkout (a clone), home or working directory."""
    path = Path(path)
    checkout = paths.source_checkout()
    bases = ((checkout, "."),) if checkout else ((Path.cwd(), "."),)
    for base, shown in (*bases, (Path.home(), "~")):
        try:
            return f"{shown}/{path.resolve().relative_to(base)}"
        except ValueError:
            continue
    return str(path)


class Account:
    """Writes one step's account through `writer`; thread-safe, since output arrives from reader threads."""

    def __init__(self, writer: Writer | None = None, live_lines_limit: int = LIVE_LINES_LIMIT,
                 heartbeat_seconds: float | None = None):
        self.writer = writer or print_writer
        self.live_lines_limit = live_lines_limit
        self.heartbeat_seconds = default_heartbeat_seconds() if heartbeat_seconds is None else heartbeat_seconds
        self._lock = threading.Lock()
        self._live_lines = 0
        self._hidden_lines = 0
        self._last_written = time.monotonic()
        self._heartbeat: _Heartbeat | None = None

    def write(self, text: str) -> None:
        with self._lock:
            self._emit(_safe(text))

    def _emit(self, text: str) -> None:
        """Write one line (the lock held); what the heartbeat counts as the operator having seen something."""
        self.writer(text)
        self._last_written = time.monotonic()

    def heading(self, number: int, title: str) -> None:
        """A step's first line; its heartbeat runs until its verdict (the exit step has none: it ends the run)."""
        self.write(f"Step {number} · {title}")
        if number != STEPS[-1].number:
            self._start_heartbeat(f"step {number} {title}")
        else:
            self._stop_heartbeat()

    def command(self, result: Result) -> None:
        code = "—" if result.exit_code is None else str(result.exit_code)
        self.write(f"  $ {result.command}   [exit {code}, {result.duration:.2f}s]")

    def fact(self, label: str, value) -> None:
        self.write(f"  {label}: {value}")

    def note(self, text: str) -> None:
        self.write(f"  {text}")

    def verdict(self, status: str, duration: float, summary: str = "") -> None:
        self._stop_heartbeat()
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
                self._emit(_safe(f"    {'!' if stream == 'stderr' else '|'} {line.rstrip()}"))
            else:
                self._hidden_lines += 1

    def end_live(self, result: Result) -> None:
        if self._hidden_lines:
            self.write(f"    … {self._hidden_lines} more lines not shown live "
                       f"({result.stdout_bytes + result.stderr_bytes} bytes in all); last lines:")
            for line in (result.tail(5, "stdout").splitlines() + result.tail(5, "stderr").splitlines()):
                self.write(f"    | {line}")

    # -- heartbeat ---------------------------------------------------------------------------------
    def _start_heartbeat(self, what: str) -> None:
        self._stop_heartbeat()
        if self.heartbeat_seconds > 0:
            self._heartbeat = _Heartbeat(self, what)

    def _stop_heartbeat(self) -> None:
        heartbeat, self._heartbeat = self._heartbeat, None
        if heartbeat is not None:
            heartbeat.stop()

    def _beat_if_silent(self, what: str, started: float) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._last_written < self.heartbeat_seconds:
                return
            hidden = f"; {self._hidden_lines} lines of output so far not shown live" if self._hidden_lines else ""
            self._emit(f"  … {what} still running after {_elapsed(now - started)}, nothing shown for "
                       f"{_elapsed(now - self._last_written)}{hidden}")


class _Heartbeat:
    """A daemon thread that asks its account, about once a second, whether the step has been silent too long."""

    def __init__(self, account: Account, what: str):
        self._stopped = threading.Event()
        started = time.monotonic()
        check_every = min(1.0, account.heartbeat_seconds / 4)

        def beat():
            while not self._stopped.wait(check_every):
                account._beat_if_silent(what, started)

        self._thread = threading.Thread(target=beat, name="hermes-ops heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()


def _elapsed(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
