"""Runs that died without finishing (SIGKILL, a crashed kernel, a power cut) are found and closed as `abandoned`.

Such a run leaves its journal saying `running`. Its deploy lock died with it (the lock lives
only as long as the run's SSH channel), so once its process is gone from this machine the run
is over: it is archived with outcome `abandoned`, and the next deploy writes its host log line.
"""

from __future__ import annotations

import datetime
import json
import re
import socket
from pathlib import Path

from hermes_ops import local_processes
from hermes_ops.local_files import replace_atomically
from hermes_ops.runbook.journal import utc_now
from hermes_ops.runbook.record import Record, load_record
from hermes_ops.runbook.vocabulary import Outcome, StepStatus

UNFINISHED_JOURNAL = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}\.json")
FAILURE = ("the deploy process ended without finishing (killed, or its machine stopped); its SSH session and "
           "deploy lock ended with it. What serves now is in the next run's record.")


def writer_alive(record: Record) -> bool:
    """True if the process that writes `record` still runs on this machine (or we cannot tell: another machine)."""
    if record.local_host != socket.gethostname() or not record.pid:
        return True
    return local_processes.running(int(record.pid), record.process_start)


def find(records_dir: Path) -> list[Path]:
    """Unfinished journals in `records_dir` whose writer is gone."""
    found = []
    for path in sorted(Path(records_dir).glob("*.json")):
        if not UNFINISHED_JOURNAL.fullmatch(path.name) or path.is_symlink():
            continue
        record = load_record(path)
        if record is not None and record.outcome == Outcome.RUNNING and not writer_alive(record):
            found.append(path)
    return found


def find_unarchived(records_dir: Path) -> list[Path]:
    """Finished journals in `records_dir` whose writer is gone before archiving them (e.g. a notebook run's
    kernel shut down by its client between the deploy's end and the end of its cell)."""
    found = []
    for path in sorted(Path(records_dir).glob("*.json")):
        if not UNFINISHED_JOURNAL.fullmatch(path.name) or path.is_symlink():
            continue
        record = load_record(path)
        if record is not None and record.outcome not in (Outcome.RUNNING, "") and not writer_alive(record):
            found.append(path)
    return found


def close(records_dir: Path) -> list[dict]:
    """Archive every abandoned run in `records_dir` with outcome `abandoned`, and every finished run left unarchived
    with its own outcome; each gets its three files (the notebook it left, else the runbook unexecuted).

    Returns the abandoned runs' records as JSON, each with `record` set to the path of its archived summary
    (what `mark_logged` needs). A finished run already wrote its own host log line.
    """
    from hermes_ops.records import store

    closed = []
    for path in find(records_dir):
        record = load_record(path)
        if record is None:  # rewritten or removed since `find` read it
            continue
        record.update(outcome=Outcome.ABANDONED, failure=FAILURE, ended_at=datetime_of(path), audit_logged=False,
                      failed_step=_last_step(record))
        archived = store.archive(Path(records_dir), record.run_id, _notebook_left(records_dir, record),
                                 fallback=record, replace_journal=record)
        closed.append({**record.to_json(), "record": str(archived.with_suffix(".json"))})
    for path in find_unarchived(records_dir):
        record = load_record(path)
        if record is not None:
            store.archive(Path(records_dir), record.run_id, _notebook_left(records_dir, record), fallback=record)
    return closed


def _notebook_left(records_dir: Path, record: Record) -> Path:
    """The run's running notebook; if it left none, the runbook unexecuted in its place (so the record has three
    files like every other)."""
    from hermes_ops.records import kernel_notebook, store

    notebook = store.running_notebook(records_dir, record.run_id)
    if not notebook.exists():
        kernel_notebook.write_unexecuted(record, notebook)
    return notebook


def datetime_of(path: Path) -> str:
    """When the run last wrote its journal: the best guess of when it died."""
    try:
        return datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.timezone.utc).isoformat()
    except OSError:
        return utc_now().isoformat()


def _last_step(record: Record) -> str | None:
    """The label of the step that was running when the run died (else of its last step)."""
    running = [step for step in record.steps if step.status == StepStatus.RUNNING]
    step = running[-1] if running else (record.steps or [None])[-1]
    return step.label if step else None


def mark_logged(journal: dict, line: str) -> None:
    """Note in the abandoned run's own record that its host log line is written (so it is written once).

    `journal` is one of `close`'s or `unlogged`'s: its `record` is the path of the archived summary.
    """
    path = Path(journal.get("record") or "")
    record = load_record(path)
    if record is None:
        return
    record.update(audit_line=line, audit_logged=True)
    try:
        replace_atomically(path, json.dumps(record.to_json(), indent=2, default=str) + "\n")
    except OSError:
        pass


def unlogged(records_dir: Path) -> list[dict]:
    """Archived abandoned runs whose host log line no deploy has written yet, as `close` returns them."""
    pending = []
    for path in sorted(Path(records_dir).glob("*_abandoned*.json")):
        record = load_record(path)
        if record is not None and record.outcome == Outcome.ABANDONED and not record.audit_logged:
            pending.append({**record.to_json(), "record": str(path)})
    return pending
