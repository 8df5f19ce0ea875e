"""Jupyter server save hook: a saved runbook fills in a finished run's record if it lacks its notebook.

The kernel records its own executed notebook (`records.kernel_notebook`) and archives it with the
JSON and HTML when the run ends: that is the run's record, and a save never replaces any of it nor
starts a second record. This hook (installed by `hermes-ops lab`) only completes a record archived
without a notebook (the kernel could not write it, or a record from before the kernel kept one):
the saved notebook is copied beside the JSON summary under the same stem, created exclusively,
with its HTML. A save while the run is still going on (its journal not archived yet) does nothing.

Which run a notebook belongs to travels in the notebook itself, as output metadata: the
runbook's parameter-check cell calls `announce_run` (in the kernel), whose output carries
`{"hermes_ops": {"run_id": ...}}`; `run_id_of` (in the server) reads it back with nbformat.
Nothing depends on the wording of the line the operator reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hermes_ops import paths
from hermes_ops.console.detect import in_jupyter_server
from hermes_ops.records import store as records

if TYPE_CHECKING:
    import nbformat

METADATA_KEY = "hermes_ops"


def announce_run(run_id: str, text: str) -> None:
    """Show `run <run_id>: <text>` under the cell, the output carrying the run id for the save hook.

    In JupyterLab the line is display data whose metadata holds the run id. Headless (papermill,
    nbclient, nbval: no save hook, and papermill copies only printed output to the terminal)
    it is printed, exactly as before.
    """
    line = f"run {run_id}: {text}"
    if not in_jupyter_server():
        print(line)
        return
    from IPython.display import publish_display_data

    publish_display_data({"text/plain": line}, metadata={METADATA_KEY: {"run_id": run_id}})


def run_id_of(notebook: "nbformat.NotebookNode") -> str | None:
    """The run id an `announce_run` output in `notebook` carries (the last one, if the cell ran twice)."""
    found = None
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            ours = output.get("metadata", {}).get(METADATA_KEY)
            if isinstance(ours, dict) and isinstance(ours.get("run_id"), str) and ours["run_id"]:
                found = ours["run_id"]
    return found


def copy_to_records(model, os_path, contents_manager=None, records_dir: Path | None = None, **_) -> Path | None:
    """`FileContentsManager.post_save_hook`: give a finished run's record the saved notebook if it has none.

    Returns the notebook written into the record, or None (not a runbook of a finished run, or its
    record already has its notebook: nothing is replaced).
    """
    if model.get("type") != "notebook":
        return None
    import nbformat  # here, in the server: the kernel imports this module for `announce_run` alone

    try:
        notebook = nbformat.read(os_path, as_version=4)
    except Exception:  # unreadable or not a notebook nbformat accepts: nothing to file, and the save must not fail
        return None
    run_id = run_id_of(notebook)
    if not run_id:
        return None
    summary = records.find_archived(Path(records_dir or paths.default_records_dir()), run_id)
    if summary is None:
        return None
    try:
        return records.complete(summary, Path(os_path))
    except OSError:  # the save itself must not fail; the JSON is still the record
        return None
