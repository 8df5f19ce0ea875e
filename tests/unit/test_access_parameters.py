"""The access runbooks' parameters: one parameters file serves every runbook, and bad values stop before the host."""

from __future__ import annotations

import pytest

from hermes_ops.access.parameters import GrantParameters, RequestParameters
from hermes_ops.cli import exit_codes
from hermes_ops.errors import ConfigError
from hermes_ops.param_types import known_names
from hermes_ops.params import PARAMETER_NAMES
from hermes_ops.params_file import load_parameters
from hermes_ops.records.store import record_stem
from hermes_ops.runbook.record import Record
from hermes_ops.runbook.vocabulary import Outcome

FINGERPRINT = "SHA256:" + "A" * 43


def test_a_deploy_parameters_file_serves_the_access_runbooks(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("host: 127.0.0.1\nport: 2222\nadmin_container: hermes-admin\nbranch: main\n")
    values = load_parameters(params, [("action", "list"), ("fingerprint", FINGERPRINT)], GrantParameters)
    assert values["action"] == "list" and values["branch"] == "main"
    assert set(PARAMETER_NAMES) <= set(known_names(GrantParameters))
    granted = GrantParameters.from_values(values)
    assert granted.action == "list" and not hasattr(granted, "branch"), "deploy-only names are ignored"
    with pytest.raises(ConfigError, match="unknown parameter"):
        load_parameters(None, [("public_key_file", "x.pub")])  # not a deploy parameter


@pytest.mark.parametrize("values, name", [
    ({"action": "delete"}, "action"),
    ({"expires": "3 days"}, "expires"),
    ({"expires": "1y"}, "expires"),
    ({"host_fingerprint": "MD5:aa:bb"}, "host_fingerprint"),
    ({"operator": "two\nlines"}, "operator"),
])
def test_the_operators_parameters_are_checked_before_anything_runs(tmp_path, values, name):
    base = {"host_fingerprint": FINGERPRINT, "key_path": str(tmp_path / "key"), "ssh_config": "none",
            "records_dir": str(tmp_path), "operator": "Ada"}
    with pytest.raises(ConfigError, match=name):
        RequestParameters(**{**base, **values}).resolved()


def test_the_operators_defaults_are_filled_without_touching_anything(tmp_path):
    params = RequestParameters(host="hermes.example.com", port=22, host_fingerprint=FINGERPRINT, ssh_config="none",
                               known_hosts=str(tmp_path / "known_hosts"), operator="Ada").resolved()
    assert params.key_path == "~/.ssh/id_ed25519" and params.requests_dir.endswith("access-requests")
    assert not (tmp_path / "known_hosts").exists()


def test_access_runs_exit_0_when_done_or_nothing_to_change():
    for kind in ("access", "grant-access"):
        for outcome, code in ((Outcome.SUCCESS, 0), (Outcome.NOTHING_NEW, 0), (Outcome.FAILED, 1),
                              (Outcome.INTERRUPTED, 130)):
            assert exit_codes.for_record(Record(kind=kind, outcome=outcome)) == code


def test_an_access_record_is_named_by_its_kind_where_a_deploy_names_its_commit():
    record = Record(run_id="r", kind="grant-access", started_at="2026-11-27T18:00:00+00:00", outcome=Outcome.SUCCESS,
                    facts={"hostname": "texasca2"})
    assert record_stem(record) == "20261127T180000Z_texasca2_grant-access_success"
    deploy = Record(run_id="r", kind="deploy", started_at="2026-11-27T18:00:00+00:00", outcome=Outcome.FAILED)
    assert record_stem(deploy).endswith("_nocommit_failed")
