"""A run's notebook reaches its record once: `archive` takes the run's running notebook, a save never replaces it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import nbformat
from jupyter_server.services.contents.filemanager import FileContentsManager

from hermes_ops.console.save_hook import METADATA_KEY, copy_to_records
from hermes_ops.records import store
from hermes_ops.runbook import abandoned

RUN_ID = "20261127T052510Z-1a2b3c"


def journal(**fields) -> dict:
    return {"run_id": RUN_ID, "kind": "deploy", "started_at": "2026-11-27T05:25:10+00:00", "outcome": "success",
            "facts": {"hostname": "texasca2"}, "commit_before": "a" * 40, "commit_after": "b" * 40, **fields}


def notebook_announcing(run_id: str, text: str = "saved") -> nbformat.NotebookNode:
    output = nbformat.v4.new_output("display_data", data={"text/plain": text},
                                    metadata={METADATA_KEY: {"run_id": run_id}})
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("announce", outputs=[output])])


def test_archive_takes_the_runs_running_notebook_when_given_none(tmp_path):
    (tmp_path / f"{RUN_ID}.json").write_text(json.dumps(journal()))
    nbformat.write(notebook_announcing(RUN_ID, "the kernel's"), store.running_notebook(tmp_path, RUN_ID))
    archived = store.archive(tmp_path, RUN_ID, None, fallback={"run_id": RUN_ID})
    stem = store.record_stem(journal())
    assert archived == tmp_path / f"{stem}.ipynb"
    assert sorted(path.name for path in tmp_path.iterdir()) == [f"{stem}.html", f"{stem}.ipynb", f"{stem}.json",
                                                                "index.html"]
    assert "the kernel's" in archived.read_text()


def saved_by_jupyter(tmp_path, records, notebook) -> None:
    (tmp_path / "work").mkdir(exist_ok=True)
    manager = FileContentsManager(root_dir=str(tmp_path / "work"))
    manager.register_post_save_hook(lambda model, os_path, contents_manager, **kwargs: copy_to_records(
        model, os_path, contents_manager, records_dir=records))
    manager.save({"type": "notebook", "format": "json", "content": notebook}, f"{RUN_ID}.ipynb")


def test_a_save_after_the_kernel_archived_replaces_nothing_and_starts_no_second_record(tmp_path):
    records = tmp_path / "records"
    records.mkdir()
    (records / f"{RUN_ID}.json").write_text(json.dumps(journal()))
    nbformat.write(notebook_announcing(RUN_ID, "the kernel's"), store.running_notebook(records, RUN_ID))
    archived = store.archive(records, RUN_ID, None, fallback={"run_id": RUN_ID})
    before = {path.name: path.read_bytes() for path in records.iterdir()}
    saved_by_jupyter(tmp_path, records, notebook_announcing(RUN_ID, "the operator's save"))
    assert {path.name: path.read_bytes() for path in records.iterdir()} == before
    assert "the kernel's" in archived.read_text()


def test_a_save_gives_a_record_archived_without_its_notebook_the_notebook_and_html(tmp_path):
    records = tmp_path / "records"
    records.mkdir()
    summary = records / f"{store.record_stem(journal())}.json"
    summary.write_text(json.dumps(journal()))
    saved_by_jupyter(tmp_path, records, notebook_announcing(RUN_ID, "the operator's save"))
    assert "the operator's save" in summary.with_suffix(".ipynb").read_text()
    assert summary.with_suffix(".html").exists()
    assert [row.path for row in store.list_records(records)] == [summary.with_suffix(".ipynb")]


def test_a_save_while_the_run_goes_on_does_nothing(tmp_path):
    records = tmp_path / "records"
    records.mkdir()
    (records / f"{RUN_ID}.json").write_text(json.dumps(journal(outcome="running")))
    saved_by_jupyter(tmp_path, records, notebook_announcing(RUN_ID))
    assert sorted(path.name for path in records.iterdir()) == [f"{RUN_ID}.json"]


def dead_writer_journal(records, **fields):
    """A journal whose writing process is gone (as after a SIGKILL, or a kernel shut down mid-archive)."""
    from hermes_ops.runbook.journal import Journal, new_run_id

    gone = subprocess.Popen(["true"])
    gone.wait()
    journal = Journal(new_run_id(), records)
    journal.set(pid=gone.pid, process_start=1, facts={"hostname": "texasca2"}, commit_after="c" * 40, **fields)
    journal.create()
    return journal


def test_an_abandoned_run_is_archived_with_the_notebook_its_kernel_kept(tmp_path):
    journal = dead_writer_journal(tmp_path)
    nbformat.write(notebook_announcing(journal.run_id, "step 5 was running"),
                   store.running_notebook(tmp_path, journal.run_id))
    [closed] = abandoned.close(tmp_path)
    summary = Path(closed["record"])
    assert summary.name.endswith("_abandoned.json")
    assert sorted(path.name for path in tmp_path.iterdir()) == [summary.with_suffix(suffix).name
                                                                for suffix in (".html", ".ipynb", ".json")] + [
        "index.html"]
    assert "step 5 was running" in summary.with_suffix(".ipynb").read_text()


def test_a_finished_run_left_unarchived_gets_its_three_files_and_keeps_its_outcome(tmp_path):
    journal = dead_writer_journal(tmp_path)
    journal.finish("interrupted", failure="SIGINT")
    assert abandoned.close(tmp_path) == [], "no host log line owed: the run wrote its own"
    [row] = store.list_records(tmp_path)
    assert row.outcome == "interrupted" and row.path.exists() and row.path.with_suffix(".html").exists()
    notebook = nbformat.read(row.path, as_version=4)
    assert notebook.cells[0].source.startswith("# ⏹️ Verdict: interrupted")  # the verdict first
    assert "before its notebook was saved" in notebook.cells[1].source
    assert all(not cell.get("outputs") for cell in notebook.cells)
    assert sorted(path.suffix for path in tmp_path.iterdir()) == [".html", ".html", ".ipynb", ".json"]  # + index


def test_archiving_a_run_someone_else_archived_meanwhile_completes_it_and_writes_no_second_record(tmp_path):
    journal = dead_writer_journal(tmp_path)
    journal.finish("success")
    summary = tmp_path / f"{store.record_stem(journal.data)}.json"
    os.replace(journal.path, summary)  # as `hermes-ops records` archives it, without a notebook
    nbformat.write(notebook_announcing(journal.run_id, "papermill's"), store.running_notebook(tmp_path, journal.run_id))
    archived = store.archive(tmp_path, journal.run_id, None, fallback={"run_id": journal.run_id, "outcome": "failed"})
    assert archived == summary.with_suffix(".ipynb") and "papermill's" in archived.read_text()
    assert sorted(path.name for path in tmp_path.iterdir()) == [summary.with_suffix(suffix).name
                                                                for suffix in (".html", ".ipynb", ".json")] + [
        "index.html"]


def test_a_run_id_whose_run_has_ended_is_refused_before_a_journal_is_written(tmp_path):
    """A prepared copy run again after its run ended: refused, nothing written, the next copy named."""
    import pytest

    from hermes_ops.errors import ConfigError
    from hermes_ops.runbook import Deploy

    (tmp_path / f"{RUN_ID}.json").write_text(json.dumps(journal()))
    store.archive(tmp_path, RUN_ID, None, fallback={"run_id": RUN_ID})
    before = sorted(path.name for path in tmp_path.iterdir())
    with pytest.raises(ConfigError, match=f"run {RUN_ID} has ended already") as refused:
        Deploy.from_namespace({"run_id": RUN_ID, "records_dir": str(tmp_path)})
    assert "hermes-ops lab -f PARAMS" in refused.value.hint
    assert sorted(path.name for path in tmp_path.iterdir()) == before
