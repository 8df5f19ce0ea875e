"""Jupyter server save hook: a saved runbook whose run has a record is copied into that record.

The kernel cannot save the notebook; the server can. `hermes-ops lab` starts JupyterLab with
this hook, so when the operator saves `deploy.ipynb` after an interactive run, the saved
notebook lands in `records/` beside the run's JSON summary, under the same name.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from hermes_ops.records import store as records

RUN_LINE = re.compile(r"^run (\d{8}T\d{6}Z-[0-9a-f]{6}): ", re.MULTILINE)


def run_id_of(notebook: dict) -> str | None:
    """The run id the notebook's validation cell printed (the last one, if the cell ran twice)."""
    found = None
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            text = output.get("text", "")
            for match in RUN_LINE.finditer("".join(text) if isinstance(text, list) else text):
                found = match.group(1)
    return found


def copy_to_records(model, os_path, contents_manager=None, records_dir: Path | None = None, **_) -> Path | None:
    """`FileContentsManager.post_save_hook`: copy a saved, finished runbook next to its JSON record."""
    if model.get("type") != "notebook":
        return None
    try:
        notebook = json.loads(Path(os_path).read_text())
    except (OSError, ValueError):
        return None
    run_id = run_id_of(notebook)
    if not run_id:
        return None
    records_dir = Path(records_dir or records.default_records_dir())
    for summary in sorted(records_dir.glob("*_*_*_*.json")):
        journal = records.load_journal(summary)
        if journal and journal.get("run_id") == run_id:
            target = summary.with_suffix(".ipynb")
            shutil.copyfile(os_path, target)
            return target
    return None
