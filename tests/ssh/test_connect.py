"""Connecting to real sshd instances: keys, agent, passphrases, host identity, config, jump host."""

from __future__ import annotations

import dataclasses
import socket
import threading

import paramiko
import pytest

from hermes_ops.errors import (
    AuthenticationFailed,
    ConfigError,
    ConnectionRefused,
    ConnectionTimedOut,
    HostKeyChanged,
    HostKeyUnknown,
)
from hermes_ops.ssh import (
    SSHRunner,
    connect,
    fetch_host_key,
    fingerprint,
    pin_host_key,
    target_from_ssh_config,
)

from .conftest import KEY_PASSPHRASE, TEST_USER, free_port


@pytest.mark.parametrize("key_name", ["ed25519", "ecdsa", "rsa"])
def test_login_with_each_key_type(sshd, known_hosts, client_keys, key_name):
    with connect(sshd.target(client_keys[key_name], known_hosts)) as runner:
        assert runner.run(["whoami"], timeout=20).stdout == f"{TEST_USER}\n"
        assert runner.connected
    assert not runner.connected


def test_one_transport_is_reused_for_every_command(sshd, known_hosts, client_keys):
    with connect(sshd.target(client_keys["ed25519"], known_hosts)) as runner:
        transport = runner._connection.transport
        ports = {runner.run_shell("echo $SSH_CLIENT", timeout=20).stdout.split()[1] for _ in range(5)}
        assert runner._connection.transport is transport
    assert len(ports) == 1  # every command came over the same TCP connection


def test_runner_connects_lazily_and_context_manager_closes_on_error(sshd, known_hosts, client_keys):
    runner = SSHRunner(sshd.target(client_keys["ed25519"], known_hosts))
    assert not runner.connected
    with pytest.raises(RuntimeError):
        with runner:
            runner.run(["true"], timeout=20)
            transport = runner._connection.transport
            raise RuntimeError("boom")
    assert not transport.is_active()


def test_key_from_ssh_agent(sshd, known_hosts, ssh_agent):
    with connect(sshd.target(None, known_hosts)) as runner:
        assert runner.run(["whoami"], timeout=20).stdout.strip() == TEST_USER


def test_no_key_and_no_agent_is_a_config_error(sshd, known_hosts, monkeypatch):
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    with pytest.raises(ConfigError, match="ssh-agent"):
        connect(sshd.target(None, known_hosts))


def test_wrong_key_is_refused_naming_the_key_offered(sshd, known_hosts, client_keys):
    with pytest.raises(AuthenticationFailed) as caught:
        connect(sshd.target(client_keys["wrong"], known_hosts))
    text = str(caught.value)
    key_fingerprint = fingerprint(paramiko.PKey.from_path(client_keys["wrong"]))
    assert client_keys["wrong"] in text and key_fingerprint in text
    assert f"{TEST_USER}@{sshd.address}:{sshd.port}" in text
    assert "authorized_keys" in text


def test_passphrase_from_environment(sshd, known_hosts, client_keys, monkeypatch):
    monkeypatch.setenv("HERMES_OPS_SSH_PASSPHRASE", KEY_PASSPHRASE)
    with connect(sshd.target(client_keys["protected"], known_hosts)) as runner:
        assert runner.run(["true"], timeout=20).ok


def test_passphrase_from_prompt_callback(sshd, known_hosts, client_keys, monkeypatch):
    monkeypatch.delenv("HERMES_OPS_SSH_PASSPHRASE", raising=False)
    asked = []
    with connect(sshd.target(client_keys["protected"], known_hosts),
                 passphrase_prompt=lambda path: asked.append(path) or KEY_PASSPHRASE) as runner:
        assert runner.run(["true"], timeout=20).ok
    assert asked == [client_keys["protected"]]


def test_missing_or_wrong_passphrase_fails_before_connecting(sshd, known_hosts, client_keys, monkeypatch):
    monkeypatch.delenv("HERMES_OPS_SSH_PASSPHRASE", raising=False)
    with pytest.raises(ConfigError, match="HERMES_OPS_SSH_PASSPHRASE"):
        connect(sshd.target(client_keys["protected"], known_hosts))
    monkeypatch.setenv("HERMES_OPS_SSH_PASSPHRASE", "not the passphrase")
    with pytest.raises(ConfigError, match="wrong passphrase") as caught:
        connect(sshd.target(client_keys["protected"], known_hosts))
    assert "not the passphrase" not in str(caught.value)


def test_unknown_host_is_refused_with_the_fingerprint_ssh_keygen_prints(sshd, client_keys, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(HostKeyUnknown) as caught:
        connect(sshd.target(client_keys["ed25519"], empty))
    assert caught.value.presented == sshd.fingerprint("ed25519")  # paramiko prefers ed25519
    assert sshd.fingerprint("ed25519") in str(caught.value)
    assert empty.read_text() == ""  # nothing was added behind our back


def test_hashed_known_hosts_from_ssh_keyscan(sshd, client_keys, tmp_path):
    hashed = sshd.known_hosts(tmp_path / "known_hosts", hashed=True)
    assert hashed.read_text().startswith("|1|")
    with connect(sshd.target(client_keys["ed25519"], hashed)) as runner:
        assert runner.run(["true"], timeout=20).ok


def test_host_pinned_by_rsa_key_only_is_accepted(sshd, client_keys, tmp_path):
    # paramiko would pick ed25519 first; the runner must ask for the pinned type.
    rsa_only = sshd.known_hosts(tmp_path / "known_hosts", key_types="rsa")
    with connect(sshd.target(client_keys["ed25519"], rsa_only)) as runner:
        assert runner._connection.transport.get_remote_server_key().get_name() == "ssh-rsa"


def test_fetch_then_pin_then_connect(sshd, client_keys, tmp_path):
    info = fetch_host_key(sshd.address, sshd.port, timeout=10)
    assert info.fingerprint == sshd.fingerprint("ed25519")
    known = tmp_path / "known_hosts"
    assert pin_host_key(str(known), sshd.address, sshd.port, info) is not None
    with connect(sshd.target(client_keys["ed25519"], known)) as runner:
        assert runner.run(["true"], timeout=20).ok
    rsa = fetch_host_key(sshd.address, sshd.port, key_type="ssh-rsa")
    assert rsa.fingerprint == sshd.fingerprint("rsa")


def test_changed_host_key_is_refused(own_sshd, client_keys, tmp_path):
    known = own_sshd.known_hosts(tmp_path / "known_hosts")
    old = own_sshd.fingerprint("ed25519")
    with connect(own_sshd.target(client_keys["ed25519"], known)) as runner:
        runner.run(["true"], timeout=20)
    own_sshd.stop()
    own_sshd.generate_host_keys()  # the host is "rebuilt"
    own_sshd.start()
    with pytest.raises(HostKeyChanged) as caught:
        connect(own_sshd.target(client_keys["ed25519"], known))
    error = caught.value
    assert error.key_type == "ssh-ed25519"
    assert error.presented == own_sshd.fingerprint("ed25519") != old
    assert any(old in pin for pin in error.pinned)
    assert old in str(error) and error.presented in str(error)


def test_ssh_config_alias(sshd, known_hosts, client_keys, tmp_path):
    config = tmp_path / "config"
    config.write_text(f"""\
Host deploy-target
    HostName {sshd.address}
    Port {sshd.port}
    User {TEST_USER}
    IdentityFile {client_keys['rsa']}
    UserKnownHostsFile {known_hosts}
    ConnectTimeout 5
    ServerAliveInterval 2
""")
    target = target_from_ssh_config("deploy-target", str(config))
    assert (target.alias, target.connect_timeout, target.keepalive_interval) == ("deploy-target", 5.0, 2.0)
    with connect(target) as runner:
        assert runner.run(["whoami"], timeout=20).stdout.strip() == TEST_USER


def test_jump_host_from_ssh_config(jump_pair, client_keys, tmp_path):
    bastion, target_sshd, isolated = jump_pair
    known = bastion.known_hosts(tmp_path / "known_hosts")
    # The target's key is pinned from its key file: a direct keyscan is blocked by design.
    target_key = paramiko.PKey.from_path(target_sshd.host_key("ed25519"))
    pin_host_key(str(known), target_sshd.address, target_sshd.port, target_key)
    config = tmp_path / "config"
    config.write_text(f"""\
Host bastion
    HostName {bastion.address}
    Port {bastion.port}
    User {TEST_USER}
    IdentityFile {client_keys['ed25519']}

Host inner
    HostName {target_sshd.address}
    Port {target_sshd.port}
    User {TEST_USER}
    IdentityFile {client_keys['ecdsa']}
    ProxyJump bastion
""")
    target = target_from_ssh_config("inner", str(config), known_hosts=str(known))
    if isolated:
        with pytest.raises(ConnectionRefused):
            connect(dataclasses.replace(target, jump=None))
    with connect(target) as runner:
        result = runner.run_shell("echo $SSH_CONNECTION", timeout=20)
        # sshd on the target sees a connection to its own address and port, from the bastion.
        assert result.stdout.split()[2:] == [target_sshd.address, str(target_sshd.port)]
        assert runner.run(["whoami"], timeout=20).stdout.strip() == TEST_USER


def test_connection_refused(client_keys, known_hosts):
    from hermes_ops.ssh import SSHTarget

    port = free_port()
    with pytest.raises(ConnectionRefused) as caught:
        connect(SSHTarget(host="127.0.0.1", port=port, user=TEST_USER, key_path=client_keys["ed25519"],
                          known_hosts=str(known_hosts)))
    assert f"127.0.0.1:{port}" in str(caught.value) and "sshd" in str(caught.value)


def test_silent_server_times_out_within_connect_timeout(client_keys, known_hosts):
    from hermes_ops.ssh import SSHTarget

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True)
    thread.start()
    try:
        with pytest.raises(ConnectionTimedOut):
            connect(SSHTarget(host="127.0.0.1", port=listener.getsockname()[1], user=TEST_USER,
                              key_path=client_keys["ed25519"], known_hosts=str(known_hosts), connect_timeout=1))
    finally:
        listener.close()
        for connection, _ in accepted:
            connection.close()


def test_rekey_limit_matches_openssh_for_aes(sshd, known_hosts, client_keys):
    # paramiko's own 512 MiB limit makes it start rekeys that can deadlock (paramiko #822).
    from hermes_ops.ssh.transport import AES_REKEY_BYTES

    with connect(sshd.target(client_keys["ed25519"], known_hosts)) as runner:
        transport = runner._connection.transport
        assert transport.remote_cipher.startswith("aes") and transport.local_cipher.startswith("aes")
        assert transport.packetizer.REKEY_BYTES == AES_REKEY_BYTES == 64 * 1024 ** 3
