"""SIGTERM and SIGHUP end a deploy the way Ctrl-C does: the step stops, the deploy finishes cleanly.

A closed terminal (SIGHUP) or a cancelled CI job (SIGTERM) would otherwise kill the process on
the spot, leaving the record `running` and no host log line. While a step runs, the first such
signal raises `Terminated` (a KeyboardInterrupt, so every interrupt path handles it); while the
deploy is finishing (lock, host log, record), signals wait until it is done.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

HANDLED = (signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """The deploy's process was asked to end (SIGTERM/SIGHUP): handled like an interrupt."""

    def __init__(self, signal_name: str):
        super().__init__(f"{signal_name}: the deploy was asked to end")
        self.signal_name = signal_name


class SignalGuard:
    """Turns SIGTERM/SIGHUP into `Terminated` in the main thread; `finishing()` defers them."""

    def __init__(self, on_idle_signal: Callable[[str], None]):
        """`on_idle_signal(name)` runs when a signal arrives between steps (e.g. an idle JupyterLab kernel)."""
        self.on_idle_signal = on_idle_signal
        self.received: str | None = None
        self.in_step = False
        self.step_thread: threading.Thread | None = None  # the step console runs steps on a worker thread
        self.deferring = False
        self.retired = False
        self._previous: dict[int, object] = {}

    def install(self) -> "SignalGuard":
        if threading.current_thread() is not threading.main_thread():
            return self  # signal handlers can only be set from the main thread; elsewhere we stay as we were
        for number in HANDLED:
            self._previous[number] = signal.signal(number, self._handle)
        return self

    def uninstall(self) -> None:
        """Give the signals back; from a worker thread this happens at the next signal instead."""
        if threading.current_thread() is not threading.main_thread():
            self.retired = True
            return
        for number, previous in self._previous.items():
            signal.signal(number, previous)
        self._previous.clear()

    def pending(self) -> str | None:
        """A signal that a step on a worker thread must act on at its next command."""
        return None if self.deferring else self.received

    def _handle(self, number: int, frame) -> None:
        name = signal.Signals(number).name
        if self.retired:  # the deploy is over: behave as if we had never been here
            signal.signal(number, self._previous.pop(number, signal.SIG_DFL))
            os.kill(os.getpid(), number)
            return
        if self.received or self.deferring:
            self.received = self.received or name
            return  # already ending: let it finish
        self.received = name
        if not self.in_step:
            self.on_idle_signal(name)
        elif self.step_thread is threading.main_thread():
            raise Terminated(name)
        # else: the step runs on a worker thread, and stops at its next command (Deploy.run)
