"""Deploy records on this machine: archive a finished run under its final name, and list them.

A record is three files with one stem, `<UTC time>_<host>_<short commit>_<outcome>`: the executed
notebook, its JSON summary (the journal) and an HTML rendering for people without Jupyter.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from hermes_ops.errors import HermesOpsError
from hermes_ops.runbook.record import Record, RecordFiles, as_record, load_record
from hermes_ops.runbook.vocabulary import Outcome
from hermes_ops.secrets import mask_data

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def record_stem(record: Record | Mapping) -> str:
    """`20261127T044009Z_texasca2_bb556dc06ae8_success`: sortable by time, readable in `ls`.

    `record` is a `Record` or its JSON form (a journal's `data`).
    """
    record = as_record(record)
    started = datetime.datetime.fromisoformat(record.started_at).astimezone(datetime.timezone.utc)
    host = record.facts.get("hostname") or record.parameters.get("host") or "unknown-host"
    # A run that deploys nothing (an access change) names its kind where a deploy names its commit.
    commit = (record.commit_after or record.commit_before
              or ("nocommit" if record.kind in ("deploy", "rollback") else record.kind))[:12]
    parts = [started.strftime("%Y%m%dT%H%M%SZ"), host, commit, str(record.outcome) or "unknown"]
    return "_".join(_UNSAFE.sub("-", part) for part in parts)


def load_journal(path: Path) -> dict | None:
    """The JSON in `path` as it is (None if unreadable); `load_record` reads it as a `Record`."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


class RecordWriteError(HermesOpsError):
    """The record could not be written on this machine (a full disk, a read-only folder)."""


def running_notebook(records_dir: Path, run_id: str) -> Path:
    """Where a run's executed notebook is kept while it runs: papermill's output in a headless run, the
    kernel's own (`kernel_notebook`) in a notebook run. `archive` takes it when given no other."""
    return Path(records_dir) / f"{run_id}.running.ipynb"


def archive(records_dir: Path, run_id: str, executed_notebook: Path | None, *, fallback: Record | Mapping,
            replace_journal: Record | None = None, alongside: Callable[[Path], None] | None = None) -> Path:
    """Rename the run's journal and notebook to the record stem, render HTML; returns the notebook's path.

    `executed_notebook` None means the run's own `running_notebook`, if it has one (the step console
    archives that way: the kernel keeps that notebook up to date). `fallback` is the record to write
    when the run died before its own journal existed
    (e.g. a parameter was refused in the validation cell), and gives the outcome of a journal
    left running; `replace_journal` overrides what the journal file says (closing an abandoned
    run). Neither is changed. Every file is created exclusively: an existing file is never
    overwritten, and only this run's own journal is removed.

    `alongside(summary)` (the headless run's upload to the host) runs in a thread once the JSON
    summary and the notebook are written, while the HTML renders; the index is rebuilt after both,
    so it shows what the upload sealed.
    """
    fallback = as_record(fallback)
    executed_notebook = executed_notebook or running_notebook(records_dir, run_id)
    journal_path = records_dir / f"{run_id}.json"
    journal = replace_journal or load_record(journal_path)
    if journal is None:
        summary = find_archived(records_dir, run_id)
        if summary is not None:  # archived meanwhile (closed as abandoned by another process): complete it
            completed = _complete_archived(summary, executed_notebook)
            rebuild_index(records_dir)
            return completed
    record = journal or fallback
    if record.run_id != run_id:  # a file named after our run id that is not our journal: leave it alone
        record, journal_path = fallback, None
    record = dataclasses.replace(record)
    if record.outcome == Outcome.RUNNING:  # the kernel died before the runbook could finish its journal
        record.update(outcome=fallback.outcome, failure=fallback.failure
                      or "the run ended before its journal was finished")
    stem = _free_stem(records_dir, record_stem(record), run_id)
    record.record = RecordFiles.named(stem)
    target_notebook = records_dir / f"{stem}.ipynb"
    summary = records_dir / f"{stem}.json"
    beside: threading.Thread | None = None
    try:
        _create(summary, json.dumps(mask_data(record.to_json()), indent=2, default=str) + "\n")
        if journal_path is not None and journal_path.exists():
            journal_path.unlink()
        has_notebook = executed_notebook.exists()
        if has_notebook:
            _create_notebook(target_notebook, executed_notebook, record)  # exclusively: never overwrites
            executed_notebook.unlink()
        if alongside is not None:
            beside = threading.Thread(target=alongside, args=(summary,), name="hermes-record-alongside")
            beside.start()
        if has_notebook:
            _render_html(target_notebook, records_dir / f"{stem}.html")
    except OSError as error:
        raise RecordWriteError(f"could not write the record of run {run_id} to {records_dir}: {error}",
                               step="records", host="this machine",
                               hint="free space or fix permissions there; the host's audit log has the run's line "
                                    "(`hermes-ops records --host-log -f PARAMS`)") from None
    finally:
        if beside is not None:
            beside.join()
    rebuild_index(records_dir)
    return target_notebook


INDEX_PAGE = "index.html"


def rebuild_index(records_dir: Path) -> Path | None:
    """Write `index.html`, one row per record of the folder, anew (atomically); None if it cannot be written.

    Never fails a run: the records themselves are what matters, the page is a view of them.
    """
    from hermes_ops.records.index_page import render_index
    from hermes_ops.records.listing import rows_from_folder

    records_dir = Path(records_dir)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    target = records_dir / INDEX_PAGE
    temporary = records_dir / f".{INDEX_PAGE}.{os.getpid()}"
    try:
        temporary.write_text(render_index(rows_from_folder(records_dir), generated_at=now), encoding="utf-8")
        temporary.replace(target)
    except OSError:
        temporary.unlink(missing_ok=True)
        return None
    return target


def find_archived(records_dir: Path, run_id: str) -> Path | None:
    """The archived summary (`<stem>.json`) of run `run_id` in `records_dir`, if there is one."""
    for path in sorted(Path(records_dir).glob("*_*_*_*.json")):
        record = load_record(path)
        if record is not None and record.run_id == run_id:
            return path
    return None


def _complete_archived(summary: Path, executed_notebook: Path) -> Path:
    """`archive` of a run archived already: its notebook joins the record if the record has none."""
    if executed_notebook.exists() and not summary.with_suffix(".ipynb").exists():
        try:
            _create_notebook(summary.with_suffix(".ipynb"), executed_notebook, load_record(summary))
            executed_notebook.unlink()
            if not summary.with_suffix(".html").exists():
                _render_html(summary.with_suffix(".ipynb"), summary.with_suffix(".html"))
        except OSError as error:
            raise RecordWriteError(f"could not complete the record {summary}: {error}", step="records",
                                   host="this machine", hint="free space or fix permissions there") from None
    return summary.with_suffix(".ipynb")


def complete(summary: Path, notebook: Path) -> Path | None:
    """Give an archived record that lacks its notebook (and HTML) a copy of `notebook`; returns the copy.

    For a record archived without one (a console run whose kernel could not write it, a record
    from before the kernel kept one). Nothing is replaced: a record that has its notebook is left
    as it is (None), and the files are created exclusively.
    """
    target, html = summary.with_suffix(".ipynb"), summary.with_suffix(".html")
    if target.exists():
        return None
    try:
        _create_notebook(target, Path(notebook), load_record(summary))
    except FileExistsError:
        return None
    if not html.exists():
        try:
            _render_html(target, html)
        except FileExistsError:
            pass
    return target


def _free_stem(records_dir: Path, stem: str, run_id: str) -> str:
    """The stem, or the stem plus the run id's random part if a record of that name already exists."""
    if not any((records_dir / f"{stem}{suffix}").exists() for suffix in (".json", ".ipynb", ".html")):
        return stem
    return f"{stem}_{run_id.rsplit('-', 1)[-1]}"


def _create(path: Path, text: str) -> None:
    with open(path, "x", encoding="utf-8") as file:
        file.write(text)


def _create_notebook(target: Path, executed: Path, record: Record | None) -> None:
    """The archived notebook: the executed one with the verdict cell first (`verdict`), created exclusively.

    A notebook that is not readable JSON (a kernel killed mid-write) is kept exactly as it is.
    """
    from hermes_ops.records.verdict import with_verdict

    text = executed.read_text(encoding="utf-8", errors="replace")
    if record is not None:
        try:
            text = json.dumps(with_verdict(json.loads(text), record), indent=1, ensure_ascii=False) + "\n"
        except (ValueError, TypeError, AttributeError):
            pass
    _create(target, text)


def render_html(notebook: Path, html: Path) -> None:
    """The record's HTML rendering of `notebook`, created exclusively (for people without Jupyter)."""
    _render_html(notebook, html)


def _render_html(notebook: Path, html: Path) -> None:
    import nbformat

    with _html_exporter_lock:
        body, _ = _html_exporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    _create(html, body)


# nbconvert's import (~0.3 s) and its exporter's first render (templates compiled, lexers loaded: ~0.3 s more)
# are paid once per process; later renders with the same exporter give the same HTML in ~0.2 s.
_html_exporter_lock = threading.Lock()
_html_exporters: list = []


def _html_exporter():
    """The process's HTML exporter (call with `_html_exporter_lock` held)."""
    if not _html_exporters:
        from nbconvert import HTMLExporter

        _html_exporters.append(HTMLExporter())
    return _html_exporters[0]


def prepare_rendering() -> threading.Thread:
    """Import nbconvert and compile its HTML templates in a background thread, for the record's render later.

    A headless run calls this while its kernel runs, when this process only waits; the render then
    costs only itself. The thread is a daemon: a process that ends earlier does not wait for it.
    """
    thread = threading.Thread(target=_warm_up, name="hermes-html-warm-up", daemon=True)
    thread.start()
    return thread


def _warm_up() -> None:
    try:
        from nbformat import v4

        notebook = v4.new_notebook(
            metadata={"language_info": {"name": "python", "pygments_lexer": "ipython3"}},
            cells=[v4.new_markdown_cell("# Warm-up\n*compiles* the templates"),
                   v4.new_code_cell("print(1)", outputs=[v4.new_output("stream", name="stdout", text="1\n")])])
        with _html_exporter_lock:
            _html_exporter().from_notebook_node(notebook)
    except Exception:  # the real render will do the work itself, and say what is wrong
        pass


@dataclass(frozen=True)
class RecordRow:
    started_at: str
    operator: str
    host: str
    commit: str
    outcome: Outcome | str
    duration: float | None
    path: Path


def list_records(records_dir: Path) -> list[RecordRow]:
    rows = []
    for path in sorted(Path(records_dir).glob("*_*_*_*.json")):
        record = load_record(path)
        if record is None:
            continue
        rows.append(RecordRow(
            started_at=(record.started_at or "")[:19].replace("T", " "),
            operator=record.operator or "?",
            host=record.facts.get("hostname") or record.host or "?",
            commit=f"{(record.commit_before or 'none')[:8]}→{(record.commit_after or 'none')[:8]}",
            outcome=record.outcome or "?",
            duration=record.duration,
            path=path.with_suffix(".ipynb"),
        ))
    return rows
