"""Headless runs: which notebook outcome counts as success (no notebook is run here)."""

from __future__ import annotations

from pathlib import Path

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
