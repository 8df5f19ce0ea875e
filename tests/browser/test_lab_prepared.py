"""An interactive run as `hermes-ops lab` starts it: a prepared copy of the runbook, opened in JupyterLab.

The command prepares `<records>/<run_id>.ipynb` with the sandbox's parameters file, as an operator's
production file, plus a `-p` override, and starts JupyterLab on it; Chromium opens the server's start
page (the copy), runs all cells and drives the deploy from the step console. The tracked runbooks
stay byte for byte as they were, and the run's record lands beside the copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from hermes_ops.console.prepared import RUNBOOKS, runbook_notebook
from hermes_ops.records import store
from hermes_ops.sandbox.host import http_get
from tests.browser.conftest import CHROMIUM, OPERATOR, isolated_lab, lab_started_by, wait_for_kernel_of
from tests.browser.test_console import (ROWS, SUCCEEDED, choose_from_menu, console, push, row_status, run_id,
                                        run_step, run_steps, wait_for_run_all)

pytestmark = pytest.mark.sandbox

REASON = "LAB-11: a deploy from a prepared copy"


def tracked_runbooks() -> dict[str, str]:
    return {name: hashlib.sha256(runbook_notebook(name).read_bytes()).hexdigest() for name in RUNBOOKS}


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory, sandbox):
    """`hermes-ops lab -f PARAMS -p reason … --records-dir RECORDS --no-browser`, from a scratch directory."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    before = tracked_runbooks()
    scratch = tmp_path_factory.mktemp("operator")
    records, home = scratch / "records", tmp_path_factory.mktemp("jupyter")
    env, isolation = isolated_lab(home)
    argv = [sys.executable, "-m", "hermes_ops.cli", "lab", "-f", str(sandbox.params_file), "-p", "reason", REASON,
            "--records-dir", str(records), "--no-browser", "--", *isolation]
    with lab_started_by(argv, env, home, cwd=scratch) as server:
        copies = sorted(records.glob("*.ipynb"))
        assert len(copies) == 1, f"one prepared copy in {records}: {copies}"
        yield SimpleNamespace(server=server, copy=copies[0], records=records, runtime=home / "runtime",
                              tracked_before=before)


@pytest.fixture(scope="module")
def jupyter_lab(lab_run):
    """The `page` fixture's server: the one `hermes-ops lab` started (not the repository's)."""
    return lab_run.server


def test_a_deploy_in_jupyterlab_runs_on_its_prepared_copy(page, jupyter_lab, lab_run, serving_head, sandbox):
    copy, records = lab_run.copy, lab_run.records
    target = f"{sandbox.user}@{sandbox.host}:{sandbox.port}"

    # The server's start page is the copy: the notebook the operator works in is the prepared one.
    page.goto(f"{jupyter_lab.url}/?token={jupyter_lab.token}")
    expect(page).to_have_url(re.compile(rf"/lab/tree/{re.escape(copy.name)}\b"))
    wait_for_kernel_of(jupyter_lab, copy.name)
    connections = [json.loads(path.read_text()) for path in lab_run.runtime.glob("kernel-*.json")]
    assert [info["transport"] for info in connections] == ["ipc"], "the kernel listens on no TCP port"
    injected = page.locator(".jp-CodeCell", has_text="# Parameters")
    expect(injected).to_contain_text(f"port = {sandbox.port}")
    expect(injected).to_contain_text(f'run_id = "{copy.stem}"')
    choose_from_menu(page, "Run", "Run All Cells")
    wait_for_run_all(page)
    assert run_id(page) == copy.stem, "the run is the one the copy is named after"

    run_steps(page, ROWS[:3])
    new_commit = push(serving_head, sandbox, "Browser test: a change deployed from a prepared copy")
    run_steps(page, ROWS[3:6])
    # The sandbox's port (not the tracked runbook's default) reached the kernel: the parameters were injected.
    run_step(page, "hermes-step-6", confirm_with=(f"Commit the image on texasca2 ({target})",
                                                  f"commit {new_commit[:12]}"))
    run_step(page, "hermes-step-7", confirm_with=(f"Replace the app container on texasca2 ({target})",))
    run_step(page, "hermes-step-8")
    expect(page.locator(".hermes-banner [data-tone]")).to_have_attribute("data-tone", "success")
    expect(row_status(page, "hermes-step-8")).to_have_attribute("data-status", SUCCEEDED)
    expect(console(page)).to_have_count(1)
    assert http_get(sandbox.version_url)[1].strip() == new_commit

    summary = record_of(records, copy.stem)
    record = store.load_record(summary)
    assert record.outcome == "success" and record.commit_after == new_commit
    assert record.operator == OPERATOR and record.reason == REASON
    assert record.parameters["port"] == sandbox.port and record.parameters["records_dir"] == str(records)
    assert summary in [row.path.with_suffix(".json") for row in store.list_records(records)]
    assert_complete(summary, copy.stem)  # the kernel archived it (records.kernel_notebook): nothing saved from the page
    assert tracked_runbooks() == lab_run.tracked_before, "the tracked runbooks received no values and no outputs"


def record_of(records, run: str):
    """The JSON record of `run` in `records`, under its final name."""
    for path in sorted(records.glob("*_*_*_*.json")):
        found = store.load_record(path)
        if found is not None and found.run_id == run:
            return path
    raise AssertionError(f"no record of run {run} in {records}: {sorted(p.name for p in records.iterdir())}")


def assert_complete(summary, run: str) -> None:
    """A record as a headless run leaves it: the executed notebook (with the parameters it ran with), its JSON
    summary and the HTML."""
    import nbformat

    for suffix in (".ipynb", ".json", ".html"):
        assert summary.with_suffix(suffix).is_file(), f"{summary.with_suffix(suffix).name} is missing"
    executed = nbformat.read(summary.with_suffix(".ipynb"), as_version=4)
    assert any(cell.get("outputs") for cell in executed.cells), "the archived notebook holds the run's outputs"
    assert any(f'run_id = "{run}"' in cell.source for cell in executed.cells), "and the injected parameters"
