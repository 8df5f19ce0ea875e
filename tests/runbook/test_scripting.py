"""The CLI as a script drives it: papermill-style options, refusals as JSON with exit 2, --version, --help.

The README's production command with --json, progress on stderr and no kernel warning, is run by
tests/ssh/test_readme_production.py (its CI job block)."""

from __future__ import annotations

import json

import pytest

from tests.runbook.conftest import hermes_ops_cli

pytestmark = pytest.mark.sandbox

README_REASON = "TICKET-123: what this ships"


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

