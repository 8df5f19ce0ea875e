"""Records archived on the sandbox host: every operator's, chained, listed, fetched, verified, tampered with.

Two operators are two records folders (two clones); their runs land in one chain under
`~/.hermes/records/` on the droplet. Each tampering is done on the host by hand, as an
intruder would, checked with `records verify --host`, and undone from a copy.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from hermes_ops.records import chain
from tests.conftest import ssh_command
from tests.runbook.conftest import hermes_ops_cli, record_of

pytestmark = pytest.mark.sandbox

ARCHIVE = "$HOME/.hermes/records"


def _on_host(sandbox, script: str) -> str:
    completed = subprocess.run(ssh_command(sandbox, "sh", "-c", script), capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def _dry_run(sandbox, records_dir, operator: str) -> dict:
    cli = hermes_ops_cli("deploy", "-f", str(sandbox.params_file), "--dry-run", "-p", "operator", operator,
                         "-p", "reason", f"TICKET-13 {operator}", "--records-dir", str(records_dir))
    assert cli.returncode == 0, cli.stderr[-2000:] + cli.stdout[-2000:]
    assert "archived on the host" in cli.stdout
    return record_of(cli)[1]


def _verify_host(sandbox, records_dir) -> subprocess.CompletedProcess:
    return hermes_ops_cli("records", "verify", "--host", "-f", str(sandbox.params_file), "--records-dir",
                          str(records_dir))


@pytest.fixture(scope="module")
def two_operators(sandbox_host, sandbox, tmp_path_factory):
    """Alice, Bob, Alice: three dry runs from two records folders, all archived on the host."""
    from hermes_ops.sandbox.rehearsal import catch_up

    catch_up(sandbox_host)
    alice, bob = tmp_path_factory.mktemp("alice"), tmp_path_factory.mktemp("bob")
    runs = [_dry_run(sandbox, alice, "Alice Archive"), _dry_run(sandbox, bob, "Bob Archive"),
            _dry_run(sandbox, alice, "Alice Archive")]
    return alice, bob, runs


def test_every_operators_records_are_on_the_host_chained_and_listed(sandbox, two_operators):
    alice, bob, runs = two_operators
    listing = hermes_ops_cli("records", "--host", "-f", str(sandbox.params_file), "--json")
    assert listing.returncode == 0, listing.stderr
    rows = {row["run_id"]: row for row in json.loads(listing.stdout)}
    assert {run["run_id"] for run in runs} <= rows.keys()
    assert rows[runs[1]["run_id"]]["operator"] == "Bob Archive"
    seals = [chain.seal_of(_local(folder, run)) for folder, run in zip((alice, bob, alice), runs)]
    assert [seal.sequence for seal in seals] == sorted(seal.sequence for seal in seals)
    assert seals[1].previous == seals[0].hash or seals[1].sequence > seals[0].sequence + 1
    assert len({seal.host for seal in seals}) == 1 and seals[0].host.startswith("SHA256:")
    log = hermes_ops_cli("records", "--host-log", "-f", str(sandbox.params_file))
    assert f"chain={seals[2].sequence}:{seals[2].hash}" in log.stdout
    assert _verify_host(sandbox, alice).returncode == 0
    local = hermes_ops_cli("records", "verify", "--records-dir", str(alice))
    assert local.returncode == 0 and "holds" in local.stdout, local.stdout + local.stderr


def _local(folder, run) -> dict:
    for path in folder.glob("*_*_*_*.json"):
        data = json.loads(path.read_text())
        if data.get("run_id") == run["run_id"]:
            return data
    raise AssertionError(f"no local record of {run['run_id']} in {folder}")


def test_fetch_brings_another_operators_record_and_the_index_links_it(sandbox, two_operators):
    alice, _, runs = two_operators
    fetched = hermes_ops_cli("records", "fetch", runs[1]["run_id"], "-f", str(sandbox.params_file),
                             "--records-dir", str(alice))
    assert fetched.returncode == 0, fetched.stderr
    html = alice / fetched.stdout.strip().splitlines()[-1]
    assert html.exists() and html.suffix == ".html"
    notebook = json.loads(html.with_suffix(".ipynb").read_text())
    assert "Verdict: dry-run" in "".join(notebook["cells"][0]["source"])
    assert "Verdict: dry-run" in html.read_text()
    index = (alice / "index.html").read_text()
    assert runs[1]["run_id"] in index and html.name in index
    shown = hermes_ops_cli("records", "show", runs[1]["run_id"], "--records-dir", str(alice))
    assert shown.returncode == 0 and "Bob Archive" in shown.stdout


TAMPERING = {
    "an outcome edited in a JSON": (
        1, "edited", 'f=$(grep -l "{run_id}" {archive}/*.json); sed -i "s/\\"outcome\\": \\"dry-run\\"/'
                     '\\"outcome\\": \\"success\\"/" "$f"'),
    "a notebook output edited": (
        1, "file-edited", 'f=$(grep -l "{run_id}" {archive}/*.json); n="${{f%.json}}.ipynb.gz"; '
                          'gzip -dc "$n" | sed "s/Step/Stop/" | gzip > "$n.new" && mv "$n.new" "$n"'),
    "a record deleted from the middle": (
        1, "deleted", 'f=$(grep -l "{run_id}" {archive}/*.json); rm -f "$f" "${{f%.json}}.ipynb.gz"'),
}


@pytest.mark.parametrize("change", list(TAMPERING), ids=list(TAMPERING))
def test_verify_names_the_run_that_was_tampered_with(sandbox, two_operators, change):
    alice, _, runs = two_operators
    index, kind, script = TAMPERING[change]
    run_id = runs[index]["run_id"]
    _on_host(sandbox, f'rm -rf {ARCHIVE}.bak && cp -a {ARCHIVE} {ARCHIVE}.bak')
    try:
        _on_host(sandbox, script.format(run_id=run_id, archive=ARCHIVE))
        verdict = _verify_host(sandbox, alice)
        assert verdict.returncode == 1, verdict.stdout + verdict.stderr
        assert f"{kind}: run {run_id}" in verdict.stdout or (kind == "deleted" and "deleted:" in verdict.stdout)
        assert "does NOT hold" in verdict.stderr
    finally:
        _on_host(sandbox, f'rm -rf {ARCHIVE} && mv {ARCHIVE}.bak {ARCHIVE}')
    assert _verify_host(sandbox, alice).returncode == 0


def test_verify_finds_a_record_copied_in_from_another_host(sandbox, two_operators):
    alice, _, runs = two_operators
    other = _sealed_elsewhere(_local(alice, runs[0]))
    name = "20261127T000000Z_elsewhere_nocommit_dry-run.json"
    _on_host(sandbox, f'rm -rf {ARCHIVE}.bak && cp -a {ARCHIVE} {ARCHIVE}.bak')
    try:
        completed = subprocess.run(ssh_command(sandbox, "sh", "-c", f'cat > {ARCHIVE}/{name}'),
                                   input=json.dumps(other), capture_output=True, text=True, timeout=60)
        assert completed.returncode == 0, completed.stderr
        verdict = _verify_host(sandbox, alice)
        assert verdict.returncode == 1 and f"foreign: run {other['run_id']}" in verdict.stdout, verdict.stdout
    finally:
        _on_host(sandbox, f'rm -rf {ARCHIVE} && mv {ARCHIVE}.bak {ARCHIVE}')


def _sealed_elsewhere(record: dict) -> dict:
    """A record as another host's chain sealed it: same shape, its own run id, another host key."""
    unsealed = {key: value for key, value in record.items() if key != chain.CHAIN_FIELD}
    unsealed["run_id"] = "20261127T000000Z-elsewh"
    return chain.seal(unsealed, {}, host="SHA256:another-host-key", previous=None, sealed_at="2026-11-27T00:00:00Z")


def test_a_run_that_cannot_reach_the_host_is_archived_by_the_next(deployable, sandbox, sandbox_host, tmp_path):
    droplet = sandbox_host.config.droplet_container
    sandbox_host.run_docker(["docker", "pause", droplet], timeout=60)
    try:
        cli = hermes_ops_cli("deploy", "-f", str(sandbox.params_file), "--dry-run", "-p", "connect_timeout", "3",
                             "-p", "reason", "TICKET-13 offline", "--records-dir", str(tmp_path))
    finally:
        sandbox_host.run_docker(["docker", "unpause", droplet], timeout=60)
    assert cli.returncode != 0
    assert "record kept on this machine only" in cli.stdout
    _, offline = record_of(cli)
    assert chain.CHAIN_FIELD not in offline
    _dry_run(sandbox, tmp_path, "Back Online")
    archived = _local(tmp_path, offline)
    assert chain.seal_of(archived) is not None, "the next run archived the offline run's record on the host"
    listing = hermes_ops_cli("records", "--host", "-f", str(sandbox.params_file), "--json")
    assert offline["run_id"] in {row["run_id"] for row in json.loads(listing.stdout)}
