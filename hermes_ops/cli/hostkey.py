"""Pinning a host key the safe way: fetch it, have a human compare the fingerprint, pin only that key."""

from __future__ import annotations

from hermes_ops.errors import ConfigError
from hermes_ops.ssh.hostkey_pinning import fetch_host_key, pin_host_key, pinning_route

DEFAULT_SSH_CONFIG = "~/.ssh/config"


def show(host: str, port: int, ssh_config: str = DEFAULT_SSH_CONFIG) -> str:
    """The host's key fingerprint, to compare with what the host's console shows.

    `host` may be an alias of `ssh_config`: its HostName and Port are what is fetched (and pinned),
    through its ProxyJump bastion if it has one, as `ssh` would reach it.
    """
    address, port, via = pinning_route(host, port, ssh_config=ssh_config)
    info = fetch_host_key(address, port, via=via)
    return (f"{info}\ncompare with the host's console (`ssh-keygen -lf /etc/ssh/ssh_host_{info.key_type.split('-')[-1]}"
            f"_key.pub` there); if they match: hermes-ops hostkey pin {host} --port {port} "
            f"--known-hosts FILE --fingerprint {info.fingerprint}")


def pin(host: str, port: int, known_hosts: str, confirmed_fingerprint: str, *, replace: bool = False,
        ssh_config: str = DEFAULT_SSH_CONFIG) -> str:
    """Pin the host's key only if it is the one the human confirmed (the fingerprint must match)."""
    address, port, via = pinning_route(host, port, ssh_config=ssh_config)
    info = fetch_host_key(address, port, via=via)
    if info.fingerprint != confirmed_fingerprint:
        raise ConfigError(f"{host}:{port} presents {info.fingerprint}, not the confirmed {confirmed_fingerprint}: "
                          "nothing was pinned", host=host,
                          hint="check the fingerprint on the host's console again; a mismatch can mean the wrong "
                               "host or an attack")
    line = pin_host_key(known_hosts, address, port, info, replace=replace)
    return f"already pinned: {info}" if line is None else f"pinned in {known_hosts}: {info}"
