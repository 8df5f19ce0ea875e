"""Deploy records on this machine: archive a finished run under its final name, and list them.

A record is three files with one stem, `<UTC time>_<host>_<short commit>_<outcome>`: the executed
notebook, its JSON summary (the journal) and an HTML rendering for people without Jupyter.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from hermes_ops.errors import HermesOpsError
from hermes_ops.secrets import mask_data

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RECORDS_DIR = REPO_ROOT / "records"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_records_dir() -> Path:
    return Path(os.environ.get("HERMES_RECORDS_DIR") or DEFAULT_RECORDS_DIR)


def record_stem(journal: dict) -> str:
    """`20261127T044009Z_texasca2_bb556dc06ae8_success`: sortable by time, readable in `ls`."""
    started = datetime.datetime.fromisoformat(journal["started_at"]).astimezone(datetime.timezone.utc)
    host = journal.get("facts", {}).get("hostname") or journal.get("parameters", {}).get("host") or "unknown-host"
    commit = (journal.get("commit_after") or journal.get("commit_before") or "nocommit")[:12]
    parts = [started.strftime("%Y%m%dT%H%M%SZ"), host, commit, journal.get("outcome") or "unknown"]
    return "_".join(_UNSAFE.sub("-", part) for part in parts)


def load_journal(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


class RecordWriteError(HermesOpsError):
    """The record could not be written on this machine (a full disk, a read-only folder)."""


def archive(records_dir: Path, run_id: str, executed_notebook: Path | None, *, fallback: dict,
            replace_journal: dict | None = None) -> Path:
    """Rename the run's journal and notebook to the record stem, render HTML; returns the notebook's path.

    `fallback` is the journal to write when the run died before its own journal existed
    (e.g. a parameter was refused in the validation cell); `replace_journal` overrides what the
    journal file says (closing an abandoned run). Every file is created exclusively: an existing
    file is never overwritten, and only this run's own journal is removed.
    """
    journal_path = records_dir / f"{run_id}.json"
    journal = replace_journal or load_journal(journal_path) or fallback
    if journal.get("run_id") != run_id:  # a file named after our run id that is not our journal: leave it alone
        journal, journal_path = fallback, None
    if journal.get("outcome") == "running":  # the kernel died before the runbook could finish its journal
        journal.update(outcome=fallback["outcome"], failure=fallback.get("failure")
                       or "the run ended before its journal was finished")
    stem = _free_stem(records_dir, record_stem(journal), run_id)
    journal["record"] = {"notebook": f"{stem}.ipynb", "html": f"{stem}.html", "summary": f"{stem}.json"}
    target_notebook = records_dir / f"{stem}.ipynb"
    try:
        _create(records_dir / f"{stem}.json", json.dumps(mask_data(journal), indent=2, default=str) + "\n")
        if journal_path is not None and journal_path.exists():
            journal_path.unlink()
        if executed_notebook and executed_notebook.exists():
            os.link(executed_notebook, target_notebook)  # fails if the target exists: never overwrites
            executed_notebook.unlink()
            _render_html(target_notebook, records_dir / f"{stem}.html")
    except OSError as error:
        raise RecordWriteError(f"could not write the record of run {run_id} to {records_dir}: {error}",
                               step="records", host="this machine",
                               hint="free space or fix permissions there; the host's audit log has the run's line "
                                    "(`hermes-ops records --host -f PARAMS`)") from None
    return target_notebook


def _free_stem(records_dir: Path, stem: str, run_id: str) -> str:
    """The stem, or the stem plus the run id's random part if a record of that name already exists."""
    if not any((records_dir / f"{stem}{suffix}").exists() for suffix in (".json", ".ipynb", ".html")):
        return stem
    return f"{stem}_{run_id.rsplit('-', 1)[-1]}"


def _create(path: Path, text: str) -> None:
    with open(path, "x", encoding="utf-8") as file:
        file.write(text)


def _render_html(notebook: Path, html: Path) -> None:
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    _create(html, body)


@dataclass(frozen=True)
class RecordRow:
    started_at: str
    operator: str
    host: str
    commit: str
    outcome: str
    duration: float | None
    path: Path


def list_records(records_dir: Path) -> list[RecordRow]:
    rows = []
    for path in sorted(Path(records_dir).glob("*_*_*_*.json")):
        journal = load_journal(path)
        if not journal:
            continue
        rows.append(RecordRow(
            started_at=journal.get("started_at", "")[:19].replace("T", " "),
            operator=journal.get("operator") or "?",
            host=journal.get("facts", {}).get("hostname") or journal.get("host") or "?",
            commit=f"{(journal.get('commit_before') or 'none')[:8]}→{(journal.get('commit_after') or 'none')[:8]}",
            outcome=journal.get("outcome") or "?",
            duration=journal.get("duration"),
            path=path.with_suffix(".ipynb"),
        ))
    return rows
