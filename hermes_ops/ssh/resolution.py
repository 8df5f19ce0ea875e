"""Where a deploy connects and with which key: the parameters, the operator's OpenSSH config and ssh-agent, resolved before any connection.

The rules, in order (`DeployParameters` states them for operators):

1. **The sandbox** is `host` 127.0.0.1 or localhost, not named by the ssh config, with
   `key_path` and `known_hosts` both empty: the sandbox's own key and known_hosts, no
   agent unless `use_agent` is true. Nothing else ever gets the sandbox's key.
2. **An alias**: `host` is named by the ssh config (a `Host` pattern other than a bare `*`
   matches it; see `config.names_host`). HostName, Port, User, IdentityFile,
   UserKnownHostsFile and ProxyJump (one bastion) are read as `ssh HOST` reads them; a
   value the caller marks explicit wins. Without a User line the caller's user stays;
   without a Port line the port is 22, as for ssh.
3. **Otherwise** the parameters alone (a DNS name or address; the config is not consulted,
   so a `Host *` block changes nothing).

Keys: the key file (`key_path`, else the config's IdentityFile), which must exist; ssh-agent's
keys are offered too unless `use_agent` is false (None means yes, except for the sandbox). No
key file and no agent key is a ConfigError that names everything tried. known_hosts:
`known_hosts`, else the config's UserKnownHostsFile, else ~/.ssh/known_hosts. The bastion is
resolved the same way from its own Host entry, with the same known_hosts.

Everything here is local (a file read, one question to ssh-agent): no host is contacted.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import paramiko

from hermes_ops.errors import ConfigError
from hermes_ops.ssh import auth
from hermes_ops.ssh.config import aliases, has_include, names_host, read_config_text, target_from_config_text
from hermes_ops.ssh.target import DEFAULT_KNOWN_HOSTS, DEFAULT_PASSPHRASE_ENV, SSHTarget

LOOPBACK = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class Request:
    """The parameters that say where to connect. `explicit` names those the operator set (they beat the config)."""

    host: str
    port: int
    user: str
    key_path: str = ""
    known_hosts: str = ""
    ssh_config: str = "~/.ssh/config"
    ssh_config_required: bool = False
    use_agent: bool | None = None
    connect_timeout: float = 15.0
    passphrase_env: str = DEFAULT_PASSPHRASE_ENV
    sandbox_key: str = ""
    sandbox_known_hosts: str = ""
    explicit: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Resolution:
    """The target to connect to, and where it came from (for step 1/2's account and the record)."""

    target: SSHTarget
    sandbox: bool           # the sandbox's key and known_hosts were filled in (rule 1)
    alias: str | None       # the ssh config Host the target came from
    config_file: str | None  # the ssh config file read (None: none)
    aliases: tuple[str, ...] = ()  # the literal Host names the config gives (for "did you mean")
    include: bool = False   # the config has Include lines, which are not followed

    @property
    def agent(self) -> bool:
        """Are ssh-agent keys offered (to the target or the bastion)?"""
        return any(hop is not None and (hop.key_path is None or hop.use_agent)
                   for hop in (self.target, self.target.jump))

    def route(self) -> str:
        """`user@host:port`, with the alias and bastion it goes through: what step 2 prints."""
        text = self.target.display
        if self.alias:
            text += f" (Host {self.alias} in {_home_relative(self.config_file)})"
        if self.target.jump is not None:
            text += f" via bastion {self.target.jump.display}"
            if self.target.jump.alias and self.target.jump.alias != self.target.jump.host:
                text += f" (Host {self.target.jump.alias})"
        return text

    def to_record(self) -> dict:
        jump = self.target.jump
        return {"target": self.target.display, "alias": self.alias, "ssh_config": self.config_file,
                "bastion": jump.display if jump is not None else None, "sandbox_defaults": self.sandbox,
                "agent": self.agent}


def _home_relative(path: str | None) -> str | None:
    """`~/.ssh/config` rather than /home/ana/.ssh/config: how the operator knows the file."""
    home = os.path.expanduser("~")
    if path and home not in ("", "/") and path.startswith(home.rstrip("/") + "/"):
        return "~" + path[len(home.rstrip("/")):]
    return path


def resolve(request: Request, *, check_keys: bool = True) -> Resolution:
    """The `Resolution` for `request` (see the module docstring for the rules).

    `check_keys`: also prove a key is available for every hop (the key file exists, or
    ssh-agent holds a key): what the parameters check does before anything runs.

    Raises:
        ConfigError: the config file is required and missing, unsafe or unparsable; it asks
            for ProxyCommand or more than one hop; no key is available for a hop; a key
            file is missing.
    """
    try:
        text = read_config_text(request.ssh_config, required=request.ssh_config_required)
        config_file = None if text is None else os.path.expanduser(request.ssh_config)
        named = text is not None and names_host(text, request.host)
        sandbox = request.host in LOOPBACK and not named and not request.key_path and not request.known_hosts
        allow_agent = request.use_agent if request.use_agent is not None else not sandbox
        if sandbox:
            target = _plain(request, request.sandbox_key, request.sandbox_known_hosts, allow_agent)
        elif named:
            target = _from_config(request, text, allow_agent)
        else:
            target = _plain(request, request.key_path or None, request.known_hosts or DEFAULT_KNOWN_HOSTS,
                            allow_agent)
        resolution = Resolution(target, sandbox, request.host if named else None, config_file,
                                tuple(aliases(text)) if text is not None else (),
                                text is not None and has_include(text))
    except ConfigError as error:
        raise _before_anything_ran(error) from None
    if check_keys:
        require_keys(resolution, request)
    return resolution


def require_keys(resolution: Resolution, request: Request) -> None:
    """Prove a key is available for every hop: each key file exists, or ssh-agent holds a key.

    Raises:
        ConfigError: naming, for the hop that has none, everything that was tried.
    """
    allow_agent = request.use_agent if request.use_agent is not None else not resolution.sandbox
    try:
        _check_keys(resolution, request, allow_agent)
    except ConfigError as error:
        raise _before_anything_ran(error) from None


def _before_anything_ran(error: ConfigError) -> ConfigError:
    error.step = error.step or "parameters"
    if error.hint and "nothing was run" not in error.hint:
        error.hint += "; nothing was run"
    return error


def _plain(request: Request, key_path: str | None, known_hosts: str, allow_agent: bool) -> SSHTarget:
    return SSHTarget(host=request.host, port=request.port, user=request.user, key_path=key_path,
                     known_hosts=known_hosts, connect_timeout=request.connect_timeout,
                     passphrase_env=request.passphrase_env, use_agent=allow_agent and key_path is not None)


def _from_config(request: Request, text: str, allow_agent: bool) -> SSHTarget:
    options = _options(text, request.host)
    overrides = {"passphrase_env": request.passphrase_env}
    if "port" in request.explicit:
        overrides["port"] = request.port
    if "user" in request.explicit or "user" not in options:
        overrides["user"] = request.user
    if "connect_timeout" in request.explicit or "connecttimeout" not in options:
        overrides["connect_timeout"] = request.connect_timeout
    if request.key_path:
        overrides["key_path"] = request.key_path
    target = target_from_config_text(text, request.host, known_hosts=request.known_hosts or None, **overrides)
    target = dataclasses.replace(target, use_agent=allow_agent and target.key_path is not None)
    if target.jump is not None:  # its user is OpenSSH's: the ProxyJump's user@, its own User, else yours
        jump = dataclasses.replace(target.jump, passphrase_env=request.passphrase_env,
                                   use_agent=allow_agent and target.jump.key_path is not None)
        target = dataclasses.replace(target, jump=jump)
    return target


def _options(text: str, host: str) -> dict:
    try:
        return paramiko.SSHConfig.from_text(text).lookup(host)
    except Exception as error:  # target_from_config_text reports the same failure with more context
        raise ConfigError(f"cannot evaluate the ssh config for {host}: {error}", step="parameters") from error


def _check_keys(resolution: Resolution, request: Request, allow_agent: bool) -> None:
    if resolution.sandbox:  # its key is made by `hermes-ops sandbox up`; step 1 says so if it is missing
        return
    agent = None
    for hop, what in ((resolution.target, "the host"), (resolution.target.jump, "the bastion")):
        if hop is None:
            continue
        if hop.key_path is not None:
            if not os.path.isfile(hop.key_path):
                origin = "key_path" if request.key_path and hop is resolution.target else \
                    f"the IdentityFile of Host {hop.alias} in {resolution.config_file}"
                raise ConfigError(f"no private key at {hop.key_path} ({origin}), for {hop.display}",
                                  step="parameters",
                                  hint=f"fix {origin.split(' in ')[0]}, or leave the key to ssh-agent "
                                       "(key_path empty, no IdentityFile); nothing was run")
            continue
        if allow_agent:
            agent = agent or auth.agent_keys()
            if agent.keys:
                continue
        raise ConfigError(f"no key for {hop.user}@{hop.alias or hop.host}"
                          + (" (the bastion)" if what == "the bastion" else "") + ": "
                          + ", ".join(_tried(resolution, request, hop, allow_agent, agent)),
                          step="parameters",
                          hint="set key_path, add an IdentityFile to the host's entry in the ssh config, or start "
                               "ssh-agent and `ssh-add` your key (then export SSH_AUTH_SOCK); nothing was run")


def _tried(resolution: Resolution, request: Request, hop: SSHTarget, allow_agent: bool,
           agent: auth.AgentKeys | None) -> list[str]:
    tried = ["key_path is empty"] if hop is resolution.target else []
    shown = request.ssh_config
    if resolution.config_file is None:
        tried.append("no ssh config is read (ssh_config: none)" if request.ssh_config.strip().lower() == "none"
                     else f"{shown} does not exist")
    elif resolution.alias is None:
        tried.append(f"{shown} has no Host entry for {request.host}")
    else:
        tried.append(f"{shown} names no IdentityFile" + ("" if hop is resolution.target else f" for {hop.alias}"))
    tried.append(agent.status if allow_agent and agent is not None else "use_agent is false")
    return tried
