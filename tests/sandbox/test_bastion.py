"""The sandbox bastion is a bastion and nothing more: it forwards to the droplet's sshd only, and gives no shell.

Checked with OpenSSH's own client (the judge of what a ProxyJump does), against the bastion's real sshd.
"""

from __future__ import annotations

import subprocess

import pytest

from hermes_ops.sandbox.bastion import Bastion, Forward


@pytest.fixture(scope="module")
def bastion(sandbox_host) -> Bastion:
    return Bastion(sandbox_host).up()


@pytest.fixture
def client_config(tmp_path, sandbox, bastion):
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(open(sandbox.known_hosts).read() + bastion.known_hosts_line() + "\n")
    known_hosts.chmod(0o600)
    config = tmp_path / "config"
    config.write_text(f"""\
Host *
    IdentityFile {sandbox.key_path}
    IdentitiesOnly yes
    UserKnownHostsFile {known_hosts}
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 10
Host bastion
    HostName {bastion.address}
    Port {bastion.port}
    User {bastion.user}
Host droplet
    HostName {sandbox.host}
    Port {sandbox.port}
    User {sandbox.user}
    ProxyJump bastion
""")
    config.chmod(0o600)
    return config


def ssh(config, *argv) -> subprocess.CompletedProcess:
    return subprocess.run(["ssh", "-F", str(config), *argv], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def test_openssh_proxyjump_reaches_the_droplet_and_the_bastion_logs_the_forward(client_config, sandbox, bastion):
    before = bastion.forwards().count(Forward(sandbox.host, sandbox.port))
    completed = ssh(client_config, "droplet", "hostname")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == sandbox.expected_hostname
    assert bastion.forwards().count(Forward(sandbox.host, sandbox.port)) == before + 1


def test_the_bastion_forwards_nowhere_else(client_config, sandbox, bastion):
    app_port = int(sandbox.health_url.split(":")[2].split("/")[0])
    completed = ssh(client_config, "-W", f"{sandbox.host}:{app_port}", "bastion")
    assert completed.returncode != 0
    assert "administratively prohibited" in completed.stderr
    assert Forward(sandbox.host, app_port) in bastion.denied()


def test_the_bastion_gives_no_shell(client_config):
    completed = ssh(client_config, "bastion", "id")
    assert completed.returncode == 1 and "uid=" not in completed.stdout
