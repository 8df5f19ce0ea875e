"""Pinning a host key the safe way: fetch it from the host, a human confirms it, pin only that key.

`fetch_host_key` asks the host for its key over the network without trusting it; a human
compares its fingerprint with what the host's console says; `pin_host_key` writes the
confirmed key to a known_hosts file (checked by `hostkeys` on every connection). Nothing
here is ever called on the way to a deploy: unknown hosts are refused, never added.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import paramiko

from hermes_ops.errors import ConfigError, HostKeyChanged
from hermes_ops.ssh.hostkeys import (
    algorithms_for_type,
    entries_for,
    fingerprint,
    host_key_name,
    known_hosts_line,
    lookup_name,
    read_known_hosts,
    revoked_entries,
)
from hermes_ops.ssh.sockets import open_socket
from hermes_ops.ssh.target import SSHTarget
from hermes_ops.ssh.transport import new_transport, open_connection, start_client, tunnel


@dataclass(frozen=True)
class HostKeyInfo:
    """A host key as fetched from the host, for a human to confirm before pinning."""

    host: str
    port: int
    key: paramiko.PKey

    @property
    def key_type(self) -> str:
        return self.key.get_name()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.key)

    def known_hosts_line(self, *, hashed: bool = False) -> str:
        return known_hosts_line(self.host, self.port, self.key, hashed=hashed)

    def __str__(self) -> str:
        return f"{host_key_name(self.host, self.port)} {self.key_type} {self.fingerprint}"


def fetch_host_key(host: str, port: int = 22, *, timeout: float = 10.0,
                   key_type: str | None = None, via: SSHTarget | None = None) -> HostKeyInfo:
    """Ask host:port for its host key, without authenticating and without trusting it.

    Show `str(info)` (the fingerprint) to a human, who compares it with what the host's
    console says (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`) before calling
    `pin_host_key`. `key_type` asks for a specific algorithm (e.g. "ssh-rsa"). `via` is a
    bastion (a resolved ProxyJump, e.g. `DeployParameters.ssh_target().jump`) for a host
    reachable only through it: the bastion itself is verified and authenticated as on
    every connection (its key must already be pinned); only the host's key is fetched untrusted.

    Raises:
        ConnectionFailed (and subclasses) if sshd (or the bastion) cannot be reached; the
        bastion's HostKeyUnknown / AuthenticationFailed / ConfigError.
    """
    bastion = open_connection(via) if via is not None else None
    try:
        sock = tunnel(bastion.transport, SSHTarget(host=host, port=port, user=via.user, jump=via,
                                                   connect_timeout=timeout)) \
            if bastion is not None else open_socket(host, port, timeout)
        return _fetch(sock, host, port, timeout, key_type)
    finally:
        if bastion is not None:
            bastion.close()


def pinning_route(host: str, port: int = 22, *,
                  ssh_config: str = "~/.ssh/config") -> tuple[str, int, SSHTarget | None]:
    """Where to fetch `host`'s key from: (address, port, bastion), reading an ssh config alias as ssh does.

    For a Host alias of `ssh_config`: its HostName and Port (the names known_hosts pins, as
    OpenSSH checks them) and its ProxyJump bastion (resolved, key from IdentityFile or
    ssh-agent; its own host key must already be pinned). Anything else: (host, port, None).
    A missing default config is fine; an explicitly named one must exist.

    Raises:
        ConfigError: the config is unsafe or asks for ProxyCommand or more than one hop.
    """
    from hermes_ops.ssh.config import DEFAULT_CONFIG, names_host, read_config_text, target_from_config_text

    text = read_config_text(ssh_config, required=ssh_config != DEFAULT_CONFIG)
    if text is None or not names_host(text, host):
        return host, port, None
    target = target_from_config_text(text, host)
    return target.host, target.port, target.jump


def _fetch(sock, host: str, port: int, timeout: float, key_type: str | None) -> HostKeyInfo:
    transport = new_transport(sock)
    try:
        if key_type:
            options = transport.get_security_options()
            wanted = algorithms_for_type(key_type)
            options.key_types = [name for name in options.key_types if name in wanted] or list(wanted)
        start_client(transport, timeout, hostname=host, port=port)
        return HostKeyInfo(host=host, port=port, key=transport.get_remote_server_key())
    finally:
        transport.close()


def pin_host_key(known_hosts: str, host: str, port: int, key: paramiko.PKey | HostKeyInfo, *,
                 hashed: bool = False, replace: bool = False) -> str | None:
    """Pin a confirmed host key in a known_hosts file (created 0600 if missing).

    Idempotent: returns None if exactly this key is already pinned, else the line written.
    A different key of the same type already pinned is a `HostKeyChanged` unless
    `replace=True`, which removes the old entries of that type for this host first.
    """
    if isinstance(key, HostKeyInfo):
        key = key.key
    path = os.path.expanduser(known_hosts)
    entries = read_known_hosts(path)
    pinned = entries_for(entries, host, port)
    blob = key.asbytes()
    revoked = revoked_entries(entries, host_key_name(host, port), blob)
    if revoked:
        raise HostKeyChanged(f"the key {fingerprint(blob)} is marked @revoked for {host_key_name(host, port)}: "
                             "not pinned", presented=fingerprint(blob), key_type=key.get_name(),
                             pinned=[entry.describe() for entry in revoked], known_hosts=path, hostname=host,
                             port=port, hint="ask the host's administrator which key is current")
    if any(entry.key_blob == blob for entry in pinned):
        return None
    stale = [entry for entry in pinned if entry.key_type == key.get_name()]
    if stale and not replace:
        raise HostKeyChanged(f"{host_key_name(host, port)} already has a different {key.get_name()} key pinned",
                             presented=fingerprint(blob), key_type=key.get_name(),
                             pinned=[entry.describe() for entry in stale], known_hosts=path, hostname=host,
                             port=port, hint="pass replace=True only after confirming the new key with the host")
    line = known_hosts_line(host, port, key, hashed=hashed)
    name = host_key_name(lookup_name(host), port)
    drop = {entry.line_number for entry in stale if entry.hashed or lookup_name(entry.host_field) == name}
    if len(drop) != len(stale):
        raise ConfigError(f"cannot replace the {key.get_name()} key of {host_key_name(host, port)} in {path}: "
                          "it is pinned by a line shared with other hosts or by a pattern",
                          hint="edit the file by hand")
    # Lines as OpenSSH counts them: split at newline only, every other byte kept as it was.
    try:
        with open(path, "rb") as handle:
            lines = handle.read().split(b"\n")
    except FileNotFoundError:
        lines = []
    if lines and lines[-1] == b"":
        lines.pop()
    kept = [text for number, text in enumerate(lines, start=1) if number not in drop]
    _write_atomically(path, b"".join(text + b"\n" for text in [*kept, line.encode()]))
    return line


def _write_atomically(path: str, content: bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o600
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".known_hosts.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
