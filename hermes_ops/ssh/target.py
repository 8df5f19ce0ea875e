"""`SSHTarget`: everything needed to reach one host, as a frozen value.

A target is plain data (no sockets, no callbacks, no secrets), so it can be a notebook
parameter, be built from an OpenSSH config file, be compared and be printed. The key's
passphrase is deliberately not a field: it comes from the environment variable named
by `passphrase_env` or from a prompt callback given to the runner.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field

from hermes_ops.errors import ConfigError

DEFAULT_PASSPHRASE_ENV = "HERMES_OPS_SSH_PASSPHRASE"
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"


@dataclass(frozen=True)
class SSHTarget:
    """Where and how to connect.

    Attributes:
        host: hostname or address to connect to.
        port: sshd's port.
        user: the remote login (default: the local user name, as ssh does).
        key_path: a private key file (ed25519, ecdsa or rsa; OpenSSH or PEM format).
            When None, the keys held by ssh-agent (`SSH_AUTH_SOCK`) are offered instead.
        known_hosts: the known_hosts file the host key is checked against; unknown or
            changed keys are refused.
        connect_timeout: seconds for TCP connect, banner, key exchange and authentication.
        keepalive_interval: seconds of silence after which the connection is probed; a
            connection silent for `keepalive_interval * keepalive_count_max` seconds is
            declared lost (like OpenSSH's ServerAliveInterval / ServerAliveCountMax).
        keepalive_count_max: see `keepalive_interval`.
        use_agent: also offer ssh-agent keys when `key_path` is set (after the key file).
        passphrase_env: the environment variable holding the key's passphrase, if any.
        jump: a bastion to go through (OpenSSH's ProxyJump); at most one level.
        alias: the name the operator knows the host by (an ssh config `Host`), for messages.
    """

    host: str
    port: int = 22
    user: str = field(default_factory=getpass.getuser)
    key_path: str | None = None
    known_hosts: str = DEFAULT_KNOWN_HOSTS
    connect_timeout: float = 10.0
    keepalive_interval: float = 5.0
    keepalive_count_max: int = 3
    use_agent: bool = False
    passphrase_env: str = DEFAULT_PASSPHRASE_ENV
    jump: SSHTarget | None = None
    alias: str | None = None

    def __post_init__(self):
        if not self.host or any(char.isspace() for char in self.host):
            raise ConfigError(f"invalid host name {self.host!r}", hint="give a hostname or an IP address")
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise ConfigError(f"invalid port {self.port!r} for {self.host}", hint="use a port between 1 and 65535")
        if not self.user:
            raise ConfigError(f"no user given for {self.host}", hint="set SSHTarget.user")
        for name in ("connect_timeout", "keepalive_interval"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, not {getattr(self, name)!r}")
        if not isinstance(self.keepalive_count_max, int) or self.keepalive_count_max < 1:
            raise ConfigError(f"keepalive_count_max must be a positive integer, not {self.keepalive_count_max!r}")
        if self.jump is not None and self.jump.jump is not None:
            raise ConfigError("only one jump host is supported",
                              hint="connect through a single bastion (ProxyJump with one hop)")
        for name in ("key_path", "known_hosts"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, os.path.expanduser(os.fspath(value)))

    @property
    def display(self) -> str:
        """`user@host:port`, the form used in messages and results."""
        return f"{self.user}@{self.host}:{self.port}"

    @property
    def dead_after(self) -> float:
        """Seconds of silence after which a connection is declared lost."""
        return self.keepalive_interval * self.keepalive_count_max
