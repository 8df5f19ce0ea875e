"""The deploy journal: an append-only account of one run, saved to JSON before and after every step.

It is the record's source of truth: a failed or interrupted run still leaves a complete,
truthful file, because it was written before the error propagated.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets as random_tokens
from pathlib import Path

from hermes_ops.result import Result


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def new_run_id(now: datetime.datetime | None = None) -> str:
    now = now or utc_now()
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + random_tokens.token_hex(3)


class Journal:
    """One run's facts, steps and commands; `save()` writes them atomically to `<records_dir>/<run_id>.json`."""

    def __init__(self, run_id: str, records_dir: Path, *, kind: str = "deploy"):
        self.run_id = run_id
        self.path = Path(records_dir) / f"{run_id}.json"
        self.data: dict = {
            "run_id": run_id, "kind": kind, "started_at": utc_now().isoformat(), "ended_at": None,
            "duration": None, "outcome": "running", "failed_step": None, "failure": None,
            "facts": {}, "steps": [],
        }

    # -- writing -----------------------------------------------------------------------------
    def set(self, **facts) -> None:
        self.data.update(facts)

    def fact(self, **facts) -> None:
        self.data["facts"].update(facts)

    def begin_step(self, number: int, name: str, title: str) -> dict:
        entry = {"number": number, "name": name, "title": title, "status": "running",
                 "started_at": utc_now().isoformat(), "ended_at": None, "duration": None,
                 "summary": None, "facts": {}, "commands": [], "error": None}
        self.data["steps"].append(entry)
        self.save()
        return entry

    def command(self, entry: dict, result: Result) -> None:
        entry["commands"].append(result.to_dict())

    def end_step(self, entry: dict, status: str, *, summary: str = "", facts: dict | None = None,
                 error: str | None = None, duration: float) -> None:
        entry.update(status=status, ended_at=utc_now().isoformat(), duration=round(duration, 3),
                     summary=summary, error=error)
        entry["facts"].update(facts or {})
        self.save()

    def finish(self, outcome: str, *, failed_step: str | None = None, failure: str | None = None) -> None:
        ended = utc_now()
        started = datetime.datetime.fromisoformat(self.data["started_at"])
        self.data.update(outcome=outcome, failed_step=failed_step, failure=failure, ended_at=ended.isoformat(),
                         duration=round((ended - started).total_seconds(), 3))
        self.save()

    def save(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".json.partial")
        partial.write_text(json.dumps(self.data, indent=2, default=str) + "\n")
        os.replace(partial, self.path)
        return self.path

    # -- reading -----------------------------------------------------------------------------
    @property
    def outcome(self) -> str:
        return self.data["outcome"]
