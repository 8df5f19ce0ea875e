"""Exit codes come from the record alone: a script can tell a refusal from a failure from a rollback."""

from __future__ import annotations

import pytest

from hermes_ops.cli import exit_codes
from hermes_ops.cli.main import build_parser
from hermes_ops.errors import ConfigError, HermesOpsError
from hermes_ops.runbook.record import Record


@pytest.mark.parametrize(("kind", "fields", "code"), [
    ("deploy", {"outcome": "success"}, 0),
    ("deploy", {"outcome": "nothing-new"}, 0),
    ("deploy", {"outcome": "dry-run"}, 0),
    ("deploy", {"outcome": "failed", "failed_step": "5 Build"}, 1),
    ("deploy", {"outcome": "failed", "failed_step": "2 Connect"}, 1),
    ("deploy", {"outcome": "failed", "failed_step": "parameters"}, 2),
    ("deploy", {"outcome": "failed", "failed_step": "1 SSH key"}, 2),
    ("deploy", {"outcome": "failed", "failed_step": "preflight"}, 3),
    ("deploy", {"outcome": "failed", "failed_step": "3 Start the admin client", "refused_by": "lock"}, 3),
    ("deploy", {"outcome": "rolled-back", "failed_step": "7 Replace the app container"}, 4),
    ("deploy", {"outcome": "interrupted", "failed_step": "5 Build"}, 130),
    ("deploy", {"outcome": "abandoned"}, 1),
    ("rollback", {"outcome": "rolled-back"}, 0),
    ("rollback", {"outcome": "dry-run"}, 0),
    ("rollback", {"outcome": "failed", "failed_step": "9 Roll back"}, 1),
    ("rollback", {"outcome": "interrupted"}, 130),
])
def test_each_outcome_has_its_documented_code(kind, fields, code):
    record = Record.from_json({"run_id": "r", "kind": kind, **fields})
    assert exit_codes.for_record(record) == code
    assert f"    {code} " in exit_codes.TABLE


def test_no_record_is_a_failure_and_errors_map_by_type():
    assert exit_codes.for_record(None) == 1
    assert exit_codes.for_error(ConfigError("bad", step="parameters")) == 2
    assert exit_codes.for_error(HermesOpsError("disk full")) == 1
    assert exit_codes.for_error(KeyboardInterrupt()) == 130


def test_the_table_is_in_the_help():
    assert exit_codes.TABLE in build_parser().format_help()
