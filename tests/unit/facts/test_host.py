"""Host facts: hostname and docker server version (what step 2 prints and checks)."""

from __future__ import annotations

import pytest

from hermes_ops.facts import host


def test_commands():
    assert host.hostname.command() == ["hostname"]
    assert host.docker_version.command() == ["docker", "version", "--format", "{{.Server.Version}}"]


@pytest.mark.parametrize("output, expected", [
    ("texasca2\n", "texasca2"),
    ("texasca2\r\n", "texasca2"),
    ("  texasca2  \n\n", "texasca2"),
    ("\ntexasca2\n", "texasca2"),
    ("", ""),
])
def test_hostname(output, expected):
    assert host.parse_hostname(output) == expected


@pytest.mark.parametrize("output, ok, expected", [
    ("24.0.7\n", True, "24.0.7"),
    ("20.10.24+dfsg1\r\n", True, "20.10.24+dfsg1"),
    ("", True, ""),
    # A down daemon: `docker version` exits 1; the value is empty, not the error text.
    ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock.", False, ""),
])
def test_docker_version(output, ok, expected):
    assert host.docker_version.value(output, ok=ok) == expected
