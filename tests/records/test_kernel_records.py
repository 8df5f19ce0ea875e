"""Issue 11, point 5: plain papermill, a cell-by-cell run and `hermes-ops deploy` leave the same three record files.

Against the sandbox host. Each run writes into its own temporary records folder, and each test checks
the same thing: exactly `<stem>.json`, `<stem>.ipynb` and `<stem>.html`, the stem as `store.record_stem`
names it, listed by `store.list_records`, no journal or running notebook left behind. Dry runs where a
dry run proves the point; one real deploy (with a passphrase-protected key whose passphrase a commit
message quotes) and one failed build, by plain papermill.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from hermes_ops import paths
from hermes_ops.records import headless, store

PAPERMILL = Path(sys.executable).with_name("papermill")


def runbook() -> Path:
    return paths.runbooks_dir() / "deploy.ipynb"


def the_record(records: Path) -> tuple[Path, dict, nbformat.NotebookNode]:
    """The one record in `records`: its stem's path (no suffix), JSON and notebook; nothing else is there
    but the folder's index page."""
    files = sorted(path.name for path in records.iterdir() if path.name != store.INDEX_PAGE)
    stems = {Path(name).stem for name in files}
    assert len(stems) == 1, f"one record expected, found: {files}"
    stem = records / stems.pop()
    assert files == [stem.name + suffix for suffix in (".html", ".ipynb", ".json")], files
    summary = json.loads(stem.with_suffix(".json").read_text())
    assert stem.name == store.record_stem(summary)
    assert summary["record"] == {"notebook": f"{stem.name}.ipynb", "html": f"{stem.name}.html",
                                 "summary": f"{stem.name}.json"}
    [row] = store.list_records(records)
    assert row.path == stem.with_suffix(".ipynb") and row.outcome == summary["outcome"]
    notebook = nbformat.read(stem.with_suffix(".ipynb"), as_version=4)
    nbformat.validate(notebook)
    assert "<html" in stem.with_suffix(".html").read_text()[:2000].lower()
    return stem, summary, notebook


def text_of(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text") or "")
        parts.append(str(output.get("data", {}).get("text/plain", "")))
        parts.append(f"{output.get('ename', '')}: {output.get('evalue', '')}")
    return "".join(parts)


def cell_calling(notebook, call: str):
    return next(cell for cell in notebook.cells if cell.cell_type == "code" and call in cell.source)


def injected_after_parameters(notebook) -> bool:
    tags = [cell.metadata.get("tags", []) for cell in notebook.cells]
    at = next(index for index, cell_tags in enumerate(tags) if "parameters" in cell_tags)
    return "injected-parameters" in tags[at + 1]


def papermill(sandbox, records: Path, *parameters: str, env=None, cwd: Path) -> subprocess.CompletedProcess:
    """A plain papermill CLI run of the shipped runbook, as an operator types it."""
    arguments = [str(PAPERMILL), str(runbook()), str(cwd / "out.ipynb"), "-f", str(sandbox.params_file),
                 "-p", "records_dir", str(records), "--cwd", str(runbook().parent), "--no-progress-bar"]
    for name, value in zip(parameters[::2], parameters[1::2]):
        arguments += ["-p", name, value]
    return subprocess.run(arguments, capture_output=True, text=True, timeout=900, cwd=cwd,
                          env=env or dict(os.environ))


def test_a_plain_papermill_deploy_leaves_the_three_files_with_step_outputs_and_no_secret(deployable, sandbox,
                                                                                          tmp_path, encrypted_key):
    key, passphrase, env = encrypted_key
    commit = deployable.commit(f"records: a commit message that quotes {passphrase}")
    records = tmp_path / "records"
    run = papermill(sandbox, records, "key_path", str(key), "reason", "issue 11 point 5", cwd=tmp_path,
                    env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    stem, summary, notebook = the_record(records)
    assert summary["outcome"] == "success" and summary["commit_after"] == commit
    assert stem.name.endswith(f"_texasca2_{commit[:12]}_success")
    assert notebook.metadata["hermes_ops"]["run_id"] == summary["run_id"]
    assert injected_after_parameters(notebook)
    assert "Step 5 · Build" in text_of(cell_calling(notebook, "step5_build()"))
    assert "Step 4 · Pull" in text_of(cell_calling(notebook, "step4_pull()"))
    exit_text = text_of(cell_calling(notebook, "step8_exit()"))
    assert "outcome: success" in exit_text and f"run id: {summary['run_id']}" in exit_text
    assert not [path.name for path in records.iterdir() if passphrase.encode() in path.read_bytes()]
    assert "****" in text_of(cell_calling(notebook, "step4_pull()")), "the changelog quotes it, masked"


def test_a_cell_by_cell_run_of_a_prepared_copy_leaves_the_same_three_files(sandbox, tmp_path):
    """As `hermes-ops lab` runs it: papermill's prepared copy, then one cell at a time (nbclient)."""
    import papermill as papermill_api
    from nbclient import NotebookClient

    records = tmp_path / "records"
    values = {**yaml_values(sandbox.params_file), "records_dir": str(records), "dry_run": True}
    prepared = papermill_api.execute_notebook(str(runbook()), None, parameters=values, prepare_only=True,
                                              kernel_name="python3", progress_bar=False)
    client = NotebookClient(prepared, kernel_name="python3", timeout=600,
                            resources={"metadata": {"path": str(runbook().parent)}})
    with client.setup_kernel():
        for index, cell in enumerate(prepared.cells):
            client.execute_cell(cell, index)
    stem, summary, notebook = the_record(records)
    assert summary["outcome"] == "dry-run"
    assert injected_after_parameters(notebook)
    assert "outcome: dry-run" in text_of(cell_calling(notebook, "step8_exit()"))
    assert "Step 2 · Connect" in text_of(cell_calling(notebook, "step2_connect()"))
    assert "Step 6 · Commit the image" in text_of(cell_calling(notebook, "step6_commit_image()"))


def yaml_values(params_file) -> dict:
    import yaml

    return yaml.safe_load(Path(params_file).read_text())


def test_hermes_ops_deploy_archives_papermills_notebook_and_the_kernel_adds_nothing(sandbox, tmp_path):
    records = tmp_path / "records"
    run = headless.deploy(Path(sandbox.params_file), [("dry_run", "true")], records_dir=records,
                          stream=open(os.devnull, "w"))
    stem, summary, notebook = the_record(records)
    assert run.record == stem.with_suffix(".ipynb") and summary["outcome"] == "dry-run"
    assert "papermill" in notebook.metadata and "hermes_ops" not in notebook.metadata, "papermill's own notebook"
    assert "outcome: dry-run" in text_of(cell_calling(notebook, "step8_exit()"))


def test_a_failed_plain_papermill_deploy_leaves_its_three_files_with_the_error(deployable, sandbox, tmp_path):
    deployable.commit("records: broken build", fault="break-build")
    records = tmp_path / "records"
    run = papermill(sandbox, records, cwd=tmp_path)
    assert run.returncode != 0
    stem, summary, notebook = the_record(records)
    assert summary["outcome"] == "failed" and summary["failed_step"] == "5 Build"
    assert stem.name.endswith("_failed")
    build = cell_calling(notebook, "step5_build()")
    errors = [output for output in build.outputs if output.output_type == "error"]
    assert errors and errors[0].ename == "DeployFailed" and "step 5 Build" in errors[0].evalue
    build_text = text_of(build)
    assert "SyntaxError" in build_text and "outcome: failed at step 5 Build" in build_text, "the summary"
    assert text_of(cell_calling(notebook, "step6_commit_image()")) == "", "a step that never ran shows nothing"


def test_a_plain_papermill_run_whose_kernel_is_killed_is_closed_with_its_three_files(deployable, sandbox, tmp_path):
    """SIGKILL leaves no chance to archive: the kernel's running notebook (saved after every cell) and the
    journal are closed as `abandoned` by `hermes-ops records`, with the steps that ran."""
    deployable.commit("records: a slow build to kill", fault="slow-build")
    records = tmp_path / "records"
    signal_kernel_during_build(sandbox, records, tmp_path, signal.SIGKILL)
    listing = subprocess.run([sys.executable, "-m", "hermes_ops.cli", "records", "--records-dir", str(records)],
                             capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0 and "abandoned" in listing.stdout, listing.stderr
    stem, summary, notebook = the_record(records)
    assert summary["outcome"] == "abandoned" and summary["failed_step"] == "5 Build"
    assert "Step 4 · Pull" in text_of(cell_calling(notebook, "step4_pull()")), "the cells that had ended"


CLICK_THROUGH = """\
import time
from hermes_ops.console import state
from hermes_ops.console.state import Action

controller = console.controller
for number in state.RUN_ORDER:
    assert controller.request(Action.run(number)) is None, number
    if controller.confirming:
        controller.confirm()
    while controller.busy is not None:
        time.sleep(0.05)
print("console record:", controller.record)
"""


def test_a_run_driven_by_the_step_console_leaves_the_same_three_files_with_its_account(sandbox, tmp_path):
    """As in JupyterLab: the kernel shows the console (it takes itself for a Jupyter server's), clicks run
    the steps on the console's worker thread, and the console archives the kernel's notebook."""
    import papermill as papermill_api
    from nbclient import NotebookClient

    records = tmp_path / "records"
    values = {**yaml_values(sandbox.params_file), "records_dir": str(records), "dry_run": True}
    prepared = papermill_api.execute_notebook(str(runbook()), None, parameters=values, prepare_only=True,
                                              kernel_name="python3", progress_bar=False)
    console_at = next(index for index, cell in enumerate(prepared.cells) if "show_console(" in cell.source)
    prepared.cells.insert(console_at + 1, nbformat.v4.new_code_cell(CLICK_THROUGH))
    client = NotebookClient(prepared, kernel_name="python3", timeout=600,
                            resources={"metadata": {"path": str(runbook().parent)}})
    environment = {**os.environ, "JPY_SESSION_NAME": str(tmp_path / "deploy.ipynb")}
    with client.setup_kernel(env=environment):
        for index, cell in enumerate(prepared.cells[:console_at + 2]):
            client.execute_cell(cell, index)
    stem, summary, notebook = the_record(records)
    assert summary["outcome"] == "dry-run"
    assert "Step 8 · Exit" in summary["console_account"]
    assert f"console record: {stem}.json" in text_of(prepared.cells[console_at + 1]), "the console archived it"
    assert any("application/vnd.jupyter.widget-view+json" in output.get("data", {})
               for output in cell_calling(notebook, "show_console(").outputs), "the console, as displayed"


def signal_kernel_during_build(sandbox, records: Path, cwd: Path, signum: int) -> subprocess.CompletedProcess:
    """A plain papermill deploy; once its build runs, `signum` to its kernel (the journal's writer)."""
    arguments = [str(PAPERMILL), str(runbook()), str(cwd / "out.ipynb"), "-f", str(sandbox.params_file),
                 "-p", "records_dir", str(records), "--cwd", str(runbook().parent), "--no-progress-bar"]
    run = subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
    try:
        deadline, journal = time.monotonic() + 300, None
        while journal is None and time.monotonic() < deadline and run.poll() is None:
            for path in records.glob("*-*.json") if records.is_dir() else ():
                try:
                    data = json.loads(path.read_text())
                except ValueError:
                    continue
                if any(step["name"] == "build" and step["status"] == "running" for step in data["steps"]):
                    journal = data
            time.sleep(0.2)
        assert journal is not None, "the deploy never reached its build"
        os.kill(journal["pid"], signum)
        stdout, stderr = run.communicate(timeout=180)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    return subprocess.CompletedProcess(arguments, run.returncode, stdout, stderr)


def test_a_plain_papermill_run_interrupted_during_its_build_archives_its_three_files(deployable, sandbox, tmp_path):
    """Ctrl-C reaches the kernel as SIGINT: the step stops, the deploy finishes as interrupted, and the kernel
    archives the record once the interrupted cell has ended, its KeyboardInterrupt included."""
    deployable.commit("records: a slow build to interrupt", fault="slow-build")
    records = tmp_path / "records"
    run = signal_kernel_during_build(sandbox, records, tmp_path, signal.SIGINT)
    assert run.returncode != 0
    stem, summary, notebook = the_record(records)
    assert summary["outcome"] == "interrupted" and summary["interrupted_by"] == "SIGINT"
    assert summary["lock_released"] and stem.name.endswith("_interrupted")
    build = cell_calling(notebook, "step5_build()")
    assert [output.ename for output in build.outputs if output.output_type == "error"] == ["KeyboardInterrupt"]
    assert "outcome: interrupted at step 5 Build" in text_of(build)
