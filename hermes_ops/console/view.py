"""The console's widgets: one row per step, a confirmation box, a failure panel; drawn from the controller.

`render()` redraws everything from the controller's state and may be called from any thread
(clicks arrive on the kernel's main thread, step results on the worker). Account lines are
appended to the running step's `Output` as they arrive (`append_stdout`, never `with output:`,
which is not safe outside the main thread). Every interesting widget carries a `hermes-*`
CSS class, so the browser tests find them by meaning rather than by position.
"""

from __future__ import annotations

import html
import threading
import time

import ipywidgets as widgets

from hermes_ops.console import state
from hermes_ops.console.controller import Controller
from hermes_ops.console.state import Action
from hermes_ops.runbook.account import display_path
from hermes_ops.runbook.vocabulary import StepStatus

ROWS = state.RUN_ORDER + (state.ROLLBACK.number,)
TICK_SECONDS = 0.5
COLOURS = {state.PENDING: "#757575", state.NOT_RUN: "#9e9e9e", StepStatus.RUNNING: "#1565c0",
           StepStatus.FAILED: "#c62828"}
SUCCESS_COLOUR = "#2e7d32"
AUTO_WIDTH = {"width": "auto"}
TONES = {"success": ("#e8f5e9", "#1b5e20"), "failure": ("#ffebee", "#b71c1c"), "warning": ("#fff8e1", "#e65100"),
         "active": ("#e3f2fd", "#0d47a1"), "neutral": ("#f5f5f5", "#212121")}


def row_class(number: int) -> str:
    """`hermes-step-5`, `hermes-step-preflight`, `hermes-step-rollback`."""
    if number == state.PREFLIGHT.number:
        return "hermes-step-preflight"
    if number == state.ROLLBACK.number:
        return "hermes-step-rollback"
    return f"hermes-step-{number}"


def _classed(widget, *names: str):
    for name in names:
        widget.add_class(name)
    return widget


def _show(widget, visible: bool) -> None:
    display = None if visible else "none"
    if widget.layout.display != display:
        widget.layout.display = display


class StepRow:
    """One step: title, status badge, elapsed time, what it did, its Run button and its live output."""

    def __init__(self, number: int, on_run):
        self.number = number
        step = state.step_of(number)
        shown = "P" if number == state.PREFLIGHT.number else "R" if number == state.ROLLBACK.number else number
        self.title = _classed(widgets.HTML(f"<b>{shown}</b>&nbsp; {html.escape(step.title)}"
                                           + (" <span title='asks for confirmation'>⚠</span>"
                                              if number in state.DESTRUCTIVE else ""),
                                           layout=widgets.Layout(width="17em")), "hermes-title")
        self.status = _classed(widgets.HTML(layout=widgets.Layout(width="6.5em")), "hermes-status")
        self.elapsed = _classed(widgets.Label(layout=widgets.Layout(width="4.5em")), "hermes-elapsed")
        self.run = _classed(widgets.Button(description="Run", layout=widgets.Layout(width="5.5em"),
                                           disabled=True), "hermes-run")
        self.run.on_click(lambda _button: on_run(number))
        self.show_log = _classed(widgets.ToggleButton(value=False, description="log", tooltip="show the output",
                                                      layout=widgets.Layout(width="4em")), "hermes-log-toggle")
        self.summary = _classed(widgets.HTML(layout=widgets.Layout(flex="1 1 auto")), "hermes-summary")
        self.output = _classed(widgets.Output(layout=widgets.Layout(
            max_height="16em", overflow="auto", border="1px solid #e0e0e0", margin="0 0 4px 2em",
            display="none")), "hermes-output")
        self.show_log.observe(lambda change: _show(self.output, change["new"]), names="value")
        # Rolling back is a choice of the failure panel: its row has no Run button, only a gap.
        first = self.run if number != state.ROLLBACK.number else widgets.Box(layout=widgets.Layout(width="5.5em"))
        controls = [self.title, self.status, self.elapsed, first, self.show_log, self.summary]
        self.box = _classed(widgets.VBox([widgets.HBox(controls, layout=widgets.Layout(align_items="center")),
                                          self.output]), "hermes-row", row_class(number))

    def draw(self, status: StepStatus | str, elapsed: str, summary: str, run_enabled: bool, why_not: str) -> None:
        colour = SUCCESS_COLOUR if status in state.SUCCEEDED else COLOURS.get(status, "#757575")
        badge = (f"<span style='color:{colour};font-weight:600' data-status='{html.escape(status)}'>"
                 f"{html.escape(status)}</span>")
        if self.status.value != badge:
            self.status.value = badge
        self.elapsed.value = elapsed
        summary_html = f"<span style='color:#555'>{html.escape(summary)}</span>" if summary else ""
        if self.summary.value != summary_html:
            self.summary.value = summary_html
        self.run.disabled = not run_enabled
        self.run.button_style = "primary" if run_enabled else ""
        self.run.tooltip = "" if run_enabled else why_not


class ConsoleView:
    """The widget tree of one console; `widget` is what the notebook displays."""

    def __init__(self, controller: Controller):
        self.controller = controller
        self._lock = threading.RLock()
        self._ticking = False
        self._opened_for: Action | None = None
        deploy = controller.deploy
        params = deploy.params
        dry = " · <b>dry run</b>: steps 3-7 only show what they would do" if getattr(deploy, "dry_run", False) else ""
        self.header = _classed(widgets.HTML(
            f"<div style='font-size:1.1em'><b>Hermes deploy console</b> · run <code>{html.escape(deploy.run_id)}"
            f"</code></div><div>{html.escape(params.operator)} deploys <b>{html.escape(params.branch)}</b> to "
            f"<b>{html.escape(params.user)}@{html.escape(params.host)}:{params.port}</b> "
            f"({html.escape(params.reason)}){dry}</div>"), "hermes-header")
        self.connection = _classed(widgets.HTML(), "hermes-connection")
        self.banner = _classed(widgets.HTML(), "hermes-banner")
        self.message = _classed(widgets.HTML(), "hermes-message")
        self.rows = {number: StepRow(number, self._on_run) for number in ROWS}

        self.confirm_text = _classed(widgets.HTML(), "hermes-confirm-text")
        self.confirm_yes = _classed(widgets.Button(description="Confirm", button_style="danger", icon="check",
                                                   layout=AUTO_WIDTH), "hermes-confirm-yes")
        self.confirm_no = _classed(widgets.Button(description="Cancel", layout=AUTO_WIDTH), "hermes-confirm-no")
        self.confirm_yes.on_click(lambda _button: controller.confirm())
        self.confirm_no.on_click(lambda _button: controller.cancel())
        self.confirm_box = _classed(widgets.VBox(
            [self.confirm_text, widgets.HBox([self.confirm_yes, self.confirm_no])],
            layout=widgets.Layout(border="2px solid #c62828", padding="6px", margin="6px 0", display="none")),
            "hermes-confirm")

        self.failure_text = _classed(widgets.HTML(), "hermes-failure-text")
        self.retry = _classed(widgets.Button(description="Retry", icon="redo", button_style="warning",
                                             layout=AUTO_WIDTH), "hermes-retry")
        self.rollback = _classed(widgets.Button(description="Roll back", icon="undo", button_style="danger",
                                                layout=AUTO_WIDTH), "hermes-rollback")
        self.stop = _classed(widgets.Button(description="Stop", icon="stop", layout=AUTO_WIDTH,
                                            tooltip="release the deploy lock, close the SSH session, record it"),
                             "hermes-stop")
        self.retry.on_click(lambda _button: self._on_retry())
        self.rollback.on_click(lambda _button: controller.request(Action.run(state.ROLLBACK.number)))
        self.stop.on_click(lambda _button: controller.request(Action.stop()))
        self.failure_box = _classed(widgets.VBox(
            [self.failure_text, widgets.HBox([self.retry, self.rollback, self.stop])],
            layout=widgets.Layout(border="2px solid #c62828", padding="6px", margin="6px 0", display="none")),
            "hermes-failure")

        self.stop_idle = _classed(widgets.Button(
            description="Stop the deploy", icon="stop", layout=AUTO_WIDTH,
            tooltip="give up: release the deploy lock, close the SSH session, record it as stopped"),
            "hermes-stop-idle")
        self.stop_idle.on_click(lambda _button: controller.request(Action.stop()))

        self.widget = _classed(widgets.VBox(
            [self.header, self.connection, self.banner,
             *(self.rows[number].box for number in ROWS),
             self.confirm_box, self.failure_box, self.message, self.stop_idle],
            layout=widgets.Layout(border="1px solid #bdbdbd", padding="8px", max_width="72em")),
            "hermes-console")
        controller.on_change = self.render
        controller.on_line = self.append
        self.render()

    # -- clicks ------------------------------------------------------------------------------------
    def _on_run(self, number: int) -> None:
        self.controller.request(Action.run(number))

    def _on_retry(self) -> None:
        failed = self.controller.deploy.failed_step
        if failed is not None:
            self.controller.request(Action.run(failed.number))

    # -- drawing -----------------------------------------------------------------------------------
    def append(self, number: int | None, text: str) -> None:
        """A line of the running action's account, into its row's output."""
        row = self.rows.get(number) if number is not None else None
        if row is not None:
            row.output.append_stdout(text + "\n")

    def render(self) -> None:
        with self._lock:
            self._render()

    def _render(self) -> None:
        controller, deploy = self.controller, self.controller.deploy
        busy, confirming = controller.busy, controller.confirming
        self._open_log_of(busy)
        self._draw_rows(busy, confirming)
        self._draw_state(busy, confirming)
        self._draw_confirmation(confirming)
        report = controller.failure() if busy is None and not deploy.finished else None
        self._draw_failure(report, busy, confirming)
        message = (f"<span style='color:#6d4c41;font-style:italic'>{html.escape(controller.message)}</span>"
                   if controller.message else "")
        if self.message.value != message:
            self.message.value = message
        if busy is not None:
            self._start_ticker()

    def _draw_rows(self, busy: Action | None, confirming: Action | None) -> None:
        controller, deploy = self.controller, self.controller.deploy
        blocked = busy is not None or confirming is not None or controller.retired
        wanted = None if blocked else state.next_step(deploy)
        entries = state.journal_entries(deploy)
        running = busy.number if busy is not None else None
        for number, row in self.rows.items():
            entry = entries.get(number)
            if number == running:
                elapsed = f"{controller.elapsed() or 0:.1f}s"
            elif entry is not None and entry.duration is not None:
                elapsed = f"{entry.duration:.1f}s"
            else:
                elapsed = ""
            summary = (entry.summary if entry is not None else None) or ""
            if number == state.EXIT and deploy.finished:
                summary = f"outcome: {deploy.record.outcome}"
            why_not = "" if number == wanted else (controller.refusal(Action.run(number)) or "")
            row.draw(state.status_of(deploy, number, running), elapsed, summary[:110], number == wanted, why_not)
            if number == state.ROLLBACK.number:
                _show(row.box, number in entries or number == running)

    def _draw_state(self, busy: Action | None, confirming: Action | None) -> None:
        """The banner (what happens, what is next) and the connection line (session, lock)."""
        deploy = self.controller.deploy
        record = display_path(self.controller.record) if self.controller.record else None
        text, tone = state.banner(deploy, busy=busy, confirming=confirming, record=record)
        background, colour = TONES[tone]
        banner = (f"<div data-tone='{tone}' style='background:{background};color:{colour};padding:6px 10px;"
                  f"margin:6px 0;border-radius:4px;font-weight:600'>{html.escape(text)}</div>")
        if self.banner.value != banner:
            self.banner.value = banner
        runner, lock = getattr(deploy, "runner", None), getattr(deploy, "lock", None)
        session = "open" if runner is not None and runner.connected else "closed"
        held = "held" if lock is not None and getattr(lock, "held", False) else "not held"
        self.connection.value = (f"<span style='color:#555'>SSH session: <b data-session='{session}'>{session}</b>"
                                 f" · deploy lock: <b>{held}</b></span>")

    def _draw_confirmation(self, confirming: Action | None) -> None:
        _show(self.confirm_box, confirming is not None)
        if confirming is None:
            self.confirm_text.value, self.confirm_yes.description = "", "Confirm"
            return
        question = state.confirmation_text(self.controller.deploy, confirming)
        self.confirm_text.value = (f"<b>⚠ {html.escape(confirming.label.capitalize())} changes production.</b>"
                                   f"<br>{html.escape(question)}")
        self.confirm_yes.description = f"Confirm: {confirming.label}"

    def _draw_failure(self, report: state.FailureReport | None, busy: Action | None,
                      confirming: Action | None) -> None:
        """What failed, its last lines, what to do, and the choices; the idle Stop button when nothing failed."""
        controller, deploy = self.controller, self.controller.deploy
        _show(self.failure_box, report is not None)
        if report is None:
            self.failure_text.value = ""
        else:
            lines = "\n".join(report.last_lines) or "(no output)"
            hint = f"<div><b>What to do:</b> {html.escape(report.hint)}</div>" if report.hint else ""
            self.failure_text.value = (f"<div style='color:#b71c1c;font-weight:600'>✘ {html.escape(report.headline)}"
                                       f"</div><div>Last lines:</div><pre class='hermes-last-lines' style='"
                                       f"background:#fafafa;border:1px solid #eee;padding:4px;max-height:14em;"
                                       f"overflow:auto;white-space:pre-wrap'>{html.escape(lines)}</pre>{hint}"
                                       "<div>Choose: <b>retry</b> the step, <b>roll back</b> to the previous image,"
                                       " or <b>stop</b> (releases the lock, closes the session, records it).</div>")
            self.retry.description = f"Retry {state.step_label(deploy.failed_step.number)}"
        choices = state.choices(deploy, busy=busy, confirming=confirming)
        self.retry.disabled = controller.retired or not choices["retry"]
        self.rollback.disabled = controller.retired or not choices["rollback"]
        self.rollback.tooltip = ("" if state.can_roll_back(deploy)
                                 else "this version of hermes_ops cannot roll back from the console")
        self.stop.disabled = self.stop_idle.disabled = controller.retired or not choices["stop"]
        _show(self.stop_idle, report is None and not deploy.finished)

    def _open_log_of(self, busy: Action | None) -> None:
        """The running action's output opens (and is cleared for a new attempt); finished ones fold away."""
        if busy == self._opened_for:
            return
        self._opened_for = busy
        if busy is None:
            return
        for number, row in self.rows.items():
            if number == busy.number:
                row.output.outputs = ()
                row.show_log.value = True
            elif state.status_of(self.controller.deploy, number) in state.SUCCEEDED:
                row.show_log.value = False

    def _start_ticker(self) -> None:
        """While an action runs, its elapsed time counts up (a thread: the kernel stays free)."""
        if self._ticking:
            return
        self._ticking = True

        def tick():
            while True:
                with self._lock:  # render() starts tickers under this lock: no action is left without one
                    busy, elapsed = self.controller.busy, self.controller.elapsed()
                    if busy is None or elapsed is None:
                        self._ticking = False
                        return
                self.rows[busy.number].elapsed.value = f"{elapsed:.1f}s"
                time.sleep(TICK_SECONDS)

        threading.Thread(target=tick, name="hermes-console-ticker", daemon=True).start()

