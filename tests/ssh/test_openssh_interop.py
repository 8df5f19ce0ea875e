"""An operator's OpenSSH set-up, against the sandbox as if it were production: no sandbox default does the work.

Each test writes its own ~/.ssh-like files in tmp_path (a config with aliases, a copy of the
key, a known_hosts pinning the droplet and the bastion), runs the runbook headless (papermill,
a real kernel) or the SSH layer against the real droplet sshd, and keeps its records in tmp_path.

- an alias-only parameters file (HostName, Port, User, IdentityFile, UserKnownHostsFile from ~/.ssh/config);
- a key that exists only in a real `ssh-agent` (its file deleted), and the same parameters refused,
  before any connection, once SSH_AUTH_SOCK is unset;
- a ProxyJump through the sandbox's bastion, proved by the bastion's own sshd log; then the whole
  production path for real (alias + bastion + agent key) on a new commit;
- an unknown alias refused with nothing run (the CLI exits 2, no record, no kernel);
- a production-looking host never gets the sandbox key: sshd, which would accept that key, refuses
  everything that is offered instead.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from hermes_ops.errors import AuthenticationFailed, ConfigError
from hermes_ops.params import DeployParameters
from hermes_ops.records import headless
from hermes_ops.runbook.vocabulary import Outcome
from hermes_ops.sandbox.bastion import Bastion, Forward
from hermes_ops.ssh import connect, fingerprint
from hermes_ops.ssh.auth import load_private_key

# What the sandbox needs that has nothing to do with SSH (its app listens on its own port).
NON_SSH = ("expected_hostname", "admin_container", "app_container", "image", "repo_dir", "branch", "build_command",
           "health_url", "version_url")


@dataclass
class Operator:
    """An operator's ~/.ssh in tmp_path: a key of their own (a copy of the one the droplet knows), a known_hosts."""

    ssh: Path
    key: Path
    known_hosts: Path

    def config(self, text: str, name: str = "config") -> Path:
        path = self.ssh / name
        path.write_text(text)
        path.chmod(0o600)
        return path


@pytest.fixture
def operator(tmp_path, sandbox, monkeypatch) -> Operator:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True, mode=0o700)
    key = ssh / "id_hermes"
    shutil.copyfile(sandbox.key_path, key)
    key.chmod(0o600)
    known_hosts = ssh / "known_hosts_hermes"
    shutil.copyfile(sandbox.known_hosts, known_hosts)
    known_hosts.chmod(0o600)
    return Operator(ssh, key, known_hosts)


@dataclass
class Agent:
    socket: Path
    pid: int
    public_key: str
    fingerprint: str


@pytest.fixture
def agent(tmp_path, sandbox_host, monkeypatch):
    """A real ssh-agent holding a fresh ed25519 key authorised for core on the droplet; the key file is deleted."""
    socket = tmp_path / "agent.sock"
    started = subprocess.run(["ssh-agent", "-s", "-a", str(socket)], capture_output=True, text=True, timeout=10,
                             check=True)
    pid = int(re.search(r"SSH_AGENT_PID=(\d+)", started.stdout).group(1))
    key = tmp_path / "agent_only_ed25519"
    public = None
    try:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hermes-interop-agent-key", "-f", str(key)],
                       check=True, timeout=30, capture_output=True)
        key_fingerprint = fingerprint(load_private_key(str(key)))
        subprocess.run(["ssh-add", str(key)], env={**os.environ, "SSH_AUTH_SOCK": str(socket)}, check=True,
                       timeout=10, capture_output=True)
        public = Path(f"{key}.pub").read_text().strip()
        sandbox_host.authorize_key(public)
        key.unlink()
        Path(f"{key}.pub").unlink()
        yield Agent(socket, pid, public, key_fingerprint)
    finally:
        if public:
            sandbox_host.revoke_key(public)
        os.kill(pid, signal.SIGTERM)


def parameters_file(folder: Path, sandbox, **values) -> Path:
    """A parameters file with the sandbox's non-SSH values and `values`: nothing of the sandbox's SSH set-up."""
    content = {name: getattr(sandbox, name) for name in NON_SSH}
    content.update(values)
    path = folder / "production.yaml"
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    return path


def deploy(params_file: Path, tmp_path: Path, *overrides: tuple[str, str]):
    """A headless run; returns its outcome, its JSON record and what it printed."""
    output = io.StringIO()
    run = headless.deploy(params_file, list(overrides), records_dir=tmp_path / "records", stream=output)
    record = json.loads(run.record.with_suffix(".json").read_text())
    return run.outcome, record, output.getvalue()


def step(record: dict, name: str) -> dict:
    return next(entry for entry in record["steps"] if entry["name"] == name)


# --- (a) an alias-only parameters file ------------------------------------------------------------------------

def test_a_parameters_file_naming_only_an_alias_deploys(operator, sandbox, deployable, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(operator.ssh.parent))  # the kernel reads this ~/.ssh/config too
    operator.config(f"""\
Host hermes-prod
    HostName {sandbox.host}
    Port {sandbox.port}
    User {sandbox.user}
    IdentityFile ~/.ssh/id_hermes
    UserKnownHostsFile ~/.ssh/known_hosts_hermes
""")
    params_file = parameters_file(tmp_path, sandbox, host="hermes-prod")
    assert not {"port", "user", "key_path", "known_hosts", "ssh_config"} & set(yaml.safe_load(params_file.read_text()))

    outcome, record, printed = deploy(params_file, tmp_path, ("dry_run", "true"))

    assert outcome is Outcome.DRY_RUN, printed
    parameters = record["parameters"]
    assert (parameters["host"], parameters["port"], parameters["user"]) == ("hermes-prod", sandbox.port, "core")
    assert parameters["key_path"] == str(operator.key) and parameters["known_hosts"] == str(operator.known_hosts)
    assert record["facts"]["ssh_route"]["alias"] == "hermes-prod"
    assert step(record, "ssh_key")["facts"]["key_fingerprint"] == fingerprint(load_private_key(str(operator.key)))
    assert f"route: core@{sandbox.host}:{sandbox.port} (Host hermes-prod in ~/.ssh/config)" in printed


# --- (b) a key held only by ssh-agent -------------------------------------------------------------------------

def test_a_key_held_only_by_ssh_agent_deploys_and_without_the_agent_is_refused_before_connecting(
        operator, agent, sandbox, deployable, tmp_path, monkeypatch):
    config = operator.config("# this operator's ssh config names no host\n")
    params_file = parameters_file(tmp_path, sandbox, host=sandbox.host, port=sandbox.port,
                                  known_hosts=str(operator.known_hosts), ssh_config=str(config))
    monkeypatch.setenv("SSH_AUTH_SOCK", str(agent.socket))

    outcome, record, printed = deploy(params_file, tmp_path, ("dry_run", "true"))

    assert outcome is Outcome.DRY_RUN, printed
    assert record["parameters"]["key_path"] == "" and record["parameters"]["use_agent"] is True
    key_step = step(record, "ssh_key")
    assert key_step["facts"]["key_source"] == "ssh-agent"
    assert key_step["facts"]["key_fingerprint"] == agent.fingerprint
    assert f"agent key: ssh-ed25519 {agent.fingerprint} hermes-interop-agent-key" in printed
    assert "operator_ed25519" not in printed, "the sandbox key is never mentioned, let alone offered"

    monkeypatch.delenv("SSH_AUTH_SOCK")
    refused_records = tmp_path / "refused"
    with pytest.raises(ConfigError) as refused:
        headless.deploy(params_file, [("dry_run", "true")], records_dir=refused_records, stream=io.StringIO())
    assert str(refused.value).splitlines()[0] == (
        f"[step parameters] no key for core@{sandbox.host}: key_path is empty, {config} has no Host entry for "
        f"{sandbox.host}, ssh-agent is not running (SSH_AUTH_SOCK unset)")
    assert not refused_records.exists() or not any(refused_records.iterdir()), "refused before any record or kernel"


# --- (c) ProxyJump through the sandbox's bastion --------------------------------------------------------------

def bastion_config(operator: Operator, sandbox, bastion: Bastion, *, identity: bool = True) -> Path:
    with operator.known_hosts.open("a") as pins:
        pins.write(bastion.known_hosts_line() + "\n")
    identity_line = f"    IdentityFile {operator.key}\n" if identity else ""
    return operator.config(f"""\
Host hermes-bastion
    HostName {bastion.address}
    Port {bastion.port}
    User {bastion.user}
{identity_line}
Host hermes-prod
    HostName {sandbox.host}
    Port {sandbox.port}
    User {sandbox.user}
{identity_line}    ProxyJump hermes-bastion
    UserKnownHostsFile {operator.known_hosts}
""")


def test_a_proxyjump_goes_through_the_bastion(operator, bastion, sandbox, deployable, tmp_path):
    config = bastion_config(operator, sandbox, bastion)
    params_file = parameters_file(tmp_path, sandbox, host="hermes-prod", ssh_config=str(config))
    through_droplet = Forward(sandbox.host, sandbox.port)
    before = bastion.forwards().count(through_droplet)

    outcome, record, printed = deploy(params_file, tmp_path, ("dry_run", "true"))

    assert outcome is Outcome.DRY_RUN, printed
    assert bastion.forwards().count(through_droplet) > before, "the bastion's sshd logged the forward"
    assert record["facts"]["ssh_route"]["bastion"] == f"jump@{bastion.address}:{bastion.port}"
    assert f"via bastion jump@{bastion.address}:{bastion.port} (Host hermes-bastion)" in printed


def test_the_production_path_for_real_alias_bastion_and_agent_key(operator, bastion, agent, sandbox_host, sandbox,
                                                                   deployable, tmp_path, monkeypatch, request):
    """What the README's production section shows: `host: hermes-prod`, the key in ssh-agent, a bastion."""
    config = bastion_config(operator, sandbox, bastion, identity=False)
    monkeypatch.setenv("SSH_AUTH_SOCK", str(agent.socket))
    bastion.authorize_key(agent.public_key)  # the bastion knows the operator key only
    request.addfinalizer(lambda: bastion.revoke_key(agent.public_key))
    commit = sandbox_host.commit("interop: alias, bastion and agent key")
    params_file = parameters_file(tmp_path, sandbox, host="hermes-prod", ssh_config=str(config),
                                  reason="TICKET-11: OpenSSH interop")
    before = bastion.forwards().count(Forward(sandbox.host, sandbox.port))

    outcome, record, printed = deploy(params_file, tmp_path)

    assert outcome is Outcome.SUCCESS, printed
    assert record["commit_after"] == commit
    assert record["serving_after"]["commit"] == commit and record["serving_after"]["healthy"]
    assert bastion.forwards().count(Forward(sandbox.host, sandbox.port)) > before
    assert step(record, "ssh_key")["facts"]["key_source"] == "ssh-agent"


# --- (d) an unknown alias ---------------------------------------------------------------------------------------

def test_an_unknown_alias_is_refused_clearly_and_nothing_runs(operator, sandbox, tmp_path):
    config = operator.config(f"Host hermes-prod\n    HostName {sandbox.host}\n    IdentityFile {operator.key}\n")
    params_file = parameters_file(tmp_path, sandbox, host="hermes-prdo", ssh_config=str(config))
    records = tmp_path / "records"
    completed = subprocess.run([sys.executable, "-m", "hermes_ops", "deploy", "-f", str(params_file),
                                "--records-dir", str(records)], capture_output=True, text=True, timeout=120,
                               cwd=tmp_path)
    assert completed.returncode == 2, completed.stderr
    assert f"unknown host alias 'hermes-prdo' in {config}" in completed.stderr
    assert "did you mean hermes-prod?" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not records.exists() or not any(records.iterdir())


# --- (e) the sandbox key only for the sandbox -------------------------------------------------------------------

def test_a_production_looking_host_never_gets_the_sandbox_key(operator, agent, sandbox, monkeypatch, tmp_path):
    """sshd would accept the sandbox key; it refuses the login, so the sandbox key was not offered."""
    config = operator.config(f"Host hermes-prod\n    HostName {sandbox.host}\n    Port {sandbox.port}\n"
                             f"    UserKnownHostsFile {operator.known_hosts}\n")
    sandbox_print = fingerprint(load_private_key(sandbox.key_path))
    monkeypatch.setenv("SSH_AUTH_SOCK", str(agent.socket))
    subprocess.run(["ssh-add", "-D"], env={**os.environ}, check=True, timeout=10, capture_output=True)
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "not-authorised", "-f", str(stranger)],
                   check=True, timeout=30, capture_output=True)
    subprocess.run(["ssh-add", str(stranger)], env={**os.environ}, check=True, timeout=10, capture_output=True)

    for values in ({"host": "hermes-prod", "ssh_config": str(config)},
                   {"host": sandbox.host, "port": sandbox.port, "known_hosts": str(operator.known_hosts),
                    "ssh_config": "none"}):
        params = DeployParameters(**values).resolved()
        assert params.key_path == "" and not params.ssh_resolution().sandbox
        with pytest.raises(AuthenticationFailed) as refused:
            connect(params.ssh_target())
        offered = " ".join(refused.value.offered)
        assert "not-authorised" in offered and sandbox_print not in offered


def test_the_droplets_host_key_is_fetched_through_the_bastion_for_pinning(operator, bastion, sandbox):
    """Pinning a droplet reachable only through a bastion: its key comes through the (verified) bastion."""
    from hermes_ops.ssh import fetch_host_key

    config = bastion_config(operator, sandbox, bastion)
    target = DeployParameters(host="hermes-prod", ssh_config=str(config)).resolved().ssh_target()
    before = bastion.forwards().count(Forward(sandbox.host, sandbox.port))

    info = fetch_host_key(target.host, target.port, via=target.jump)

    droplet_key = Path(sandbox.state_dir) / "droplet" / "ssh_host_ed25519_key.pub"
    openssh = subprocess.run(["ssh-keygen", "-lf", str(droplet_key)], capture_output=True, text=True, timeout=10,
                             check=True).stdout.split()[1]
    assert info.fingerprint == openssh
    assert bastion.forwards().count(Forward(sandbox.host, sandbox.port)) == before + 1


def test_the_pinning_route_of_an_alias_is_its_hostname_port_and_bastion(operator, bastion, sandbox):
    from hermes_ops.ssh.hostkey_pinning import pinning_route

    config = bastion_config(operator, sandbox, bastion)
    host, port, via = pinning_route("hermes-prod", ssh_config=str(config))
    assert (host, port, via.display) == (sandbox.host, sandbox.port, f"jump@{bastion.address}:{bastion.port}")
    assert pinning_route("203.0.113.7", 22, ssh_config=str(config)) == ("203.0.113.7", 22, None)
