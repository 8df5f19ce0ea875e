"""The console's controller: turns clicks into deploy actions, one at a time, off the kernel's main thread.

A click arrives on the kernel's main thread (ipywidgets delivers comm messages there). The
controller checks it against the rules in `state`, asks for a confirmation when the step is
destructive, and otherwise starts the step on a worker thread and returns at once, so the
kernel stays free to process the next click, a cell, or an interrupt. Nothing here waits for
a click or calls `input()`: a confirmation is just state that the next click resolves.

The deploy's account (its readable output) is routed here too: lines written from the worker
(or from the SSH reader threads it starts) belong to the running action and go to the view;
lines written from the main thread are a notebook cell talking, and go to that cell as before.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from collections.abc import Callable

from hermes_ops.console import state
from hermes_ops.console.state import Action
from hermes_ops.records import store
from hermes_ops.runbook.account import Writer


_open_controllers: "weakref.WeakSet[Controller]" = weakref.WeakSet()


def start_daemon_thread(target: Callable[[], None], name: str) -> None:
    threading.Thread(target=target, name=name, daemon=True).start()


@atexit.register
def stop_open_deploys() -> None:
    """The kernel is shutting down: deploys left open in a console are stopped, so their record is finished."""
    for controller in list(_open_controllers):
        controller.stop_at_exit()


class Controller:
    """Drives one `Deploy` for the console.

    Args:
        deploy: the deploy to drive; it is attached to this console (`Deploy.attach_console`: its
            cells then do nothing, and a failed step leaves it open for retry, rollback or stop).
        on_change: called (from any thread) whenever what the console shows may have changed.
        on_line: called with (row number or None, text) for every line of the deploy's account.
        start_thread: how work is started; tests pass one that runs it at once.
        original_writer: where lines written by notebook cells go (default: the account's writer).
    """

    def __init__(self, deploy, *, on_change: Callable[[], None] = lambda: None,
                 on_line: Callable[[int | None, str], None] = lambda row, text: None,
                 start_thread: Callable[[Callable[[], None], str], None] = start_daemon_thread,
                 original_writer: Writer | None = None):
        self.deploy = deploy
        self.on_change = on_change
        self.on_line = on_line
        self.start_thread = start_thread
        self.busy: Action | None = None
        self.confirming: Action | None = None
        self.busy_since: float | None = None
        self.message = ""
        self.last_error: BaseException | None = None
        self.transcript: list[str] = []
        self.lines: dict[int | None, list[str]] = {}
        self.record: str | None = None
        self.retired = False
        self._stop_when_idle = False
        self._lock = threading.RLock()
        replaced = deploy.attach_console(self.write)
        self.original_writer = original_writer or replaced
        _open_controllers.add(self)

    # -- clicks (kernel main thread) ----------------------------------------------------------------
    def request(self, action: Action) -> str | None:
        """A click on Run / Retry / Roll back / Stop: start it, ask for confirmation, or refuse (the reason)."""
        start = False
        with self._lock:
            reason = self.refusal(action)
            if reason is None and state.needs_confirmation(self.deploy, action):
                self.confirming, self.message = action, ""
            elif reason is None:
                start = self._begin(action)
            else:
                self.message = f"Refused: {reason}."
        self._launch(action if start else None)
        return reason

    def confirm(self) -> None:
        """The confirmation's Confirm button: start the action it asked about."""
        with self._lock:
            action, self.confirming = self.confirming, None
            start = action is not None and self.refusal(action) is None and self._begin(action)
        self._launch(action if start else None)

    def cancel(self) -> None:
        """The confirmation's Cancel button: forget the action; nothing runs, nothing changes."""
        with self._lock:
            action, self.confirming = self.confirming, None
            if action is not None:
                self.message = f"Cancelled: {action.label} was not run; nothing was changed on the host."
        self.on_change()

    def retire(self, *, stop_deploy: bool = False) -> None:
        """A newer console took over: refuse clicks; with `stop_deploy`, end this console's deploy too
        (release the lock, close the session, record it), now or when the running step is over."""
        start = False
        with self._lock:
            self.retired, self.confirming = True, None
            if stop_deploy and not self.deploy.finished:
                if self.busy is None:
                    start = self._begin(Action.stop())
                else:
                    self._stop_when_idle = True
            self.message = "A newer console (below) replaced this one."
        self._launch(Action.stop() if start else None)

    def refusal(self, action: Action) -> str | None:
        """Why `action` may not start now (None: it may), for this console."""
        if self.retired:
            return "this console was replaced by a newer one"
        return state.refusal(self.deploy, action, busy=self.busy, confirming=self.confirming)

    def stop_at_exit(self) -> None:
        """Stop the deploy unless it finished or a step is running (that step's thread dies with the kernel)."""
        with self._lock:
            if self.deploy.finished or self.busy is not None:
                return
            self.retired = True
            self.original_writer = lambda text: None  # the cell the account would print to is gone
        try:
            self.deploy.stop()
            self._archive()
        except Exception:  # the kernel is exiting: nothing is left to report to
            pass

    # -- the work (worker thread) -------------------------------------------------------------------
    def _begin(self, action: Action) -> bool:
        """Mark `action` as running (under the lock); `_launch` then starts it (outside the lock)."""
        self.busy, self.busy_since, self.message, self.last_error = action, time.monotonic(), "", None
        self.lines[action.number] = []
        return True

    def _launch(self, action: Action | None) -> None:
        self.on_change()
        if action is not None:
            self.start_thread(lambda: self._work(action), f"hermes-console-{action.kind}-{action.number}")

    def _work(self, action: Action) -> None:
        deploy = self.deploy
        try:
            if action.kind == "stop":
                deploy.stop()
            elif action.number == state.ROLLBACK.number:
                deploy.rollback()
                if not deploy.finished:
                    deploy.run_step(state.EXIT)  # rolled back: finish, releasing the lock and the session
            else:
                deploy.run_step(action.number)
        except Exception as error:  # the deploy recorded it (DeployFailed); anything else is shown as is
            self.last_error = error
        finally:
            if deploy.finished:
                self._archive()
            with self._lock:
                self.busy, self.busy_since = None, None
                stop_next = self._stop_when_idle and not deploy.finished and self._begin(Action.stop())
                self._stop_when_idle = False
                if stop_next:
                    self.message = "A newer console (below) replaced this one."
            self._launch(Action.stop() if stop_next else None)

    def _archive(self) -> None:
        """A finished interactive run becomes a record like a headless one: `records/<stem>.json`."""
        if self.record is not None or not self.deploy.record_path.exists():
            return
        deploy = self.deploy
        deploy.journal.set(console_account=list(self.transcript))
        deploy.journal.save()
        notebook = store.archive(deploy.record_path.parent, deploy.run_id, None, fallback=deploy.record)
        self.record = str(notebook.with_suffix(".json"))

    # -- the account, as the deploy writes it (any thread) ----------------------------------------
    def write(self, text: str) -> None:
        """The deploy account's writer: the running action's lines to the view, a cell's to the cell."""
        action = self.busy
        if action is None or threading.current_thread() is threading.main_thread():
            self.original_writer(text)
            return
        self.transcript.append(text)
        self.lines.setdefault(action.number, []).append(text)
        self.on_line(action.number, text)

    # -- what the view draws ----------------------------------------------------------------------
    def elapsed(self) -> float | None:
        since = self.busy_since
        return None if since is None else time.monotonic() - since

    def failure(self) -> state.FailureReport | None:
        failed = self.deploy.failed_step
        if failed is None:
            return None
        return state.failure_report(self.deploy, self.last_error, self.lines.get(failed.number, ()))
