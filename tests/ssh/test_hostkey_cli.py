"""`hermes-ops hostkey show/pin` against the sandbox droplet's real sshd."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.sandbox


def cli(*args):
    return subprocess.run([sys.executable, "-m", "hermes_ops.cli", "hostkey", *args], capture_output=True, text=True,
                          timeout=60)


def test_show_then_pin_only_the_confirmed_key(sandbox, tmp_path):
    shown = cli("show", sandbox.host, "--port", str(sandbox.port))
    assert shown.returncode == 0, shown.stderr
    fingerprint = shown.stdout.split()[2]
    assert fingerprint.startswith("SHA256:")
    known_hosts = tmp_path / "known_hosts"

    wrong = cli("pin", sandbox.host, "--port", str(sandbox.port), "--known-hosts", str(known_hosts),
                "--fingerprint", "SHA256:" + "A" * 43)
    assert wrong.returncode == 2 and "nothing was pinned" in wrong.stderr
    assert not known_hosts.exists()

    pinned = cli("pin", sandbox.host, "--port", str(sandbox.port), "--known-hosts", str(known_hosts),
                 "--fingerprint", fingerprint)
    assert pinned.returncode == 0, pinned.stderr
    assert known_hosts.read_text().split()[1:] == Path(sandbox.known_hosts).read_text().split()[1:]
    again = cli("pin", sandbox.host, "--port", str(sandbox.port), "--known-hosts", str(known_hosts),
                "--fingerprint", fingerprint)
    assert "already pinned" in again.stdout
