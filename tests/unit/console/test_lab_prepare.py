"""The prepared copy an interactive run opens: papermill's injected parameters, the tracked runbooks untouched.

No kernel and no host: preparing a copy runs nothing (the browser test runs one on the sandbox).
"""

from __future__ import annotations

import argparse
import hashlib
import re
from pathlib import Path

import nbformat
import pytest

from hermes_ops.cli.lab import add_lab_command
from hermes_ops.console.lab_server import lab_command
from hermes_ops.console.prepared import RUNBOOKS, prepare_copy, runbook_notebook
from hermes_ops.errors import ConfigError
from hermes_ops.records import headless, store

RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")


def fingerprints() -> dict[str, str]:
    """Every tracked runbook's bytes, hashed."""
    return {name: hashlib.sha256(runbook_notebook(name).read_bytes()).hexdigest() for name in RUNBOOKS}


def parameters_file(folder: Path, text: str) -> Path:
    path = folder / "production.yaml"
    path.write_text(text)
    return path


def production(folder: Path) -> Path:
    """A production parameters file, with its key and known_hosts files (never read: nothing connects)."""
    (folder / "id_ed25519").write_text("a key file: preparing a copy never loads it\n")
    (folder / "id_ed25519").chmod(0o600)
    (folder / "known_hosts").write_text("")
    return parameters_file(folder, f"""\
host: 203.0.113.10
port: 22
expected_hostname: hermes-prod-1
key_path: {folder / "id_ed25519"}
known_hosts: {folder / "known_hosts"}
health_url: http://127.0.0.1:8080/health
""")


@pytest.mark.parametrize("runbook", sorted(RUNBOOKS))
def test_the_copy_is_the_runbook_with_papermills_injected_parameters_and_no_stored_outputs(tmp_path, runbook):
    import papermill

    before = fingerprints()
    records = tmp_path / "records"
    copy = prepare_copy(runbook, production(tmp_path), [("reason", "TICKET-123: what this ships")],
                        records)

    assert copy.parent == records and RUN_ID.match(copy.stem), copy
    assert sorted(records.iterdir()) == [copy], "the copy is the only file written"
    prepared = nbformat.read(copy, as_version=4)
    parameters = prepared.metadata.papermill.parameters
    assert parameters["run_id"] == copy.stem, "the copy is named after the run id injected into it"
    assert parameters["records_dir"] == str(records)
    assert (parameters["host"], parameters["port"]) == ("203.0.113.10", 22)
    assert parameters["reason"] == "TICKET-123: what this ships"
    assert prepared.metadata.papermill.output_path == str(copy)
    assert prepared.metadata.papermill.input_path == str(runbook_notebook(runbook))

    # The injected cell is the one papermill writes for these parameters, right after the parameters cell.
    tracked = nbformat.read(runbook_notebook(runbook), as_version=4)
    expected = papermill.parameterize.parameterize_notebook(
        papermill.iorw.load_notebook_node(str(runbook_notebook(runbook))), dict(parameters), kernel_name="python3")
    tags = [cell.metadata.get("tags", []) for cell in prepared.cells]
    injected = tags.index(["injected-parameters"])
    assert "parameters" in tags[injected - 1]
    papermills = next(cell.source for cell in expected.cells if "injected-parameters" in cell.metadata.get("tags", []))
    # The same lines (nbformat stores the metadata's parameters sorted by name: the order read back differs).
    assert sorted(prepared.cells[injected].source.splitlines()) == sorted(papermills.splitlines())
    assert 'port = 22\n' in prepared.cells[injected].source
    assert [cell.source for cell in prepared.cells if cell is not prepared.cells[injected]] == \
        [cell.source for cell in tracked.cells], "every other cell is the runbook's, unchanged"

    # Nothing ran: no outputs, no execution counts (not even the tracked runbook's stored examples).
    code = [cell for cell in prepared.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert any(cell.get("outputs") for cell in tracked.cells), "the tracked runbook does store example outputs"
    assert fingerprints() == before, "the tracked runbooks are unchanged, byte for byte"


@pytest.mark.parametrize(("text", "overrides", "refused"), [
    ("port: 22\n", [("port", "not-a-port")], "port"),
    ("host: 203.0.113.10\nhost: 203.0.113.11\n", [], "host"),
    ("colour: blue\n", [], "colour"),
    ("", [("run_id", "20261127T125512Z-03c3d3")], "run_id"),
])
def test_bad_parameters_are_refused_before_any_file_is_written(tmp_path, text, overrides, refused):
    before = fingerprints()
    records = tmp_path / "records"
    with pytest.raises(ConfigError, match=refused):
        prepare_copy("deploy", parameters_file(tmp_path, text), overrides, records)
    assert not records.exists(), "nothing was written, not even the records directory"
    assert fingerprints() == before


def test_an_unknown_runbook_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="unknown runbook 'deploy.ipynb'"):
        prepare_copy("deploy.ipynb", None, [], tmp_path / "records")
    assert not (tmp_path / "records").exists()


def test_an_existing_file_of_that_name_is_never_overwritten(tmp_path, monkeypatch):
    records = tmp_path / "records"
    records.mkdir()
    taken = records / "20261127T125512Z-03c3d3.ipynb"
    taken.write_text("someone else's")
    monkeypatch.setattr(headless, "new_run_id", lambda: taken.stem)
    with pytest.raises(store.RecordWriteError, match="cannot write the runbook copy"):
        prepare_copy("deploy", None, [], records)
    assert taken.read_text() == "someone else's"


def test_jupyterlab_listens_on_loopback_and_serves_the_copys_folder_opening_the_copy(tmp_path):
    copy = tmp_path / "records" / "20261127T125512Z-03c3d3.ipynb"
    sockets = tmp_path / "sockets"
    assert lab_command(copy, ["--no-browser", "--port=8890"], sockets=sockets, python="python3") == [
        "python3", "-m", "jupyterlab", "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={copy.parent}",
        "--LabApp.default_url=/lab/tree/20261127T125512Z-03c3d3.ipynb",
        "--FileContentsManager.post_save_hook=hermes_ops.console.save_hook.copy_to_records",
        "--KernelManager.transport=ipc", f"--KernelManager.ip={sockets / 'kernel'}", "--no-browser", "--port=8890"]


@pytest.mark.parametrize("argument", ["--ip=0.0.0.0", "--ServerApp.ip=0.0.0.0", "--ServerApp.ip",
                                      "--ServerApp.root_dir=/", "--notebook-dir=/srv"])
def test_jupyter_arguments_cannot_move_the_server_off_loopback_or_off_the_copy(tmp_path, argument):
    with pytest.raises(ConfigError, match=argument.split("=")[0]):
        lab_command(tmp_path / "x.ipynb", ["--no-browser", argument], sockets=tmp_path)


def lab_parser() -> argparse.ArgumentParser:
    """`hermes-ops`'s shape: a params parent (as cli/main.py builds it) given to `add_lab_command`."""
    params = argparse.ArgumentParser(add_help=False)
    params.add_argument("-f", "--params-file", type=Path, default=None)
    params.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"))
    parser = argparse.ArgumentParser(prog="hermes-ops")
    add_lab_command(parser.add_subparsers(dest="command", required=True), params,
                    overrides=lambda args: [tuple(pair) for pair in args.parameter or []])
    return parser


def test_the_lab_command_line():
    args = lab_parser().parse_args(["lab", "-f", "production.yaml", "-p", "reason", "TICKET-123: what this ships",
                                    "--records-dir", "/srv/records", "--no-browser", "--", "--port=8890"])
    assert (args.params_file, args.parameter) == (Path("production.yaml"), [["reason", "TICKET-123: what this ships"]])
    assert (args.runbook, args.records_dir, args.no_browser) == ("deploy", Path("/srv/records"), True)
    assert args.jupyter_args[-1:] == ["--port=8890"]
    assert lab_parser().parse_args(["lab", "--runbook", "rollback"]).runbook == "rollback"
    with pytest.raises(SystemExit):
        lab_parser().parse_args(["lab", "--runbook", "notebooks/deploy.ipynb"])


def lab_arguments(records: Path, *jupyter_args: str) -> argparse.Namespace:
    return lab_parser().parse_args(["lab", "-p", "reason", "TICKET-123", "--records-dir", str(records),
                                    "--no-browser", "--", *jupyter_args])


def test_the_handler_refuses_a_server_off_loopback_before_preparing_anything(tmp_path):
    args = lab_arguments(tmp_path / "records", "--ServerApp.ip=0.0.0.0")
    with pytest.raises(ConfigError, match="listens on 127.0.0.1 only"):
        args.handler(args)
    assert not (tmp_path / "records").exists()


def test_a_copy_never_saved_is_removed_when_jupyterlab_ends(tmp_path, capfd):
    """The real handler and JupyterLab, asked only for its version: it exits at once, the copy unused."""
    records = tmp_path / "records"
    args = lab_arguments(records, "--version")
    assert args.handler(args) == 0
    out, err = capfd.readouterr()
    assert re.fullmatch(r"\d+\.\d+\.\d+", out.strip()), "JupyterLab ran (and printed its version)"
    copy = re.search(r"^prepared (\S+\.ipynb) \(run ", err, re.MULTILINE).group(1)
    assert Path(copy).parent == records and f"removed {copy}: never saved" in err
    assert list(records.iterdir()) == []
