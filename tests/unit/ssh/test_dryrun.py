"""The dry-run runner: the real quoting and redaction, no host."""

from __future__ import annotations

from hermes_ops.secrets import Secret
from hermes_ops.ssh import DryRunRunner, SSHTarget

TARGET = SSHTarget(host="203.0.113.7", port=22, user="core")


def test_dry_run_records_and_prints_without_a_host():
    printed = []
    runner = DryRunRunner(TARGET, secrets=["tok3n"], echo=printed.append)
    with runner:
        result = runner.run(["docker", "login", "-p", Secret("pw"), "--token", "tok3n"])
        runner.run_shell("df -P / | tail -1", timeout=5)
    assert result.ok and result.dry_run and result.stdout == ""
    assert runner.commands == ["docker login -p '****' --token ****", "/bin/sh -c 'df -P / | tail -1'"]
    assert printed[0] == "[dry-run] core@203.0.113.7:22 $ docker login -p '****' --token ****"
    assert not runner.connected
