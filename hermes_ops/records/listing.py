"""Deploy records as rows to browse: one row per archived run, the filters, and the text `hermes-ops records` prints.

Everything here is pure except `rows_from_folder`, which reads the records folder. Record files
hold untrusted text (operator names, reasons, failures, build output), so what is printed for a
terminal passes through `neutralise`; and nothing is cut short: a host shown as `texasca2-p` could
be `texasca2-prod` or `texasca2-preview`, so every column is as wide as its widest value.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hermes_ops.runbook.record import Record, StepEntry, load_record
from hermes_ops.runbook.vocabulary import StepStatus
from hermes_ops.terminal_text import neutralise

COLUMNS = ("run id", "started (UTC)", "operator", "host", "commit", "outcome", "duration")
COMMIT_WIDTH = 12
OUTPUT_TAIL_LINES = 15
_LABEL_WIDTH = len("failed step:")  # the longest label in a run's details
_AGE = re.compile(r"(\d+)([dhm])")
_AGE_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
_OLDEST = datetime.min.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class RecordRow:
    """One archived run as the listing shows it; `stem` names its files (`<stem>.json`, `.ipynb`, `.html`)."""

    run_id: str
    started_at: str  # ISO 8601 as the record has it ("" if it has none)
    operator: str
    host: str  # the hostname the host reported, else the host parameter
    kind: str
    commit_before: str | None
    commit_after: str | None
    outcome: str
    duration: float | None
    failed_step: str | None
    failure: str | None
    stem: str
    sealed: bool  # the record carries an "integrity" key

    def to_json(self) -> dict:
        """Plain JSON values, for `hermes-ops records --json`."""
        return dataclasses.asdict(self)


def row_from_record(record: Record, stem: str) -> RecordRow:
    """The row of `record`, archived as `<stem>.*`; missing values read as "?" (text) or None."""
    facts = record.facts if isinstance(record.facts, Mapping) else {}
    parameters = record.parameters if isinstance(record.parameters, Mapping) else {}
    host = _text(facts.get("hostname")) or _text(parameters.get("host")) or _text(record.host) or "?"
    duration = record.duration if isinstance(record.duration, (int, float)) else None
    return RecordRow(
        run_id=_text(record.run_id) or "?",
        started_at=_text(record.started_at) or "",
        operator=_text(record.operator) or "?",
        host=host,
        kind=_text(record.kind) or "?",
        commit_before=_text(record.commit_before),
        commit_after=_text(record.commit_after),
        outcome=_text(record.outcome) or "?",
        duration=None if isinstance(duration, bool) else duration,
        failed_step=_text(record.failed_step),
        failure=_text(record.failure),
        stem=stem,
        sealed="integrity" in record.to_json(),
    )


def rows_from_folder(records_dir: Path) -> list[RecordRow]:
    """A row for every archived summary (`*_*_*_*.json`) in `records_dir` that reads as a record.

    Running journals (`<run id>.json`) and unreadable files are left out; the order is the
    files' names (which start with the UTC time): use `RowFilter.apply` for newest first.
    """
    rows = []
    for path in sorted(Path(records_dir).glob("*_*_*_*.json")):
        record = load_record(path)
        if record is not None:
            rows.append(row_from_record(record, path.stem))
    return rows


def started(row: RecordRow) -> datetime | None:
    """When the run started, in UTC (None if the record's time is missing or unreadable)."""
    try:
        return _utc(datetime.fromisoformat(row.started_at))
    except ValueError:
        return None


def newest_first(rows: Iterable[RecordRow]) -> list[RecordRow]:
    """`rows` by start time, newest first; rows without a readable time come last."""
    return sorted(rows, key=lambda row: (started(row) or _OLDEST, row.run_id), reverse=True)


@dataclass(frozen=True)
class RowFilter:
    """Which rows to show: each criterion given narrows the list; `limit` keeps the newest ones."""

    since: datetime | None = None  # started at or after this (a naive time is UTC)
    outcome: str | None = None  # exactly this outcome ("failed", "rolled-back", ...)
    operator: str | None = None  # a part of the operator's name, any case
    host: str | None = None  # a part of the host's name, any case
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 0:
            raise ValueError(f"the limit must be 0 or more, not {self.limit}")

    def apply(self, rows: Iterable[RecordRow]) -> list[RecordRow]:
        """The matching rows, newest first, at most `limit` of them."""
        matching = [row for row in newest_first(rows) if self._matches(row)]
        return matching if self.limit is None else matching[:self.limit]

    def _matches(self, row: RecordRow) -> bool:
        if self.since is not None:
            when = started(row)
            if when is None or when < _utc(self.since):
                return False
        if self.outcome is not None and row.outcome.casefold() != self.outcome.casefold():
            return False
        if self.operator is not None and self.operator.casefold() not in row.operator.casefold():
            return False
        return self.host is None or self.host.casefold() in row.host.casefold()


def parse_since(text: str, now: datetime) -> datetime:
    """The UTC time `--since TEXT` means: a date ("2026-11-20", midnight UTC), a time ("2026-11-20T10:00Z";
    without an offset it is UTC) or an age before `now` ("3d", "12h", "90m").

    Raises ValueError naming the accepted forms.
    """
    text = text.strip()
    age = _AGE.fullmatch(text)
    try:
        if age:
            return _utc(now) - timedelta(**{_AGE_UNITS[age.group(2)]: int(age.group(1))})
        return _utc(datetime.fromisoformat(text))
    except (ValueError, OverflowError):
        raise ValueError(f"--since takes a date (2026-11-20), a UTC time (2026-11-20T10:00Z) or an age "
                         f"(3d, 12h, 90m), not {text!r}") from None


def table_cells(row: RecordRow) -> tuple[str, ...]:
    """The row's values as the table shows them, one per `COLUMNS` entry (raw text: escape it to show it)."""
    when = started(row)
    duration = f"{row.duration:.1f}s" if row.duration is not None else "?"
    return (row.run_id, when.strftime("%Y-%m-%d %H:%M:%S") if when else row.started_at or "?", row.operator,
            row.host, f"{_short(row.commit_before)} → {_short(row.commit_after)}", row.outcome, duration)


def format_table(rows: Sequence[RecordRow]) -> str:
    """A header and one line per row, in the order given; every column as wide as its widest value."""
    lines = [COLUMNS] + [tuple(_one_line(cell) for cell in table_cells(row)) for row in rows]
    widths = [max(len(line[column]) for line in lines) for column in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines)


def format_details(row: RecordRow, record: Record) -> str:
    """`hermes-ops records show RUN_ID`: the run in brief and, if it failed, where, why and the failed
    command's last lines of output (what an operator reads first when a deploy went wrong)."""
    when = started(row)
    ended = _parse_time(record.ended_at)
    lines = [f"run {_one_line(row.run_id)} ({_one_line(row.kind)})",
             _field("outcome", row.outcome),
             _field("operator", row.operator),
             _field("reason", _text(record.reason) or "?"),
             _field("host", _host_line(row, record)),
             _field("started", f"{when:%Y-%m-%d %H:%M:%S} UTC" if when else row.started_at or "?"),
             _field("ended", f"{ended:%Y-%m-%d %H:%M:%S} UTC" if ended else _text(record.ended_at) or "?"),
             _field("duration", table_cells(row)[-1]),
             _field("commit", f"{row.commit_before or 'none'} → {row.commit_after or 'none'}"),
             _field("image", f"{_text(record.image_before) or 'none'} → {_text(record.image_after) or 'none'}"),
             _field("record", f"{row.stem}.json, .ipynb, .html" + (" (sealed)" if row.sealed else ""))]
    entry = failed_entry(record)
    if row.failed_step or row.failure or entry is not None:
        lines += ["", _field("failed step", row.failed_step or (entry.label if entry else "?"))]
        lines.append(_field("why", row.failure or (_text(entry.error) if entry else None) or "?"))
        if entry is not None:
            lines += _last_command_lines(entry)
    return "\n".join(lines)


def failed_entry(record: Record) -> StepEntry | None:
    """The last attempt of the step the record names as failed, else the last failed attempt of any step."""
    failed = [entry for entry in record.steps if entry.status == StepStatus.FAILED]
    if record.failed_step:
        named = [entry for entry in record.steps if entry.label == record.failed_step]
        failed = [entry for entry in named if entry.status == StepStatus.FAILED] or named or failed
    return failed[-1] if failed else None


def _last_command_lines(entry: StepEntry) -> list[str]:
    commands = [command for command in entry.commands if isinstance(command, Mapping)]
    if not commands:
        return [_field("command", "none recorded in this step")]
    command = commands[-1]
    exit_code = command.get("exit_code")
    lines = [_field("command", f"{_text(command.get('command')) or '?'} "
                               f"(exit {exit_code if exit_code is not None else 'status none: killed or lost'})")]
    for stream in ("stdout", "stderr"):
        output = (_text(command.get(stream)) or "").rstrip("\n").splitlines()
        if output:
            tail = output[-OUTPUT_TAIL_LINES:]
            lines.append(f"  {stream}, last {len(tail)} of {len(output)} lines:")
            lines += [f"    | {neutralise(line)}" for line in tail]
    return lines


def _host_line(row: RecordRow, record: Record) -> str:
    target = _text(record.host)
    return f"{row.host} ({target})" if target and target != row.host else row.host


def _field(label: str, value: str) -> str:
    """`  label:  value`, continuation lines indented so a value can never pass for another field."""
    lines = neutralise(value).replace("\t", "\\t").rstrip("\n").splitlines() or [""]
    return f"  {label + ':':{_LABEL_WIDTH}} " + ("\n" + " " * (_LABEL_WIDTH + 3)).join(lines)


def _one_line(text: str) -> str:
    return neutralise(text).replace("\n", "\\n").replace("\t", "\\t")


def _short(commit: str | None) -> str:
    return commit[:COMMIT_WIDTH] if commit else "none"


def _text(value) -> str | None:
    """A record's value as text (None stays None): records are read from files anyone could have edited."""
    return None if value is None else str(value)


def _parse_time(value) -> datetime | None:
    try:
        return _utc(datetime.fromisoformat(value)) if isinstance(value, str) else None
    except ValueError:
        return None


def _utc(when: datetime) -> datetime:
    """`when` in UTC; a time without an offset is taken as UTC."""
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)
