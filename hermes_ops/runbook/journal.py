"""The deploy journal: an append-only account of one run (its `Record`), saved to JSON before and after every step.

It is the record's source of truth: a failed or interrupted run still leaves a complete,
truthful file, because it was written before the error propagated. The file is created
exclusively: a run never overwrites a file it did not create, whatever its run id says.
A local disk that refuses the write never stops the run's host-side ending (lock, host log):
the error is kept in `save_error` for the deploy to report and act on.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets as random_tokens
import socket
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hermes_ops import local_processes
from hermes_ops.local_files import replace_atomically
from hermes_ops.errors import ConfigError
from hermes_ops.result import Result
from hermes_ops.runbook.record import Record, StepEntry
from hermes_ops.runbook.vocabulary import Outcome, Step, StepStatus
from hermes_ops.secrets import mask_data


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def new_run_id(now: datetime.datetime | None = None) -> str:
    now = now or utc_now()
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + random_tokens.token_hex(3)


def process_identity() -> dict:
    """Who writes this journal: machine, pid and the pid's start time, so a dead writer can be told apart."""
    own = local_processes.stat(os.getpid())
    return {"local_host": socket.gethostname(), "pid": os.getpid(), "process_start": own.start_ticks if own else None}


def check_records_dir(records_dir: Path) -> None:
    """A records directory must be a real directory: a symlink would send records (and removals) elsewhere."""
    if Path(records_dir).is_symlink():
        raise ConfigError(f"the records directory {records_dir} is a symlink (to {os.readlink(records_dir)})",
                          step="parameters",
                          hint="pass the real directory as records_dir / --records-dir; records never follow links")


class Journal:
    """One run's `Record`, filled as the run goes; `save()` writes it atomically to `<records_dir>/<run_id>.json`."""

    def __init__(self, run_id: str, records_dir: Path, *, kind: str = "deploy"):
        self.run_id = run_id
        self.path = Path(records_dir) / f"{run_id}.json"
        self.save_error: str | None = None
        self._created = False
        self.record = Record(run_id=run_id, kind=kind, started_at=utc_now().isoformat(), **process_identity())

    # -- writing -----------------------------------------------------------------------------
    def set(self, **fields) -> None:
        """Set record fields by name (`journal.set(commit_after=…)`); a name `Record` lacks is a TypeError."""
        self.record.update(**fields)

    def fact(self, **facts) -> None:
        """Add what the host said of itself (`hostname`, `host_key_fingerprint`) to the record's facts."""
        self.record.facts.update(facts)

    def begin_step(self, step: Step) -> StepEntry:
        entry = StepEntry(step.number, step.name, step.title, StepStatus.RUNNING, started_at=utc_now().isoformat())
        self.record.steps.append(entry)
        self.save()
        return entry

    def command(self, entry: StepEntry, result: Result) -> None:
        entry.commands.append(result.to_dict())

    def end_step(self, entry: StepEntry, status: StepStatus | str, *, summary: str = "", facts: dict | None = None,
                 error: str | None = None, duration: float) -> None:
        entry.status = StepStatus(status)
        entry.ended_at = utc_now().isoformat()
        entry.duration = round(duration, 3)
        entry.summary, entry.error = summary, error
        entry.facts.update(facts or {})
        self.save()

    def finish(self, outcome: Outcome | str, *, failed_step: str | None = None, failure: str | None = None) -> None:
        ended = utc_now()
        started = datetime.datetime.fromisoformat(self.record.started_at)
        self.record.update(outcome=Outcome(outcome), failed_step=failed_step, failure=failure,
                           ended_at=ended.isoformat(), duration=round((ended - started).total_seconds(), 3))
        self.save()

    def create(self) -> Path:
        """The first write: the file must not exist yet (a run id never claims someone else's file)."""
        check_records_dir(self.path.parent)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            file = open(self.path, "x", encoding="utf-8")
        except FileExistsError:
            raise ConfigError(f"a record for run {self.run_id} already exists at {self.path}", step="parameters",
                              hint="run ids are generated: leave run_id empty (to continue a run, use resume; a prepared "
                                   "copy from `hermes-ops lab` is one run: run `hermes-ops lab` again for the next)"
                              ) from None
        except OSError as error:  # e.g. a full disk: the run goes on to log its ending on the host
            self.save_error = f"{type(error).__name__}: {error}"
            return self.path
        self._created = True  # the file is ours from here, even if this first write fails
        try:
            with file:
                file.write(self._text())
        except OSError as error:
            self.save_error = f"{type(error).__name__}: {error}"
        return self.path

    def save(self) -> Path:
        """Atomically replace our own file; a refused write is remembered in `save_error`, never raised."""
        if not self._created:
            return self.create()
        try:
            replace_atomically(self.path, self._text())
        except OSError as error:
            self.save_error = f"{type(error).__name__}: {error}"
        else:
            self.save_error = None
        return self.path

    def _text(self) -> str:
        return json.dumps(mask_data(self.record.to_json()), indent=2, default=str) + "\n"

    # -- reading -----------------------------------------------------------------------------
    @property
    def outcome(self) -> Outcome | str:
        return self.record.outcome

    @property
    def data(self) -> Mapping[str, Any]:
        """The record as its file holds it: a read-only snapshot for code that reads keys (write with `set`)."""
        return MappingProxyType(self.record.to_json())
