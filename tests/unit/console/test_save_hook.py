"""The save hook files a saved runbook into its run's record, through a real FileContentsManager.

The run id travels as output metadata, written by `announce_run` in the kernel and read with
nbformat in the server; the line the operator reads is not parsed.
"""

import json
import os

import nbformat
import pytest
from jupyter_server.services.contents.filemanager import FileContentsManager

from hermes_ops.console.save_hook import METADATA_KEY, announce_run, copy_to_records, run_id_of

RUN_ID = "20261127T052510Z-bcdbf0"
LINE = f"run {RUN_ID}: Ada deploys main to core@127.0.0.1:2222 (sandbox rehearsal)"


def announced(run_id: str):
    """An output as `announce_run` leaves it in JupyterLab."""
    return nbformat.v4.new_output("display_data", data={"text/plain": f"run {run_id}: Ada deploys main"},
                                  metadata={METADATA_KEY: {"run_id": run_id}})


def runbook(*outputs):
    cell = nbformat.v4.new_code_cell("deploy = Deploy.from_namespace(globals())")
    cell.outputs = list(outputs)
    return nbformat.v4.new_notebook(cells=[cell])


def test_the_run_id_is_read_from_output_metadata():
    assert run_id_of(runbook(announced(RUN_ID))) == RUN_ID
    assert run_id_of(runbook(announced("20261127T000000Z-aaaaaa"), announced(RUN_ID))) == RUN_ID  # the last one
    assert run_id_of(runbook()) is None


def test_printed_text_is_not_a_contract():
    printed = nbformat.v4.new_output("stream", name="stdout", text=f"{LINE}\n")
    assert run_id_of(runbook(printed)) is None
    odd = nbformat.v4.new_output("display_data", data={"text/plain": LINE}, metadata={METADATA_KEY: "x"})
    assert run_id_of(runbook(odd)) is None


def test_headless_the_run_line_is_printed_as_before(capsys, monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    announce_run(RUN_ID, "Ada deploys main to core@127.0.0.1:2222 (sandbox rehearsal)")
    assert capsys.readouterr() == (f"{LINE}\n", "")


@pytest.mark.timeout(120)
def test_in_a_kernel_started_like_jupyter_servers_the_output_carries_the_run_id(tmp_path):
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from hermes_ops.console.save_hook import announce_run\n"
        f"announce_run({RUN_ID!r}, 'Ada deploys main to core@127.0.0.1:2222 (sandbox rehearsal)')")])
    # jupyter_server starts a notebook's kernel with JPY_SESSION_NAME, and the provisioner writes it into
    # the kernel's connection file: what `console.detect` checks.
    environment = {**os.environ, "JPY_SESSION_NAME": str(tmp_path / "deploy.ipynb")}
    NotebookClient(notebook, kernel_name="python3", timeout=60).execute(env=environment)
    [output] = notebook.cells[0].outputs
    assert output.output_type == "display_data"
    assert output.data == {"text/plain": LINE}
    assert run_id_of(nbformat.reads(nbformat.writes(notebook), as_version=4)) == RUN_ID


def test_saving_a_finished_runbook_copies_it_into_its_record(tmp_path):
    records = tmp_path / "records"
    records.mkdir()
    summary = records / "20261127T052510Z_texasca2_b058ea221107_success.json"
    summary.write_text(json.dumps({"run_id": RUN_ID, "outcome": "success"}))
    (tmp_path / "notebooks").mkdir()
    manager = FileContentsManager(root_dir=str(tmp_path))
    manager.register_post_save_hook(lambda model, os_path, contents_manager, **kwargs: copy_to_records(
        model, os_path, contents_manager, records_dir=records))
    manager.save({"type": "notebook", "format": "json", "content": runbook(announced(RUN_ID))},
                 "notebooks/deploy.ipynb")
    copied = summary.with_suffix(".ipynb")
    assert copied.exists()
    assert run_id_of(nbformat.read(copied, as_version=4)) == RUN_ID


def test_a_runbook_without_a_record_or_not_a_notebook_is_left_alone(tmp_path):
    path = tmp_path / "deploy.ipynb"
    nbformat.write(runbook(announced("20990101T000000Z-aaaaaa")), path)
    assert copy_to_records({"type": "notebook"}, str(path), records_dir=tmp_path) is None
    assert copy_to_records({"type": "file"}, str(path), records_dir=tmp_path) is None
    path.write_text("not a notebook")
    assert copy_to_records({"type": "notebook"}, str(path), records_dir=tmp_path) is None
