"""Facts about the host itself: what it calls itself, and which Docker engine answers there (and whether)."""

from __future__ import annotations

from hermes_ops.commands import docker
from hermes_ops.commands import host as host_commands
from hermes_ops.facts.fact import Fact, first_line


def parse_hostname(output: str) -> str:
    """`hostname`'s answer: its first line, stripped ("" if it printed nothing)."""
    return first_line(output)


def parse_docker_version(output: str) -> str:
    """`docker version --format {{.Server.Version}}`: the engine's version, stripped ("" if none)."""
    return first_line(output)


hostname = Fact("hostname", host_commands.hostname, parse_hostname, when_failed="")
docker_version = Fact("docker server version", docker.server_version, parse_docker_version, when_failed="")
# `docker info`: the daemon itself answering (None when it does not; its stderr says why).
docker_daemon = Fact("docker daemon", docker.daemon_version, parse_docker_version)
