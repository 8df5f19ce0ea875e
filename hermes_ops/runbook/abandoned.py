"""Runs that died without finishing (SIGKILL, a crashed kernel, a power cut) are found and closed as `abandoned`.

Such a run leaves its journal saying `running`. Its deploy lock died with it (the lock lives
only as long as the run's SSH channel), so once its process is gone from this machine the run
is over: it is archived with outcome `abandoned`, and the next deploy writes its host log line.
"""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path

from hermes_ops.runbook.journal import process_start_ticks, utc_now

UNFINISHED_JOURNAL = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}\.json")
FAILURE = ("the deploy process ended without finishing (killed, or its machine stopped); its SSH session and "
           "deploy lock ended with it. What serves now is in the next run's record.")


def writer_alive(journal: dict) -> bool:
    """True if the process that writes `journal` still runs on this machine (or we cannot tell: another machine)."""
    if journal.get("local_host") != socket.gethostname() or not journal.get("pid"):
        return True
    pid = int(journal["pid"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if _zombie(pid):
        return False
    start = journal.get("process_start")
    return start is None or process_start_ticks(pid) == start


def _zombie(pid: int) -> bool:
    try:
        return any(line.startswith("State:") and "Z" in line.split()[1:2]
                   for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    except OSError:
        return True


def find(records_dir: Path) -> list[Path]:
    """Unfinished journals in `records_dir` whose writer is gone."""
    found = []
    for path in sorted(Path(records_dir).glob("*.json")):
        if not UNFINISHED_JOURNAL.fullmatch(path.name) or path.is_symlink():
            continue
        try:
            journal = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if journal.get("outcome") == "running" and not writer_alive(journal):
            found.append(path)
    return found


def close(records_dir: Path) -> list[dict]:
    """Archive every abandoned run in `records_dir` with outcome `abandoned`; returns their journals."""
    from hermes_ops.records import store as records

    closed = []
    for path in find(records_dir):
        journal = json.loads(path.read_text())
        ended = datetime_of(path)
        journal.update(outcome="abandoned", failure=FAILURE, ended_at=ended, audit_logged=False,
                       failed_step=_last_step(journal))
        running_notebook = path.with_name(f"{journal['run_id']}.running.ipynb")
        record = records.archive(Path(records_dir), journal["run_id"], running_notebook, fallback=journal,
                                 replace_journal=journal)
        journal["record"] = str(record.with_suffix(".json"))
        closed.append(journal)
    return closed


def datetime_of(path: Path) -> str:
    """When the run last wrote its journal: the best guess of when it died."""
    try:
        import datetime

        return datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.timezone.utc).isoformat()
    except OSError:
        return utc_now().isoformat()


def _last_step(journal: dict) -> str | None:
    running = [step for step in journal.get("steps", []) if step.get("status") == "running"]
    step = running[-1] if running else (journal.get("steps") or [None])[-1]
    if not step:
        return None
    return "preflight" if step["number"] == 0 else f"{step['number']} {step['title']}"


def mark_logged(journal: dict, line: str) -> None:
    """Note in the abandoned run's own record that its host log line is written (so it is written once)."""
    path = Path(journal.get("record") or "")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    data.update(audit_line=line, audit_logged=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_text(json.dumps(data, indent=2, default=str) + "\n")
        os.replace(partial, path)
    except OSError:
        partial.unlink(missing_ok=True)


def unlogged(records_dir: Path) -> list[dict]:
    """Archived abandoned runs whose host log line no deploy has written yet."""
    from hermes_ops.records import store as records

    pending = []
    for path in sorted(Path(records_dir).glob("*_abandoned*.json")):
        journal = records.load_journal(path)
        if journal and journal.get("outcome") == "abandoned" and not journal.get("audit_logged"):
            journal["record"] = str(path)
            pending.append(journal)
    return pending
