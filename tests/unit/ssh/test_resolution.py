"""Where a deploy connects: parameters + ssh config + ssh-agent → SSHTarget. Files only, no network, no agent.

OpenSSH is the judge of what a config says (`ssh -G`, which prints the options ssh would use
and connects nowhere): for every alias below, our HostName, Port, User, first IdentityFile and
ProxyJump must be its.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from hermes_ops.errors import ConfigError
from hermes_ops.ssh import TargetRequest, require_keys, resolve_target
from hermes_ops.ssh.config import aliases, names_host, read_config_text


@pytest.fixture
def no_agent(monkeypatch):
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)


@pytest.fixture
def setup(tmp_path):
    """A config with a production alias, a bastion, a wildcard block and a ProxyCommand; the keys it names."""
    key = tmp_path / "id_prod"
    key.write_text("not parsed here\n")
    bastion_key = tmp_path / "id_bastion"
    bastion_key.write_text("not parsed here\n")
    config = tmp_path / "config"
    config.write_text(f"""\
Host prod
    HostName 203.0.113.7
    Port 2200
    User deployer
    IdentityFile {key}
    UserKnownHostsFile {tmp_path}/known_hosts_prod

Host prod-agent
    HostName 203.0.113.8

Host inner
    HostName 10.0.0.5
    User core
    IdentityFile {key}
    ProxyJump jump@gate:2201

Host gate
    HostName 198.51.100.1
    IdentityFile {bastion_key}

Host sneaky
    ProxyCommand nc %h %p

Host *.example.com !bad.example.com
    User web

Host *
    User everyone
    IdentityFile {tmp_path}/id_everyone
""")
    config.chmod(0o600)
    return tmp_path, config, key


def request(config, **values) -> TargetRequest:
    fields = {"host": "127.0.0.1", "port": 2222, "user": "core", "ssh_config": str(config),
              "sandbox_key": "/sandbox/keys/operator_ed25519", "sandbox_known_hosts": "/sandbox/keys/known_hosts"}
    fields.update(values)
    return TargetRequest(**fields)


def test_an_alias_takes_hostname_port_user_key_and_known_hosts_from_the_config(setup, no_agent):
    tmp_path, config, key = setup
    resolution = resolve_target(request(config, host="prod"))
    target = resolution.target
    assert (target.host, target.port, target.user, target.key_path) == ("203.0.113.7", 2200, "deployer", str(key))
    assert target.known_hosts == f"{tmp_path}/known_hosts_prod"
    assert (resolution.alias, resolution.sandbox, resolution.config_file) == ("prod", False, str(config))
    assert resolution.route() == f"deployer@203.0.113.7:2200 (Host prod in {config})"


def test_explicit_parameters_win_over_the_config(setup, no_agent):
    tmp_path, config, _ = setup
    other = tmp_path / "id_other"
    other.write_text("x")
    target = resolve_target(request(config, host="prod", port=22, user="ops", key_path=str(other),
                                    known_hosts=str(tmp_path / "kh"), explicit=frozenset({"port", "user"}))).target
    assert (target.port, target.user, target.key_path, target.known_hosts) == (22, "ops", str(other),
                                                                                str(tmp_path / "kh"))


def test_an_alias_without_user_or_port_keeps_the_user_and_takes_openssh_port(setup, monkeypatch, tmp_path):
    _, config, _ = setup
    sock = tmp_path / "agent.sock"  # the agent is asked only when keys are checked
    monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
    target = resolve_target(request(config, host="prod-agent"), check_keys=False).target
    # `Host *` says User everyone: OpenSSH applies it too, and it is not a parameter the operator set.
    assert (target.host, target.port, target.user) == ("203.0.113.8", 22, "everyone")


def test_a_proxyjump_resolves_the_bastion_from_its_own_entry(setup, no_agent):
    tmp_path, config, key = setup
    resolution = resolve_target(request(config, host="inner"))
    jump = resolution.target.jump
    assert (jump.host, jump.port, jump.user, jump.key_path) == ("198.51.100.1", 2201, "jump",
                                                                 str(tmp_path / "id_bastion"))
    assert jump.known_hosts == resolution.target.known_hosts
    assert resolution.route() == f"core@10.0.0.5:22 (Host inner in {config}) via bastion jump@198.51.100.1:2201 (Host gate)"
    assert resolution.to_record()["bastion"] == "jump@198.51.100.1:2201"


def test_the_sandbox_is_loopback_with_nothing_set_and_nothing_else_is(setup, no_agent):
    tmp_path, config, _ = setup
    sandbox = resolve_target(request(config))
    assert sandbox.sandbox and sandbox.target.key_path == "/sandbox/keys/operator_ed25519"
    assert sandbox.target.known_hosts == "/sandbox/keys/known_hosts" and not sandbox.agent
    assert sandbox.target.user == "core"  # `Host *` (User everyone) does not touch the sandbox
    # loopback with its own known_hosts: not the sandbox, so no sandbox key, ever
    with pytest.raises(ConfigError) as caught:
        resolve_target(request(config, known_hosts=str(tmp_path / "kh")))
    assert "no key for core@127.0.0.1" in str(caught.value) and "/sandbox" not in str(caught.value)


def test_an_alias_pointing_at_loopback_is_not_the_sandbox(tmp_path, no_agent):
    config = tmp_path / "config"
    config.write_text("Host localhost\n    Port 2322\n")
    with pytest.raises(ConfigError) as caught:
        resolve_target(request(config, host="localhost"))
    error = caught.value
    assert error.step == "parameters"
    assert str(error).splitlines()[0] == (
        f"[step parameters] no key for core@localhost: key_path is empty, {config} names no IdentityFile, "
        "ssh-agent is not running (SSH_AUTH_SOCK unset)")
    assert "nothing was run" in error.hint


def test_no_key_names_everything_tried(tmp_path, no_agent, monkeypatch):
    missing = tmp_path / "missing-config"
    with pytest.raises(ConfigError) as caught:
        resolve_target(request(missing, host="203.0.113.9"))
    assert f"key_path is empty, {missing} does not exist, ssh-agent is not running" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        resolve_target(request("none", host="203.0.113.9", use_agent=False))
    assert "no ssh config is read (ssh_config: none), use_agent is false" in str(caught.value)
    monkeypatch.setenv("SSH_AUTH_SOCK", str(tmp_path / "gone.sock"))
    with pytest.raises(ConfigError) as caught:
        resolve_target(request("none", host="203.0.113.9"))
    assert f"SSH_AUTH_SOCK={tmp_path / 'gone.sock'} does not exist" in str(caught.value)


def test_a_missing_identity_file_is_refused_naming_it(setup, no_agent):
    tmp_path, config, key = setup
    key.unlink()
    with pytest.raises(ConfigError) as caught:
        resolve_target(request(config, host="prod"))
    assert f"no private key at {key} (the IdentityFile of Host prod in {config})" in str(caught.value)


def test_keys_are_checked_only_when_asked(setup, no_agent):
    _, config, key = setup
    key.unlink()
    resolution = resolve_target(request(config, host="prod"), check_keys=False)
    with pytest.raises(ConfigError):
        require_keys(resolution, request(config, host="prod"))


def test_proxycommand_is_refused_before_anything_runs(setup, no_agent):
    _, config, _ = setup
    with pytest.raises(ConfigError) as caught:
        resolve_target(request(config, host="sneaky"))
    assert "ProxyCommand is not supported" in str(caught.value) and caught.value.step == "parameters"


def test_a_required_config_must_exist_and_the_default_may_be_missing(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        read_config_text(str(tmp_path / "nope"), required=True)
    assert read_config_text(str(tmp_path / "nope"), required=False) is None
    assert read_config_text("none", required=True) is None


def test_a_config_others_can_write_is_refused_like_openssh_does(setup):
    _, config, _ = setup
    config.chmod(0o622)
    with pytest.raises(ConfigError, match="writable by group or others"):
        read_config_text(str(config), required=False)


@pytest.mark.parametrize("host, named", [
    ("prod", True), ("PROD", True), ("prodd", False), ("203.0.113.7", False), ("www.example.com", True),
    ("bad.example.com", False), ("127.0.0.1", False), ("gate", True),
])
def test_names_host_ignores_the_catch_all(setup, host, named):
    _, config, _ = setup
    assert names_host(config.read_text(), host) is named


def test_aliases_are_the_literal_host_names():
    assert aliases("Host a b *.c !d\nHost *\n  Host e\nMatch host f\n") == ["a", "b", "e"]


@pytest.mark.skipif(shutil.which("ssh") is None, reason="needs OpenSSH's ssh")
@pytest.mark.parametrize("alias", ["prod", "inner", "gate", "prod-agent", "www.example.com"])
def test_openssh_reads_the_config_as_we_do(setup, alias, monkeypatch):
    """`ssh -G` prints what ssh would use (and connects nowhere); our resolution must agree."""
    tmp_path, config, _ = setup
    monkeypatch.setenv("SSH_AUTH_SOCK", str(tmp_path / "no-agent"))
    completed = subprocess.run(["ssh", "-G", "-F", str(config), alias], capture_output=True, text=True,
                               timeout=10, check=True)
    openssh: dict[str, list[str]] = {}
    for line in completed.stdout.splitlines():
        key, _, value = line.partition(" ")
        openssh.setdefault(key, []).append(value)
    target = resolve_target(request(config, host=alias), check_keys=False).target
    assert target.host == openssh["hostname"][0]
    assert target.port == int(openssh["port"][0])
    assert target.user == openssh["user"][0]
    assert target.key_path == os.path.expanduser(openssh["identityfile"][0])
    jump = openssh.get("proxyjump", ["none"])[0]
    assert (target.jump is None) == (jump == "none")
    if target.jump is not None:
        assert jump == "jump@gate:2201" and (target.jump.user, target.jump.port) == ("jump", 2201)
