"""Headless runs: which notebook outcome counts as success; the kernel stops while the record is archived.

No notebook is run here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hermes_ops.records import headless, store
from hermes_ops.records.headless import RUNBOOKS, HeadlessRun
from hermes_ops.runbook.vocabulary import DEPLOY_SUCCESS, ROLLBACK_SUCCESS, Outcome


def test_a_deploy_succeeds_with_its_outcomes_and_a_rollback_with_its_own():
    assert RUNBOOKS["deploy.ipynb"].successful_outcomes == DEPLOY_SUCCESS
    assert RUNBOOKS["rollback.ipynb"].successful_outcomes == ROLLBACK_SUCCESS
    assert (RUNBOOKS["deploy.ipynb"].kind, RUNBOOKS["rollback.ipynb"].kind) == ("deploy", "rollback")
    record = Path("records/x.ipynb")
    assert HeadlessRun(record, Outcome.NOTHING_NEW).succeeded
    assert not HeadlessRun(record, Outcome.ROLLED_BACK).succeeded, "a deploy that rolled back failed"
    assert HeadlessRun(record, Outcome.ROLLED_BACK, "rollback.ipynb").succeeded
    assert not HeadlessRun(record, Outcome.SUCCESS, "rollback.ipynb").succeeded
    assert not HeadlessRun(record, "paused").succeeded, "an outcome this version does not know is no success"


def test_deploy_and_rollback_are_thin_callers_of_run_runbook(monkeypatch):
    from hermes_ops.records import headless

    calls = []
    monkeypatch.setattr(headless, "run_runbook", lambda notebook, *args, **kwargs: calls.append(notebook))
    headless.deploy(None, [("reason", "x")])
    headless.rollback(None, [])
    assert calls == ["deploy.ipynb", "rollback.ipynb"]


def test_relative_local_paths_are_anchored_where_the_operator_runs_hermes_ops(tmp_path, monkeypatch):
    """The kernel runs in another folder: `key_path: keys/deploy` must still mean ./keys/deploy."""
    from hermes_ops.records.headless import _anchored_paths

    monkeypatch.chdir(tmp_path)
    values = {"key_path": "keys/deploy", "known_hosts": "~/.ssh/known_hosts", "ssh_config": "/etc/ssh/ssh_config",
              "reason": "relative/text"}
    assert _anchored_paths(values) == {"key_path": str(tmp_path / "keys" / "deploy")}
    assert _anchored_paths({"key_path": ""}) == {}
    assert _anchored_paths({"ssh_config": "none"}) == {}, "ssh -F none: no config, not a file named none"


def test_the_first_output_starts_the_warm_up_once_and_every_write_goes_through():
    import io

    stream, started = io.StringIO(), []
    output = headless._FirstOutput(stream, lambda: started.append(stream.getvalue()))
    output.write("run 1: Ada deploys\n")
    output.write("Step 1 · SSH key\n")
    output.flush()
    assert started == [""], "once, before the first line is written"
    assert stream.getvalue() == "run 1: Ada deploys\nStep 1 · SSH key\n"


class _Kernel(headless.RunbookKernel):
    """The kernel's stopping without a kernel: what `stop` was asked, while the work ran beside it."""

    def __init__(self):
        self.stops = []

    def stop(self, *, idle=False):
        self.stops.append(idle)


def test_the_record_is_archived_while_an_idle_kernel_stops():
    kernel = _Kernel()
    assert kernel.stop_while(lambda: "record.ipynb") == "record.ipynb"
    assert kernel.stops == [True]


def test_an_archive_that_fails_fails_the_run_after_the_kernel_stopped():
    kernel = _Kernel()

    def fail():
        raise store.RecordWriteError("disk full", step="records")

    with pytest.raises(store.RecordWriteError, match="disk full"):
        kernel.stop_while(fail)
    assert kernel.stops == [True]


def test_the_kernel_is_told_that_the_caller_archives_under_the_name_it_reads():
    from hermes_ops.records import kernel_notebook

    assert headless.CALLER_ARCHIVES_ENV == kernel_notebook.CALLER_ARCHIVES_ENV
