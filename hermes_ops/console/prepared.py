"""A runbook copy prepared for one interactive run: the operator's parameters injected, nothing executed.

An interactive run never opens the tracked runbook (`notebooks/deploy.ipynb`): production values
typed into it, and the outputs saved with them, would end up in git. `prepare_copy` validates the
parameters exactly as a headless run does (`headless.prepare`: a fresh run id, the records
directory), then writes `<records_dir>/<run_id>.ipynb` with papermill's prepare-only mode: the
`injected-parameters` cell and papermill's metadata, as `papermill` itself writes them, and no
kernel started. The copy lives where the run's record will, under the run id the runbook records.
"""

from __future__ import annotations

from pathlib import Path

from hermes_ops.errors import ConfigError

# Light to import (the CLI's parser names the runbooks); the records machinery loads when a copy is made.
RUNBOOKS = ("deploy", "rollback")


def runbook_notebook(runbook: str) -> Path:
    """The shipped notebook of `runbook` (`deploy` or `rollback`): only ever read."""
    if runbook not in RUNBOOKS:
        raise ConfigError(f"unknown runbook {runbook!r}", step="parameters",
                          hint=f"choose one of: {', '.join(RUNBOOKS)}")
    from hermes_ops.records import kernel_notebook

    return kernel_notebook.runbook_notebook(runbook)


def prepare_copy(runbook: str, params_file: Path | None, overrides=(), records_dir: Path | None = None) -> Path:
    """Write `<records_dir>/<run_id>.ipynb`: `runbook` with the parameters injected, ready to run in JupyterLab.

    Args:
        runbook: `deploy` or `rollback`.
        params_file: a YAML parameters file (None: the notebook's defaults).
        overrides: (name, value) pairs applied over the file, as `hermes-ops deploy -p` takes them.
        records_dir: where the copy and later the record go (default: the parameters', else the default one).

    Returns:
        The copy's path; its name is the run id injected into it.

    Raises:
        ConfigError: an unknown runbook or refused parameters; no file was written.
        RecordWriteError: the copy cannot be created in the records directory (it never overwrites a file).
    """
    import nbformat
    import papermill

    from hermes_ops.records import headless

    source = runbook_notebook(runbook)
    values, records_dir = headless.prepare(params_file, overrides, records_dir=records_dir)
    copy = records_dir / f"{values['run_id']}.ipynb"
    # Papermill writes nothing when given no output path: the copy is written below, created exclusively.
    notebook = papermill.execute_notebook(str(source), None, parameters=values, prepare_only=True,
                                          kernel_name="python3", progress_bar=False)
    notebook.metadata.papermill["output_path"] = str(copy)
    _clear_outputs(notebook)
    try:
        records_dir.mkdir(parents=True, exist_ok=True)
        file = open(copy, "x", encoding="utf-8")  # never someone else's file, nor an earlier run's
    except OSError as error:
        raise _unwritable(copy, error) from None
    try:
        with file:
            file.write(nbformat.writes(notebook))
    except OSError as error:
        copy.unlink(missing_ok=True)  # ours, and half written
        raise _unwritable(copy, error) from None
    return copy


def _unwritable(copy: Path, error: OSError):
    from hermes_ops.records.store import RecordWriteError

    return RecordWriteError(f"cannot write the runbook copy {copy}: {error}", step="prepare", host="this machine",
                            hint="free space or fix permissions in the records directory, or pass another "
                                 "--records-dir; nothing was run")


def _clear_outputs(notebook) -> None:
    """The tracked runbook's stored example outputs (a sandbox run) must not pass for this run's."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
