"""The save hook files a saved runbook into its run's record, through a real FileContentsManager."""

import json

import nbformat
from jupyter_server.services.contents.filemanager import FileContentsManager

from hermes_ops.console.save_hook import copy_to_records, run_id_of

RUN_ID = "20261127T052510Z-bcdbf0"


def runbook(run_id: str | None):
    cell = nbformat.v4.new_code_cell("deploy = Deploy.from_namespace(globals())")
    if run_id:
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"run {run_id}: Ada deploys main\n")]
    return nbformat.v4.new_notebook(cells=[cell])


def test_run_id_is_read_from_the_validation_cell_output():
    assert run_id_of(json.loads(nbformat.writes(runbook(RUN_ID)))) == RUN_ID
    assert run_id_of(json.loads(nbformat.writes(runbook(None)))) is None


def test_saving_a_finished_runbook_copies_it_into_its_record(tmp_path):
    records = tmp_path / "records"
    records.mkdir()
    summary = records / "20261127T052510Z_texasca2_b058ea221107_success.json"
    summary.write_text(json.dumps({"run_id": RUN_ID, "outcome": "success"}))
    (tmp_path / "notebooks").mkdir()
    manager = FileContentsManager(root_dir=str(tmp_path))
    manager.register_post_save_hook(lambda model, os_path, contents_manager, **kwargs: copy_to_records(
        model, os_path, contents_manager, records_dir=records))
    manager.save({"type": "notebook", "format": "json", "content": runbook(RUN_ID)}, "notebooks/deploy.ipynb")
    copied = summary.with_suffix(".ipynb")
    assert copied.exists()
    assert RUN_ID in copied.read_text()


def test_a_runbook_without_a_record_is_left_alone(tmp_path):
    path = tmp_path / "deploy.ipynb"
    nbformat.write(runbook("20990101T000000Z-aaaaaa"), path)
    assert copy_to_records({"type": "notebook"}, str(path), records_dir=tmp_path) is None
    assert copy_to_records({"type": "file"}, str(path), records_dir=tmp_path) is None
