"""`AccessRun`: one run of an access runbook, journaled, logged on the host and recorded like a deploy.

A notebook cell calls one step method; papermill runs them all. Whatever a step does, the run either
goes on or finishes: the host's audit log gets its line (when the host was reached), the SSH session is
closed, and the record (JSON, notebook, HTML) is saved before the error propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from hermes_ops.errors import HermesOpsError
from hermes_ops.result import Result
from hermes_ops.runbook.account import Account, Writer
from hermes_ops.runbook.audit import format_audit_line
from hermes_ops.runbook.ending import archive_notebook, log_on_host, run_journaled
from hermes_ops.runbook.journal import Journal, new_run_id, utc_now
from hermes_ops.runbook.record import Record
from hermes_ops.runbook.steps import StepOutcome
from hermes_ops.runbook.vocabulary import Outcome, Step, StepStatus
from hermes_ops.ssh import SSHRunner


class AccessFailed(HermesOpsError):
    """An access run stopped at a step; its record says why. Nothing after that step ran."""


class AccessRun:
    """One access run: `kind` names its runbook (`access`, `grant-access`), `steps` its numbered steps."""

    kind = "access"
    steps: tuple[Step, ...] = ()

    def __init__(self, params, *, writer: Writer | None = None):
        self.params = params
        self.account = Account(writer)
        self.run_id = params.run_id or new_run_id()
        self.runner: SSHRunner | None = None
        self.finished = False
        self.success = Outcome.SUCCESS  # a step that finds nothing to change makes it NOTHING_NEW
        self.notebook = None  # the kernel's record of this run's notebook (`from_namespace` starts it)
        self._current = None
        self.journal = Journal(self.run_id, Path(params.records_dir), kind=self.kind)
        self.journal.set(operator=params.operator, reason=params.reason,
                         host=f"{params.user}@{params.host}:{params.port}", parameters=params.to_record(),
                         access={"action": params.action})
        self.journal.create()

    @classmethod
    def from_namespace(cls, namespace: dict, **kwargs) -> "AccessRun":
        """From the notebook's parameter variables, checked before anything touches the host; recorded by the kernel."""
        from hermes_ops.records import kernel_notebook

        params = cls.parameters_class().from_values(namespace).resolved()
        if params.run_id:
            kernel_notebook.refuse_a_finished_run(params.run_id, Path(params.records_dir))
        run = cls(params, **kwargs)
        run.notebook = kernel_notebook.start(run.run_id, Path(params.records_dir), run.kind)
        return run

    @classmethod
    def parameters_class(cls) -> type:
        raise NotImplementedError

    # -- what the run knows -----------------------------------------------------------------------
    @property
    def record(self) -> Record:
        return self.journal.record

    @property
    def record_path(self) -> Path:
        return self.journal.path

    def note_access(self, **facts) -> None:
        """Add to the record's `access` section (the key, the grantee, the change made)."""
        self.record.access = {**(self.record.access or {}), **facts}

    # -- commands, journaled ------------------------------------------------------------------------
    def connect(self, target) -> SSHRunner:
        if self.runner is None or not self.runner.connected:
            self.runner = SSHRunner(target).connect()
        return self.runner

    def run(self, argv: Sequence, *, timeout: float | None = None, check: bool = True, stdin=None,
            quiet: bool = False) -> Result:
        """Run on the host; every command goes into the journal and (unless `quiet`) the account."""
        return run_journaled(self.runner, argv, self._journal_command, quiet=quiet,
                             timeout=timeout or self.params.command_timeout, check=check, stdin=stdin)

    def _journal_command(self, result: Result, quiet: bool) -> None:
        if self._current is not None:
            self.journal.command(self._current, result)
        if not quiet:
            self.account.command(result)

    # -- steps ------------------------------------------------------------------------------------
    def step(self, number: int, function: Callable[["AccessRun"], StepOutcome], *,
             skip: str | None = None) -> StepOutcome:
        """Run step `number` (or record it skipped, saying why); a failure finishes the run, then raises."""
        step = self.steps[number - 1]
        if self.finished:
            raise AccessFailed(f"this run already finished ({self.journal.outcome}); start a new run",
                               step=step.label, host=self.params.host, hint="re-run the notebook from the top")
        self.account.heading(step.number, step.title)
        self._current = self.journal.begin_step(step)
        started = utc_now()
        try:
            outcome = StepOutcome(StepStatus.SKIPPED, skip) if skip else function(self)
        except (Exception, KeyboardInterrupt) as error:
            self._fail(step, error, (utc_now() - started).total_seconds())
        duration = (utc_now() - started).total_seconds()
        self.journal.end_step(self._current, outcome.status, summary=outcome.summary, facts=outcome.facts,
                              duration=duration)
        self.account.verdict(outcome.status, duration, outcome.summary)
        self._current = None
        return outcome

    def _fail(self, step: Step, error: BaseException, duration: float):
        interrupted = isinstance(error, KeyboardInterrupt)
        message = error.message if isinstance(error, HermesOpsError) else f"{type(error).__name__}: {error}"
        if interrupted:
            message = "interrupted (Ctrl-C / SIGINT)"
        self.journal.end_step(self._current, StepStatus.FAILED, summary=message.splitlines()[0], error=message,
                              duration=duration)
        self.account.verdict(StepStatus.FAILED, duration, message.splitlines()[0])
        self._current = None
        self.finish(Outcome.INTERRUPTED if interrupted else Outcome.FAILED, failed_step=step.label, failure=message)
        if interrupted:
            raise error
        hint = getattr(error, "hint", None) or "read the record, fix the cause, run it again"
        raise AccessFailed(f"{self.kind} stopped at step {step.label}: {message}", step=step.label,
                           host=self.params.host, hint=f"{hint} (record: {self.record_path})") from error

    # -- the end, in every outcome ------------------------------------------------------------------
    def finish(self, outcome: Outcome | None = None, *, failed_step: str | None = None,
               failure: str | None = None) -> dict:
        """Log the run on the host (if reached), close the session, save and archive the record; the summary."""
        if self.finished:
            return self.summary()
        self.finished = True
        self.journal.finish(outcome or self.success, failed_step=failed_step, failure=failure)
        try:
            self._append_audit_line()
        finally:
            if self.runner is not None:
                self.runner.close()
            self.journal.set(session_closed=True)
            self.journal.save()
        self.account.write("Exit")
        for label, value in self.summary_lines():
            self.account.fact(label, value)
        if self.journal.save_error:
            self.account.note(f"WARNING: the record could not be written to {self.params.records_dir} "
                              f"({self.journal.save_error}); the host log has this run's line")
        archive_notebook(self.notebook, self.journal, self.account, self.params.records_dir,
                         self.params.connection())
        return self.summary()

    def audit_fields(self) -> dict:
        record, access = self.record, self.record.access or {}
        return {"kind": self.kind, "run": self.run_id, "operator": record.operator or "?",
                "host": record.facts.get("hostname") or self.params.host, "action": access.get("action", ""),
                "key": access.get("fingerprint", ""), "grantee": access.get("grantee", ""),
                "expires": access.get("expiry", ""), "change": access.get("change", ""),
                "outcome": str(record.outcome), "reason": record.reason or ""}

    def _append_audit_line(self) -> None:
        log_on_host(self.runner, self.journal, format_audit_line(
            utc_now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            {name: value for name, value in self.audit_fields().items() if value != ""}))

    def summary_lines(self) -> list[tuple[str, str]]:
        record, access = self.record, self.record.access or {}
        lines = [("operator", record.operator or "?"), ("action", access.get("action", "?"))]
        for label in ("fingerprint", "grantee", "expiry", "change", "request"):
            if access.get(label):
                lines.append((label, access[label]))
        lines += [("outcome", f"{record.outcome}" + (f" at step {record.failed_step}" if record.failed_step else "")),
                  ("duration", f"{record.duration:.1f}s"), ("run id", self.run_id)]
        return lines

    def summary(self) -> dict:
        return {**self.record.summary(), "access": self.record.access}
