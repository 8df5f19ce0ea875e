"""The SSH layer against the sandbox droplet's own sshd (the production stand-in)."""

from __future__ import annotations

import hashlib

import pytest

from hermes_ops.errors import CommandFailed
from hermes_ops.ssh import connect, fetch_host_key, fingerprint

pytestmark = pytest.mark.sandbox


def test_login_as_core_on_the_droplet(sandbox_target, request):
    sandbox = request.getfixturevalue("sandbox")
    with connect(sandbox_target) as runner:
        assert runner.run(["hostname"], timeout=30).stdout.strip() == sandbox.expected_hostname
        assert runner.run(["whoami"], timeout=30).stdout.strip() == sandbox.user
        assert runner.run_shell("df -P / | tail -1", timeout=30).stdout.split()[-1] == "/"
        probe = runner.run(["test", "-d", "/definitely/not/here"], timeout=30, check=False)
        assert probe.exit_code == 1
        with pytest.raises(CommandFailed):
            runner.run(["false"], timeout=30)


def test_droplet_key_matches_the_pinned_one(sandbox_target):
    from hermes_ops.ssh.hostkeys import entries_for, read_known_hosts

    info = fetch_host_key(sandbox_target.host, sandbox_target.port)
    pinned = entries_for(read_known_hosts(sandbox_target.known_hosts), sandbox_target.host, sandbox_target.port)
    assert info.fingerprint in {fingerprint(entry.key_blob) for entry in pinned}


def test_droplet_streams_big_output_exactly(sandbox_target):
    size = 20 * 1024 * 1024
    with connect(sandbox_target) as runner:
        result = runner.run(["head", "-c", str(size), "/dev/zero"], timeout=120)
    assert result.stdout_bytes == size
    assert result.stdout_sha256 == hashlib.sha256(bytes(size)).hexdigest()
