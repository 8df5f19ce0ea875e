"""Reading an OpenSSH client config (`~/.ssh/config`) into an `SSHTarget`.

So an operator's existing `ssh prod` alias works unchanged: Host aliases and patterns,
HostName, Port, User, IdentityFile, ProxyJump (one bastion, itself possibly an alias),
ConnectTimeout, ServerAliveInterval / ServerAliveCountMax and UserKnownHostsFile are
honoured; matching, first-value-wins and `%h`/`~` expansion are paramiko's `SSHConfig`.

Deliberately not honoured: StrictHostKeyChecking (hermes-ops is always strict),
ProxyCommand and multi-hop ProxyJump (refused with a ConfigError rather than silently
connecting some other way), Include. Only the first IdentityFile is used.

`names_host` answers a question OpenSSH never asks: does the config *name* a host (a
`Host` pattern other than the catch-all `*` matches it)? The deploy parameters use it to
tell an alias from a plain address, so a `Host *` block never turns the sandbox, or a
production address given as such, into something else.
"""

from __future__ import annotations

import fnmatch
import getpass
import os
import re

import paramiko

from hermes_ops.errors import ConfigError
from hermes_ops.ssh.strictmodes import read_trusted_text
from hermes_ops.ssh.target import DEFAULT_KNOWN_HOSTS, SSHTarget

DEFAULT_CONFIG = "~/.ssh/config"
NO_CONFIG = "none"  # as `ssh -F none`: read no config file at all
MAX_CONFIG_BYTES = 1024 * 1024


def read_config_text(config_path: str, *, required: bool) -> str | None:
    """The text of the OpenSSH client config at `config_path`, checked like OpenSSH checks it.

    None when `config_path` is `none`, or the file is missing and not `required` (the default
    ~/.ssh/config need not exist). Like ssh, a config that group or others can write (or
    owned by someone else) is refused: it decides where a production deploy connects.

    Raises:
        ConfigError: a required file is missing, the file is unsafe, unreadable or too large.
    """
    if config_path.strip().lower() == NO_CONFIG:
        return None
    path = os.path.expanduser(config_path)
    text = read_trusted_text(path, what="ssh config file", trusted="where it sends connections")
    if text is None:
        if required:
            raise ConfigError(f"ssh config file {path} does not exist",
                              hint="fix ssh_config in the parameters (or leave it at ~/.ssh/config; `none` reads "
                                   "no config); nothing was run")
        return None
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(f"ssh config file {path} is larger than {MAX_CONFIG_BYTES} bytes", hint="check ssh_config")
    return text


def host_patterns(text: str) -> list[list[str]]:
    """The patterns of each `Host` line of a config, in order (Match blocks are not Host lines)."""
    blocks = []
    for line in text.splitlines():
        match = re.match(r"\s*host(?:\s*=\s*|\s+)(.*)$", line, re.IGNORECASE)
        if match and not line.lstrip().startswith("#"):
            blocks.append([word.strip('"') for word in match.group(1).split() if word.strip('"')])
    return blocks


def _matches(patterns: list[str], host: str) -> bool:
    """OpenSSH's Host matching: a negated pattern that matches wins; else any positive pattern."""
    name = host.lower()
    positive = False
    for pattern in patterns:
        if pattern.startswith("!"):
            if fnmatch.fnmatchcase(name, pattern[1:].lower()):
                return False
        elif fnmatch.fnmatchcase(name, pattern.lower()):
            positive = True
    return positive


def names_host(text: str, host: str) -> bool:
    """Does the config name `host`: does a Host pattern other than a bare `*` match it (and no `!` on its line)?"""
    return any(_matches(patterns, host) and _matches([pattern for pattern in patterns if pattern != "*"], host)
               for patterns in host_patterns(text))


def has_include(text: str) -> bool:
    """Does the config use Include (which paramiko, and so hermes-ops, does not follow)?"""
    return any(re.match(r"\s*include(?:\s*=\s*|\s+)\S", line, re.IGNORECASE) for line in text.splitlines())


def aliases(text: str) -> list[str]:
    """The literal names (no wildcards, no negation) the config's Host lines give, for "did you mean"."""
    return [pattern for patterns in host_patterns(text) for pattern in patterns
            if not pattern.startswith("!") and not any(char in pattern for char in "*?[")]


def target_from_ssh_config(alias: str, config_path: str = DEFAULT_CONFIG, *, known_hosts: str | None = None,
                           **overrides) -> SSHTarget:
    """The `SSHTarget` that `ssh <alias>` would connect to, per the config file at `config_path`.

    `known_hosts` (else the config's UserKnownHostsFile, else ~/.ssh/known_hosts) is used for
    the target and the bastion; `overrides` are other `SSHTarget` fields to set on the target.

    Raises:
        ConfigError: the file is missing, or the config asks for something unsupported.
    """
    path = os.path.expanduser(config_path)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise ConfigError(f"ssh config file {path} does not exist", hint="check config_path") from None
    return target_from_config_text(text, alias, known_hosts=known_hosts, **overrides)


def target_from_config_text(text: str, alias: str, *, known_hosts: str | None = None, **overrides) -> SSHTarget:
    """Like `target_from_ssh_config`, from the config's text (no file access)."""
    try:
        config = paramiko.SSHConfig.from_text(text)
    except Exception as error:
        raise ConfigError(f"cannot parse the ssh config: {error}") from error
    options = _lookup(config, alias)
    known_hosts = known_hosts or _first_word(options.get("userknownhostsfile")) or DEFAULT_KNOWN_HOSTS
    jump = None
    spec = options.get("proxyjump")
    if spec and spec.lower() != "none":
        jump = _jump_target(config, spec, alias, known_hosts)
    return _target(alias, options, known_hosts, jump=jump, **overrides)


def _lookup(config: paramiko.SSHConfig, alias: str) -> dict:
    if not alias or any(char.isspace() for char in alias):
        raise ConfigError(f"invalid host alias {alias!r}")
    try:
        options = config.lookup(alias)
    except Exception as error:  # e.g. `Match exec`, which paramiko runs through invoke
        raise ConfigError(f"cannot evaluate the ssh config for {alias}: {error}") from error
    command = options.get("proxycommand")
    if command and command.lower() != "none":
        raise ConfigError(f"{alias}: ProxyCommand is not supported", hint="use ProxyJump through one bastion")
    return options


def _target(alias: str, options: dict, known_hosts: str, *, jump: SSHTarget | None, **overrides) -> SSHTarget:
    fields = {
        "host": options.get("hostname", alias),
        "port": _integer(options.get("port", "22"), "Port", alias),
        "user": options.get("user") or getpass.getuser(),
        "key_path": (options.get("identityfile") or [None])[0],
        "known_hosts": known_hosts,
        "jump": jump,
        "alias": alias,
    }
    if "connecttimeout" in options:
        fields["connect_timeout"] = float(_integer(options["connecttimeout"], "ConnectTimeout", alias))
    interval = _integer(options.get("serveraliveinterval", "0"), "ServerAliveInterval", alias)
    if interval > 0:
        fields["keepalive_interval"] = float(interval)
    if "serveralivecountmax" in options:
        fields["keepalive_count_max"] = _integer(options["serveralivecountmax"], "ServerAliveCountMax", alias)
    fields.update(overrides)
    return SSHTarget(**fields)


def _jump_target(config: paramiko.SSHConfig, spec: str, alias: str, known_hosts: str) -> SSHTarget:
    if "," in spec:
        raise ConfigError(f"{alias}: ProxyJump {spec!r} has more than one hop; only one bastion is supported",
                          hint="jump through a single bastion")
    user, host, port = parse_jump_spec(spec)
    options = _lookup(config, host)
    nested = options.get("proxyjump")
    if nested and nested.lower() != "none":
        raise ConfigError(f"{alias}: the bastion {host} has its own ProxyJump; only one level is supported")
    overrides = {}
    if user:
        overrides["user"] = user
    if port:
        overrides["port"] = port
    return _target(host, options, known_hosts, jump=None, **overrides)


def parse_jump_spec(spec: str) -> tuple[str | None, str, int | None]:
    """Split a ProxyJump hop `[user@]host[:port]` (or `ssh://[user@]host[:port]`) into its parts."""
    text = spec.strip()
    if text.startswith("ssh://"):
        text = text[len("ssh://"):]
    match = re.fullmatch(r"(?:(?P<user>[^@\s]+)@)?(?:\[(?P<ipv6>[^\]]+)\]|(?P<host>[^:@\s\[\]]+))(?::(?P<port>\d+))?",
                         text)
    if not match:
        raise ConfigError(f"cannot parse ProxyJump {spec!r}", hint="use [user@]host[:port]")
    port = int(match.group("port")) if match.group("port") else None
    return match.group("user"), match.group("ipv6") or match.group("host"), port


def _integer(value: str, name: str, alias: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{alias}: {name} {value!r} is not a number") from None


def _first_word(value) -> str | None:
    if not value:
        return None
    words = value if isinstance(value, list) else str(value).split()
    return words[0] if words else None
