"""OpenSSH client config → SSHTarget, and SSHTarget's own validation. No network."""

from __future__ import annotations

import dataclasses
import getpass
import os

import pytest

from hermes_ops.errors import ConfigError
from hermes_ops.ssh import SSHTarget, target_from_config_text, target_from_ssh_config
from hermes_ops.ssh.config import parse_jump_spec

CONFIG = """\
Host prod
    HostName 203.0.113.7
    Port 2222
    User core
    IdentityFile ~/.ssh/deploy_ed25519
    IdentityFile ~/.ssh/second
    ConnectTimeout 7
    ServerAliveInterval 4
    ServerAliveCountMax 5
    UserKnownHostsFile ~/.ssh/known_hosts_prod ~/.ssh/known_hosts2

Host inner
    HostName 10.0.0.5
    User app
    ProxyJump bastion

Host inner-explicit
    HostName 10.0.0.6
    ProxyJump ops@198.51.100.1:2200

Host bastion
    HostName 198.51.100.1
    User jumper
    Port 22022
    IdentityFile /keys/bastion

Host twohops
    ProxyJump bastion,other

Host viacommand
    ProxyCommand nc %h %p

Host nested
    ProxyJump inner

Host *.lab
    User labuser
    Port 2022

Host *
    User fallback
"""


def test_alias_resolves_to_a_full_target():
    target = target_from_config_text(CONFIG, "prod")
    assert target == SSHTarget(host="203.0.113.7", port=2222, user="core",
                               key_path=os.path.expanduser("~/.ssh/deploy_ed25519"),
                               known_hosts=os.path.expanduser("~/.ssh/known_hosts_prod"),
                               connect_timeout=7.0, keepalive_interval=4.0, keepalive_count_max=5, alias="prod")


def test_first_value_wins_and_patterns_apply():
    target = target_from_config_text(CONFIG, "box.lab")
    assert (target.host, target.port, target.user) == ("box.lab", 2022, "labuser")
    assert target.key_path is None  # no IdentityFile: ssh-agent will be used
    assert target.known_hosts == os.path.expanduser("~/.ssh/known_hosts")


def test_unknown_alias_is_the_host_itself():
    target = target_from_config_text("", "example.org")
    assert (target.host, target.port, target.user) == ("example.org", 22, getpass.getuser())


def test_proxyjump_through_an_alias_is_resolved_through_the_config():
    target = target_from_config_text(CONFIG, "inner", known_hosts="/etc/kh")
    assert (target.host, target.user) == ("10.0.0.5", "app")
    assert target.jump == SSHTarget(host="198.51.100.1", port=22022, user="jumper", key_path="/keys/bastion",
                                    known_hosts="/etc/kh", alias="bastion")


def test_proxyjump_with_user_and_port():
    jump = target_from_config_text(CONFIG, "inner-explicit").jump
    assert (jump.host, jump.port, jump.user) == ("198.51.100.1", 2200, "ops")


@pytest.mark.parametrize("alias, message", [
    ("twohops", "more than one hop"),
    ("viacommand", "ProxyCommand"),
    ("nested", "only one level"),
])
def test_unsupported_hops_are_refused(alias, message):
    with pytest.raises(ConfigError, match=message):
        target_from_config_text(CONFIG, alias)


@pytest.mark.parametrize("spec, expected", [
    ("bastion", (None, "bastion", None)),
    ("ops@bastion", ("ops", "bastion", None)),
    ("ops@bastion:2200", ("ops", "bastion", 2200)),
    ("ssh://ops@bastion:2200", ("ops", "bastion", 2200)),
    ("[2001:db8::1]:22", (None, "2001:db8::1", 22)),
])
def test_parse_jump_spec(spec, expected):
    assert parse_jump_spec(spec) == expected


def test_bad_numbers_are_config_errors():
    with pytest.raises(ConfigError, match="Port"):
        target_from_config_text("Host x\n  Port twenty\n", "x")


def test_overrides_win():
    assert target_from_config_text(CONFIG, "prod", port=2200).port == 2200


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        target_from_ssh_config("prod", str(tmp_path / "nope"))


def test_config_file_is_read(tmp_path):
    path = tmp_path / "config"
    path.write_text(CONFIG)
    assert target_from_ssh_config("prod", str(path)).host == "203.0.113.7"


def test_target_is_frozen_and_shows_where():
    target = SSHTarget(host="127.0.0.1", port=2222, user="core", key_path="/k", known_hosts="/kh",
                       connect_timeout=10, keepalive_interval=5)
    assert target.display == "core@127.0.0.1:2222"
    assert target.dead_after == 15
    with pytest.raises(dataclasses.FrozenInstanceError):
        target.port = 22


@pytest.mark.parametrize("fields", [
    {"host": ""}, {"host": "a b"}, {"port": 0}, {"port": 70000}, {"port": "22"}, {"user": ""},
    {"connect_timeout": 0}, {"keepalive_interval": -1}, {"keepalive_count_max": 0},
])
def test_target_validation(fields):
    values = {"host": "h", "user": "u", **fields}
    with pytest.raises(ConfigError) as caught:
        SSHTarget(**values)
    assert isinstance(caught.value, ValueError)


def test_only_one_jump_level():
    inner = SSHTarget(host="b", user="u", jump=SSHTarget(host="c", user="u"))
    with pytest.raises(ConfigError, match="one jump"):
        SSHTarget(host="a", user="u", jump=inner)
