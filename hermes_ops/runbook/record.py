"""The record of one run, typed: what the journal fills and writes, and what records, resume and the console read.

The JSON file is the format: old records, the drills, the host log's readers and people with
`jq` read it, so `Record.to_json()` writes exactly the keys and strings the journal has always
written. Every record has the keys of a run's start (`run_id` … `changelog`); each later key
(`serving_before`, `rollback`, `audit_line`, …) appears once the run has a value for it (a
later key left null is not written: readers take absent and null alike).

`Record.from_json()` reads any record this runbook ever wrote, including those from before
process identities and serving facts were recorded: a missing key takes its default, a key
this version does not know is kept in `extra` and written back, and an outcome or step status
it does not know stays as its text. Nothing is lost on a round trip.

Free-form parts stay plain JSON: the facts, the parameters, each command (`Result.to_dict()`),
and the serving, rollback and resume summaries their own modules shape.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from hermes_ops.runbook.vocabulary import Outcome, Step, StepStatus, step_numbered

_Word = TypeVar("_Word", bound=Enum)
_LATER = "later"  # field metadata: the key is written only once the run has a value for it


def _later(default=None):
    return field(default=default, metadata={_LATER: True})


def _word(enum: type[_Word], value) -> _Word | str:
    """The enum member spelled `value`; a word this version does not know stays as its text."""
    try:
        return enum(value)
    except ValueError:
        return value


def _text(value) -> Any:
    return value.value if isinstance(value, Enum) else value


@dataclass
class StepEntry:
    """One attempt at one step (a retried step has one entry per attempt)."""

    number: int
    name: str = ""
    title: str = ""
    status: StepStatus | str = StepStatus.RUNNING
    started_at: str | None = None
    ended_at: str | None = None
    duration: float | None = None
    summary: str | None = None
    facts: dict = field(default_factory=dict)
    commands: list[dict] = field(default_factory=list)  # each a `Result.to_dict()`
    error: str | None = None
    extra: dict = field(default_factory=dict, repr=False)  # keys this version does not know, kept as read

    @property
    def step(self) -> Step | None:
        """The runbook's `Step` with this number (None for a number this version does not know)."""
        return step_numbered(self.number) if 0 <= self.number <= 9 else None

    @property
    def label(self) -> str:
        """`"5 Build"`, `"preflight"`: how records name this step (its `Step.label`)."""
        step = self.step
        return step.label if step is not None else f"{self.number} {self.title}"

    def to_json(self) -> dict:
        data = {entry.name: getattr(self, entry.name) for entry in dataclasses.fields(self) if entry.name != "extra"}
        data["status"] = _text(self.status)
        return {**data, **_unknown(self.extra, data)}

    @classmethod
    def from_json(cls, data: Mapping) -> "StepEntry":
        known, extra = _split(cls, data)
        if known.get("status") is not None:
            known["status"] = _word(StepStatus, known["status"])
        return cls(**{"number": -1, **_without_nulls(cls, known)}, extra=extra)


# What a run is in brief: who, where, what served before and after, how it ended, when.
SUMMARY_KEYS = ("run_id", "operator", "reason", "host", "commit_before", "commit_after", "image_before",
                "image_after", "outcome", "failed_step", "duration", "started_at", "ended_at")

@dataclass(frozen=True)
class RecordFiles:
    """An archived record's three files, by name in the records directory: one stem, three suffixes."""

    notebook: str
    html: str
    summary: str

    @classmethod
    def named(cls, stem: str) -> "RecordFiles":
        return cls(notebook=f"{stem}.ipynb", html=f"{stem}.html", summary=f"{stem}.json")

    def to_json(self) -> dict:
        return {"notebook": self.notebook, "html": self.html, "summary": self.summary}

    @classmethod
    def from_json(cls, data) -> "RecordFiles | None":
        """The files named in `data`, or None if `data` is not such a mapping."""
        if not isinstance(data, Mapping) or set(data) != {"notebook", "html", "summary"}:
            return None
        if not all(isinstance(value, str) for value in data.values()):
            return None
        return cls(**data)


@dataclass
class Record:
    """Everything one run (a deploy or a rollback) records; `to_json()` is its file, `from_json()` reads it."""

    # -- what every record holds, from the run's start --------------------------------------------
    run_id: str = ""
    kind: str = "deploy"                  # deploy | rollback | access | grant-access
    started_at: str | None = None         # ISO 8601, UTC
    ended_at: str | None = None
    duration: float | None = None         # seconds
    outcome: Outcome | str = Outcome.RUNNING
    failed_step: str | None = None        # the failed step's label: "5 Build", "preflight"
    failure: str | None = None            # why, for an outcome that needs a reason
    facts: dict = field(default_factory=dict)           # what the host said of itself: hostname, host key
    steps: list[StepEntry] = field(default_factory=list)
    local_host: str | None = None         # who writes the journal: machine, pid, the pid's start (clock ticks)
    pid: int | None = None
    process_start: int | None = None
    operator: str | None = None
    reason: str | None = None
    dry_run: bool | None = None
    host: str | None = None               # user@host:port
    parameters: dict = field(default_factory=dict)      # `DeployParameters.to_record()`
    commit_before: str | None = None      # what served before the run
    commit_after: str | None = None       # what the run deployed (or rolled back to)
    image_before: str | None = None
    image_after: str | None = None
    changelog: list[str] = field(default_factory=list)

    # -- what a run records as it learns it (absent until then) ------------------------------------
    resumed_from: dict | None = _later()          # `ResumePoint.summary()` of the run this one continues
    serving_before: dict | None = _later()        # `Serving.to_record()` when connected
    abandoned_runs: list[str] | None = _later()   # earlier runs found abandoned whose host log line this run wrote
    target_commit: str | None = _later()          # origin's commit, as preflight saw it
    lock_acquired_at: str | None = _later()
    stopped_builds: list[dict] | None = _later()  # leftover builds of killed runs: {"run_id", "pids"}
    checkout_before: str | None = _later()        # the admin checkout's HEAD before the pull
    lock_lost: bool | None = _later()
    rollback: dict | None = _later()              # why, the restored image, seconds unavailable, app log tail
    interrupted_by: str | None = _later()         # SIGINT, SIGTERM, SIGHUP
    serving_after: dict | None = _later()         # `Serving.to_record()` as the run ended
    audit_line: str | None = _later()             # the run's line in the host log
    audit_logged: bool | None = _later()
    audit_error: str | None = _later()
    lock_released: bool | None = _later()
    refused_by: str | None = _later()             # "lock": another deploy held it, so nothing was changed
    session_closed: bool | None = _later()
    console_account: list[str] | None = _later()  # what the step console showed, line by line
    access: dict | None = _later()                # an access run: action, key fingerprint, grantee, expiry, change
    record: RecordFiles | None = _later()         # the archived files, once archived

    extra: dict = field(default_factory=dict, repr=False)  # keys this version does not know, kept as read

    # -- writing -------------------------------------------------------------------------------------
    def update(self, **values) -> None:
        """Set fields by name (what `Journal.set` does); a name that is not a field is a TypeError."""
        for name, value in values.items():
            if name not in _field_names(Record):
                raise TypeError(f"a run record has no field {name!r} to set")
            setattr(self, name, _word(Outcome, value) if name == "outcome" else value)

    # -- reading -------------------------------------------------------------------------------------
    def latest_steps(self) -> dict[int, StepEntry]:
        """The latest entry of each step number (a retried step has one entry per attempt)."""
        return {entry.number: entry for entry in self.steps}

    # -- the JSON form -------------------------------------------------------------------------------
    def summary(self) -> dict:
        """The run in brief, as plain JSON values (`SUMMARY_KEYS`): step 8's return value, the CLI's --json."""
        data = self.to_json()
        return {key: data.get(key) for key in SUMMARY_KEYS}

    def to_json(self) -> dict:
        """The record as its file holds it: plain JSON values, the keys in the order a run writes them."""
        data: dict[str, Any] = {}
        for entry in dataclasses.fields(self):
            value = getattr(self, entry.name)
            if entry.name == "extra" or (value is None and entry.metadata.get(_LATER)):
                continue
            data[entry.name] = value
        data["outcome"] = _text(self.outcome)
        data["steps"] = [step.to_json() for step in self.steps]
        if self.record is not None:
            data["record"] = self.record.to_json()
        return {**data, **_unknown(self.extra, data)}

    @classmethod
    def from_json(cls, data: Mapping) -> "Record":
        """Any record this runbook wrote, old or new (see the module's docstring)."""
        known, extra = _split(cls, data)
        if known.get("outcome") is not None:
            known["outcome"] = _word(Outcome, known["outcome"])
        if "steps" in known:
            steps = known.pop("steps") or []
            known["steps"] = [StepEntry.from_json(step) for step in steps if isinstance(step, Mapping)]
            if len(known["steps"]) != len(steps):
                extra["steps"] = steps  # not a list of steps: kept as read, never half-converted
                del known["steps"]
        if "record" in known:
            files = RecordFiles.from_json(known.pop("record"))
            if files is not None:
                known["record"] = files
            elif data["record"] is not None:
                extra["record"] = data["record"]
        return cls(**_without_nulls(cls, known), extra=extra)


def load_record(path: Path) -> Record | None:
    """The record in the JSON file `path`, or None if there is no readable record there."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return Record.from_json(data) if isinstance(data, dict) else None


def as_record(record: "Record | Mapping") -> Record:
    """`record` itself, or the `Record` its JSON form (a dict, a journal's `data`) holds."""
    return record if isinstance(record, Record) else Record.from_json(record)


def _field_names(cls) -> frozenset[str]:
    return frozenset(entry.name for entry in dataclasses.fields(cls) if entry.name != "extra")


def _split(cls, data: Mapping) -> tuple[dict, dict]:
    """`data`'s keys that are fields of `cls`, and the others (kept in `extra`)."""
    names = _field_names(cls)
    known = {key: value for key, value in data.items() if key in names}
    extra = {key: value for key, value in data.items() if key not in names}
    return known, extra


def _without_nulls(cls, known: dict) -> dict:
    """`known` less the nulls where a field's default is not null (a collection, the outcome): those take it."""
    defaults = {entry.name: entry.default for entry in dataclasses.fields(cls)}
    return {key: value for key, value in known.items() if value is not None or defaults[key] is None}


def _unknown(extra: dict, written: dict) -> dict:
    """The kept keys to write back: those no field wrote, or wrote empty (a field with a value always wins)."""
    return {key: value for key, value in extra.items() if written.get(key) in (None, [], {})}
