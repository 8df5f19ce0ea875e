"""The CLI as a CI job scripts it: the README's command, JSON on stdout, progress on stderr, exit codes, no noise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hermes_ops.sandbox.host import http_get
from tests.runbook.conftest import hermes_ops_cli

pytestmark = pytest.mark.sandbox

README_REASON = "TICKET-123: what this ships"


def test_the_readmes_production_command_deploys_and_prints_json(deployable, sandbox, tmp_path):
    new_commit = deployable.commit("scripting: the README's example")
    cli = hermes_ops_cli("deploy", "-f", str(sandbox.params_file), "-p", "reason", README_REASON,
                         "--records-dir", str(tmp_path), "--json")
    assert cli.returncode == 0, cli.stderr[-3000:]
    summary = json.loads(cli.stdout)  # stdout is the JSON summary and nothing else
    assert summary["reason"] == README_REASON and summary["outcome"] == "success" and summary["exit_code"] == 0
    assert summary["commit_after"] == new_commit == http_get(sandbox.version_url)[1].strip()
    assert all(Path(path).is_file() for path in summary["record"].values())
    record = json.loads(Path(summary["record"]["json"]).read_text())
    assert record["reason"] == README_REASON and record["parameters"]["reason"] == README_REASON
    assert "Step 5 · Build" in cli.stderr, "progress goes to stderr"
    assert "WARNING" not in cli.stderr and "without encryption" not in cli.stderr, cli.stderr[:2000]


def test_papermill_style_options_apply_in_order_and_refusals_exit_2(sandbox, tmp_path):
    cli = hermes_ops_cli("deploy", "-f", str(sandbox.params_file), "--dry-run", "--records-dir", str(tmp_path),
                         "-y", "branch: main\nreason: from -y", "-p", "reason", "from -p", "-r", "reason", "0123",
                         "--json")
    assert cli.returncode == 0, cli.stderr[-3000:]
    summary = json.loads(cli.stdout)
    assert summary["outcome"] == "dry-run" and summary["reason"] == "0123"

    for name, value, rule in (("dry_run", "yes", "true or false"), ("port", "0123", "leading zeros")):
        refused = hermes_ops_cli("deploy", "-f", str(sandbox.params_file), "-p", name, value,
                                 "--records-dir", str(tmp_path / "refused"), "--json")
        assert refused.returncode == 2, refused.stderr
        answer = json.loads(refused.stdout)
        assert answer["outcome"] == "refused" and answer["step"] == "parameters" and rule in answer["error"]
        assert not (tmp_path / "refused").exists(), "nothing ran, no record of a run that never started"


def test_version_and_module_entry_point():
    version = hermes_ops_cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("hermes-ops ")
    assert "refused before connecting" in hermes_ops_cli("--help").stdout


def test_a_silent_build_shows_heartbeat_lines(deployable, sandbox, tmp_path, monkeypatch):
    """The slow-build fault prints one line, then nothing for 20 s: the terminal hears from the deploy anyway."""
    monkeypatch.setenv("HERMES_OPS_HEARTBEAT_SECONDS", "4")  # 30 s by default; the kernel inherits it
    deployable.commit("scripting: a silent build", fault="slow-build")
    cli = hermes_ops_cli("deploy", "-f", str(sandbox.params_file), "--records-dir", str(tmp_path))
    assert cli.returncode == 0, cli.stderr[-3000:]
    beats = [line for line in cli.stdout.splitlines() if "still running after" in line]
    assert beats and all(line.startswith("  … step 5 Build still running after ") for line in beats), cli.stdout
    assert "nothing shown for" in beats[0]
