"""`Deploy`: runs the steps in order for any caller, journals everything, and always finishes cleanly.

A notebook cell calls one step method; papermill runs them all; the step console calls
`run_step` on clicks. Whatever happens in a step, the deploy either goes on or finishes:
the lock is released, the session closed, the host's audit log gets its line, and the
record is saved before the error propagates.
"""

from __future__ import annotations

import secrets
import shlex
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from hermes_ops.commands import docker
from hermes_ops.commands import lock as lock_commands
from hermes_ops.commands import host as host_commands
from hermes_ops.errors import CommandFailed, HermesOpsError
from hermes_ops.facts import lock as lock_facts
from hermes_ops.facts.images import short_id
from hermes_ops.params import DeployParameters, from_namespace
from hermes_ops.result import Result
from hermes_ops.runbook import abandoned, resume, serving, steps
from hermes_ops.runbook.account import Account, Writer
from hermes_ops.runbook.audit import format_audit_line
from hermes_ops.runbook.ending import archive_notebook, log_on_host, run_journaled
from hermes_ops.runbook.journal import Journal, new_run_id, utc_now
from hermes_ops.runbook.lock import DeployLock, LockBusy
from hermes_ops.runbook.record import Record, StepEntry
from hermes_ops.runbook.signals import SignalGuard, Terminated
from hermes_ops.runbook.steps import RolledBack, StepError, StepOutcome
from hermes_ops.runbook.vocabulary import (PREFLIGHT, ROLLBACK, RUN_ORDER, STEPS, Outcome, Step, StepStatus,
                                           step_numbered)
from hermes_ops.ssh import DryRunRunner, SSHRunner


class DeployFailed(HermesOpsError):
    """The deploy stopped at a step; the record says why and what state the host is in."""


class LockLost(StepError):
    """Someone broke this deploy's lock: it must not change the host any more."""


class Deploy:
    """One deploy run. Call the step methods in order (`step1_ssh_key()` … `step8_exit()`)."""

    def __init__(self, params: DeployParameters, *, writer: Writer | None = None, finish_on_failure: bool = True,
                 kind: str = "deploy"):
        """`finish_on_failure=False` (the step console) leaves a failed deploy open for retry, rollback or stop."""
        self.params = params
        self.finish_on_failure = finish_on_failure
        self.failed_step: Step | None = None
        self.account = Account(writer)
        self.run_id = params.run_id or new_run_id()
        self.dry_run = params.dry_run
        self.journal = Journal(self.run_id, Path(params.records_dir), kind=kind)
        self.abandoned_runs = self._close_abandoned_runs(Path(params.records_dir))
        self.journal.set(operator=params.operator, reason=params.reason, dry_run=params.dry_run,
                         host=params.address, parameters=params.to_record(),
                         commit_before=None, commit_after=None, image_before=None, image_after=None, changelog=[])
        self.started_at_text = self.record.started_at
        self.runner: SSHRunner | None = None
        self.lock = DeployLock(None, host=params.host)
        self.nothing_new = False
        self.lock_taken = False  # set once the lock was ours: from then on every change is fenced
        self.lock_holds = 0  # how many times this run took the lock: what `remember` kept belongs to one hold
        self._kept_under_lock: dict[str, tuple[int, object]] = {}
        self.rolled_back = False
        self.preflight_done = False
        self.finished = False
        self.console_active = False  # see attach_console: cells then leave the steps to the console
        self.resumed = resume.load(params) if params.resume else None
        if self.resumed:
            self.journal.set(resumed_from=self.resumed.summary())
        self._current: StepEntry | None = None
        self.notebook = None  # the kernel's own record of this run's notebook (`from_namespace` starts it)
        self.journal.create()
        self.signals = SignalGuard(self._end_on_idle_signal).install()

    def attach_console(self, writer: Writer) -> Writer:
        """The step console drives this deploy from now on; returns the account's writer it replaces.

        Notebook cells then leave the steps to the console, a failed step stays open for retry,
        rollback or stop (instead of finishing the deploy), and the account goes to `writer`.
        """
        replaced = self.account.writer
        self.console_active = True
        self.finish_on_failure = False
        self.account.writer = writer
        return replaced

    @staticmethod
    def _close_abandoned_runs(records_dir: Path) -> list[dict]:
        """Earlier runs here whose process died: closed now, host-logged once this run is connected."""
        if not records_dir.is_dir() or records_dir.is_symlink():
            return []
        abandoned.close(records_dir)
        return abandoned.unlogged(records_dir)

    @classmethod
    def from_namespace(cls, namespace: dict, **kwargs) -> "Deploy":
        """From the notebook's parameter variables: validated before anything touches the host.

        In a kernel, the run's notebook is recorded from here on (`records.kernel_notebook`), so that
        however the notebook is run (plain papermill, cell by cell, JupyterLab) the run ends with its
        three record files, unless the caller archives it itself (`hermes-ops deploy`).
        """
        from hermes_ops.records import kernel_notebook

        params = from_namespace(namespace)
        if params.run_id:  # given (a prepared copy, hermes-ops deploy): never one that has ended
            kernel_notebook.refuse_a_finished_run(params.run_id, Path(params.records_dir))
        deploy = cls(params, **kwargs)
        deploy.notebook = kernel_notebook.start(deploy.run_id, Path(deploy.params.records_dir), deploy.record.kind)
        return deploy

    # -- facts the steps share -------------------------------------------------------------------
    @property
    def record(self) -> Record:
        """What this run records so far (the journal's `Record`)."""
        return self.journal.record

    @property
    def commit_after(self) -> str:
        return self.record.commit_after or ""

    @property
    def image_after(self) -> str:
        return self.record.image_after or ""

    @property
    def record_path(self) -> Path:
        return self.journal.path

    # -- commands, journaled ---------------------------------------------------------------------
    def open_connection(self) -> None:
        if self.runner is None or not self.runner.connected:
            self.runner = SSHRunner(self.params.ssh_target()).connect()
        self.lock = DeployLock(self.runner, host=self.params.host)

    def run(self, argv: Sequence, *, timeout: float | None = None, check: bool = True, stream=None,
            quiet: bool = False, mutating: bool = False) -> Result:
        """Run on the host; every command goes into the journal, and (unless `quiet`) the account.

        A `mutating` command in a dry run is shown and journaled, never run.
        """
        if self.signals.pending() and self.signals.in_step:
            raise Terminated(self.signals.received)
        if mutating and self.dry_run:
            result = DryRunRunner(self.params.ssh_target(), echo=None).run(list(argv))
            self._journal_command(result, quiet=True)
            self.account.note(f"would run: $ {result.command}")
            return result
        options = dict(timeout=timeout or self.params.command_timeout, stream=stream)
        if not (mutating and self.lock_taken):
            return run_journaled(self.runner, argv, self._journal_command, quiet=quiet, check=check, **options)
        # Fenced: the host runs it only while our run still holds the lock (the check and the command in one
        # round trip); refused, nothing ran, and this deploy stops.
        if self.lock.lost:
            self._lock_lost("our lock process on the host ended")
        nonce = secrets.token_hex(8)
        try:
            result = run_journaled(self.runner, argv, self._journal_command, quiet=quiet, check=check,
                                   guard=lock_commands.fence_guard(self.run_id, nonce), **options)
        except CommandFailed as error:
            self._refused_by_fence(error.result, nonce)
            raise
        self._refused_by_fence(result, nonce)
        return result

    def in_admin(self, argv: Sequence, *, environment: dict | None = None, **kwargs) -> Result:
        """Run inside the admin container, in the checkout."""
        return self.run(docker.exec_in(self.params.admin_container, list(argv), workdir=self.params.repo_dir,
                                       environment=environment), **kwargs)

    def remember(self, name: str, value) -> None:
        """Keep `value`, read while this run holds the lock, for a later step of the same hold (`recall`).

        Nothing is kept in a dry run or before the lock is taken: another deploy could change the host
        between two steps then.
        """
        if not self.dry_run and self.lock.held and not self.lock.lost:
            self._kept_under_lock[name] = (self.lock_holds, value)

    def recall(self, name: str, default=None):
        """What `remember` kept under the current hold of the lock, if this run has held it since; else `default`.

        While the lock is held no other deploy can change the host, so a fact that only a deploy changes
        (a marked build running, say) stays as read for this run's later steps; keep nothing else. A
        lock lost or taken again since (a broken lock, a new session) makes all kept before it stale:
        the caller reads the host again.
        """
        hold, value = self._kept_under_lock.get(name, (None, default))
        if hold != self.lock_holds or not self.lock.held or self.lock.lost:
            return default
        return value

    def check_lock(self) -> None:
        """The fencing check alone: our run id still holds the lock on the host, or we stop here."""
        if self.lock.lost:
            self._lock_lost("our lock process on the host ended")
        answer = lock_facts.fence.read(self.runner.run, self.run_id, timeout=30)
        if answer.state is not lock_facts.LockState.HELD:
            self._lock_lost(f"the lock now says: {answer.holder or 'nothing'}")

    def _refused_by_fence(self, result: Result | None, nonce: str) -> None:
        """A fenced command the host refused to run (the lock is not ours): this deploy stops."""
        holder = lock_facts.fence_refusal(result.exit_code, result.stderr, nonce) if result is not None else None
        if holder is not None:
            self._lock_lost(f"the lock now says: {holder}")

    def _lock_lost(self, why: str):
        """Record that this run lost its lock, and stop it (raises `LockLost`)."""
        self.journal.set(lock_lost=True)
        raise LockLost(f"this deploy lost the deploy lock ({why}): someone broke it, and another deploy may be "
                       "running; stopping before any further change", host=self.params.host,
                       step=self.lock.step, hint="check `hermes-ops lock status` and the host log; what serves "
                       "now is in this record (serving_after); deploy again once the other run has finished")

    def _lock_is_lost(self) -> bool:
        """After a failure: was the cause that our lock was broken? (Read-only; False if we cannot tell.)"""
        if not self.lock_taken or self.dry_run or self.runner is None or not self.runner.connected:
            return False
        try:
            self.check_lock()
        except LockLost:
            return True
        except HermesOpsError:
            return False
        return False

    def _journal_command(self, result: Result, quiet: bool) -> None:
        if self._current is not None:
            self.journal.command(self._current, result)
        if not quiet:
            self.account.command(result)

    # -- the steps, as notebook cells call them ----------------------------------------------------
    def step1_ssh_key(self) -> StepOutcome | None:
        return self._from_cell(1)

    def step2_connect(self) -> StepOutcome | None:
        return self._from_cell(2)

    def preflight(self) -> StepOutcome | None:
        return self._from_cell(0)

    def step3_start_admin(self) -> StepOutcome | None:
        return self._from_cell(3)

    def step4_pull(self) -> StepOutcome | None:
        return self._from_cell(4)

    def step5_build(self) -> StepOutcome | None:
        return self._from_cell(5)

    def step6_commit_image(self) -> StepOutcome | None:
        return self._from_cell(6)

    def step7_replace_app(self) -> StepOutcome | None:
        return self._from_cell(7)

    def step8_exit(self) -> dict | None:
        """Close the session and print the summary (after a failure, the failing step already did this)."""
        return self._from_cell(8)

    def rollback(self) -> StepOutcome:
        """Restore the previous (or `rollback_to`) image as latest, gated like a deploy; ends as rolled-back."""
        return self._step(ROLLBACK, steps.rollback)

    def _from_cell(self, number: int):
        """A notebook cell's call: when the step console drives this deploy, the cell leaves it to the console."""
        if self.console_active:
            self.account.write(f"Step {number or 'preflight'}: run it from the step console above (this cell "
                               "does nothing while the console drives the deploy)")
            return None
        return self.run_step(number)

    def run_step(self, number: int) -> StepOutcome | dict:
        """Run step `number` (0 = preflight, 1-8); the console and the cells both come here."""
        if number == 8:
            if not self.finished:
                self._finish(self._success_outcome())
            return self.summary()
        step = step_numbered(number)
        return self._step(step, getattr(steps, step.name))

    def run_all(self) -> dict:
        for number in RUN_ORDER:
            result = self.run_step(number)
        return result

    def stop(self) -> dict:
        """End a deploy the operator gave up on: release the lock, close the session, log and record it."""
        if not self.finished:
            failed = self.failed_step
            self._finish(Outcome.ROLLED_BACK if self.rolled_back else Outcome.FAILED if failed else Outcome.STOPPED,
                         failed_step=failed.label if failed else None, failure=self.record.failure)
        return self.summary()

    def _success_outcome(self) -> Outcome:
        if self.dry_run:
            return Outcome.DRY_RUN
        if self.rolled_back:
            return Outcome.ROLLED_BACK
        return Outcome.NOTHING_NEW if self.nothing_new else Outcome.SUCCESS

    def _step(self, step: Step, function) -> StepOutcome:
        label = step.label
        if self.finished:
            raise DeployFailed(f"this deploy already finished ({self.journal.outcome}); start a new run",
                               step=label, host=self.params.host, hint="re-run the notebook from the top")
        if step in (PREFLIGHT, ROLLBACK):
            self.account.write(step.title)
        else:
            self.account.heading(step.number, step.title)
        self.failed_step = None
        started = time.monotonic()
        self._current = self.journal.begin_step(step)
        outer_in_step, self.signals.in_step = self.signals.in_step, True  # preflight may nest in step 3
        self.signals.step_thread = threading.current_thread()
        try:
            if self.signals.received:  # a SIGTERM/SIGHUP arrived between two steps
                raise Terminated(self.signals.received)
            outcome = self._skip_reason(step)
            if outcome is None:
                if step.mutating and not self.preflight_done and step is not ROLLBACK:
                    self._nested_preflight()
                if step.mutating and not self.dry_run and not self.lock.held:
                    self.lock.step = label
                    if self.journal.save_error:
                        raise StepError(f"the record cannot be written to {self.params.records_dir} "
                                        f"({self.journal.save_error}): not changing the host without a record",
                                        step=label, host=self.params.host,
                                        hint="free space or fix permissions in the records directory, then "
                                             "deploy again; nothing was changed")
                    self.lock.acquire(self._lock_holder(), wait=self.params.lock_wait)
                    self.lock_taken = True
                    self.lock_holds += 1
                    self.journal.set(lock_acquired_at=utc_now().isoformat())
                    self.account.note("deploy lock taken on the host")
                outcome = function(self)
            if step is PREFLIGHT:
                self.preflight_done = True
            if step is STEPS[1]:
                self._log_abandoned_runs()
                if self.resumed:
                    resume.verify_host(self, self.resumed)
        except (Exception, KeyboardInterrupt) as error:
            self.signals.in_step = outer_in_step
            self._fail(step, label, error, time.monotonic() - started)
        self.signals.in_step = outer_in_step
        duration = time.monotonic() - started
        self.journal.end_step(self._current, outcome.status, summary=outcome.summary, facts=outcome.facts,
                              duration=duration)
        self.account.verdict(outcome.status, duration, outcome.summary)
        self._current = None
        return outcome

    def _lock_holder(self) -> str:
        target = (self.record.target_commit or self.commit_after or "unknown")[:12]
        return (f"run={self.run_id} operator={shlex.quote(self.params.operator)} commit={target} "
                f"since={utc_now().strftime('%Y-%m-%dT%H:%M:%SZ')}")

    def _nested_preflight(self) -> None:
        """A mutating step never runs before the read-only preflight has passed."""
        entry = self._current
        self._current = None
        try:
            self._step(PREFLIGHT, steps.preflight)
        finally:
            self._current = entry

    def _skip_reason(self, step: Step) -> StepOutcome | None:
        if self.resumed and step.number in self.resumed.finished_steps and step.mutating:
            return StepOutcome(StepStatus.RESUMED, f"done in run {self.resumed.run_id}; not repeated")
        if step.number in (5, 6, 7) and self.nothing_new:
            return StepOutcome(StepStatus.SKIPPED, "nothing new to deploy (set force=True to redeploy)")
        return None

    def _fail(self, step: Step, label: str, error: BaseException, duration: float):
        if not isinstance(error, (LockLost, KeyboardInterrupt)) and self._lock_is_lost():
            error = LockLost(f"this deploy lost the deploy lock during step {label} (someone broke it; another "
                             f"deploy may be running), and then: {error}", host=self.params.host, step=label,
                             hint="check `hermes-ops lock status` and the host log before deploying again")
        message = error.message if isinstance(error, HermesOpsError) else f"{type(error).__name__}: {error}"
        self.journal.end_step(self._current, StepStatus.FAILED, summary=message.splitlines()[0], error=str(error),
                              duration=duration)
        self.account.verdict(StepStatus.FAILED, duration, message.splitlines()[0])
        self._current = None
        self.failed_step = step
        interrupted = isinstance(error, KeyboardInterrupt)
        error_text = str(error) or ("interrupted (Ctrl-C / SIGINT)" if interrupted else "")
        self.journal.set(failure=error_text)
        if isinstance(error, LockBusy):
            self.journal.set(refused_by="lock")
        if interrupted:
            self.journal.set(interrupted_by=error.signal_name if isinstance(error, Terminated) else "SIGINT")
        outcome = (Outcome.INTERRUPTED if interrupted else Outcome.ROLLED_BACK if isinstance(error, RolledBack)
                   else Outcome.FAILED)
        if interrupted or self.finish_on_failure:
            self._finish(outcome, failed_step=label, failure=error_text)
        else:
            self.journal.save()
        if interrupted:
            raise error
        hint = getattr(error, "hint", None) or "read the record, fix the cause, run the deploy again"
        raise DeployFailed(f"deploy stopped at step {label}: {message}", step=label, host=self.params.host,
                           hint=f"{hint} (record: {self.record_path}; continue later with resume={self.run_id!r})"
                           ) from error

    # -- the end, in every outcome -------------------------------------------------------------------
    def _finish(self, outcome: Outcome, *, failed_step: str | None = None, failure: str | None = None) -> None:
        """Read what serves, log the run on the host, free the lock, close the session, save the record.

        Signals wait until this is done: an impatient second Ctrl-C or SIGTERM must not cut it short.
        """
        self.finished = True
        self.signals.deferring = True
        try:
            self._read_serving_after()
            self.journal.finish(outcome, failed_step=failed_step, failure=failure)
            try:
                self._append_audit_line()
            finally:
                self.lock.release()
                if self.runner is not None:
                    self.runner.close()
                self.journal.set(lock_released=True, session_closed=True)
                self.journal.save()
        finally:
            self.signals.deferring = False
            self.signals.uninstall()
        self.account.heading(8, "Exit")
        self.account.note("deploy lock released, SSH session closed")
        for label, value in self.summary_lines():
            self.account.fact(label, value)
        if self.journal.save_error:
            self.account.note(f"WARNING: the record could not be written to {self.params.records_dir} "
                              f"({self.journal.save_error}); the host log has this run's line")
        if not self.console_active:
            self._archive_notebook_record()
        elif self.notebook is not None:  # the step console archives its deploy itself, with its account,
            self.notebook.save()          # and takes this notebook with it (`store.archive`)

    def _archive_notebook_record(self) -> None:
        """A run from a notebook archives its record (JSON, notebook, HTML) once the finishing cell ends.

        Only a run the kernel records (`from_namespace`, not `hermes-ops deploy`'s: it archives itself).
        """
        archive_notebook(self.notebook, self.journal, self.account, self.params.records_dir, self.params)

    def _end_on_idle_signal(self, signal_name: str) -> None:
        """SIGTERM/SIGHUP while no step runs (an idle JupyterLab kernel): end the deploy as interrupted."""
        if not self.finished:
            self.journal.set(interrupted_by=signal_name)
            self._finish(Outcome.INTERRUPTED, failure=f"{signal_name}: the deploy was asked to end between steps")
            if self.console_active:  # no console action is running to archive it
                self._archive_notebook_record()

    def _read_serving_after(self) -> None:
        """What serves as the run ends, read from the host: the record's last word on production."""
        if self.runner is None or not self.runner.connected or self.dry_run:
            return
        try:
            now = serving.read(self)
        except HermesOpsError:
            return
        self.journal.set(serving_after=now.to_record())

    def _log_abandoned_runs(self) -> None:
        """Host log lines for earlier runs found abandoned in this records directory (their process died)."""
        logged = []
        for journal in self.abandoned_runs:
            line = self._audit_line(Record.from_json(journal))
            try:
                self.runner.run(host_commands.append_audit_line(line), timeout=30)
            except HermesOpsError:
                continue
            logged.append(journal["run_id"])
            self.account.note(f"run {journal['run_id']} was abandoned (its process died): logged on the host")
            abandoned.mark_logged(journal, line)
        if self.abandoned_runs:
            self.journal.set(abandoned_runs=logged)

    def _audit_line(self, record: Record) -> str:
        """One host log line for the run `record` describes (values quoted: no field can be faked)."""
        parameters = record.parameters
        return format_audit_line(utc_now().strftime("%Y-%m-%dT%H:%M:%SZ"), {
            "kind": record.kind,
            "run": record.run_id,
            "operator": record.operator or parameters.get("operator") or "?",
            "host": record.facts.get("hostname") or parameters.get("host") or "?",
            "commit": f"{(record.commit_before or 'none')[:12]}->{(record.commit_after or 'none')[:12]}",
            "image": short_id(record.image_after or record.image_before),
            "outcome": str(record.outcome),
            "reason": record.reason or parameters.get("reason") or "",
        })

    def _append_audit_line(self) -> None:
        log_on_host(self.runner, self.journal, self._audit_line(self.record))

    def summary_lines(self) -> list[tuple[str, str]]:
        record = self.record
        return [
            ("operator", self.params.operator),
            ("host", f"{record.facts.get('hostname', '?')} ({self.params.host}:{self.params.port})"),
            ("commit", f"{(record.commit_before or 'none')[:12]} → {(record.commit_after or 'none')[:12]}"),
            ("image", f"{short_id(record.image_before)} → "
                      f"{short_id(record.image_after or record.image_before)}"),
            ("outcome", f"{record.outcome}" + (f" at step {record.failed_step}" if record.failed_step else "")),
            ("duration", f"{record.duration:.1f}s"),
            ("run id", self.run_id),
        ]

    def summary(self) -> dict:
        """The run in brief, as plain JSON values: what step 8's cell returns."""
        return self.record.summary()
