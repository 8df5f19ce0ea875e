"""Shared fixtures: the sandbox host, brought up once per test session (real dockerd, real sshd)."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def sandbox_host():
    """The SandboxHost object (state dir: $HERMES_SANDBOX_DIR or .sandbox/); left up for the next run."""
    from hermes_ops.sandbox import SandboxConfig, SandboxHost

    host = SandboxHost(SandboxConfig.load_or_default(None, zero_downtime=False))  # the wiki's supervisor model
    host.up()
    return host


@pytest.fixture(scope="session")
def sandbox(sandbox_host):
    """What a deploy needs to reach the sandbox droplet: the params file's values as attributes."""
    return SimpleNamespace(**sandbox_host.params(), state_dir=sandbox_host.state_dir,
                           params_file=sandbox_host.params_path)


@pytest.fixture
def deployable(sandbox_host):
    """The sandbox serving origin's HEAD (a failed test before may have left a broken commit)."""
    from hermes_ops.sandbox.rehearsal import catch_up

    catch_up(sandbox_host)
    return sandbox_host


def ssh_command(sandbox, *remote: str, key_path: str | None = None) -> list[str]:
    """OpenSSH client argv for the sandbox, with the pinned known_hosts (used to cross-check hermes_ops)."""
    return [
        "ssh", "-i", key_path or sandbox.key_path, "-o", f"UserKnownHostsFile={sandbox.known_hosts}",
        "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
        "-o", "ConnectTimeout=10", "-p", str(sandbox.port), f"{sandbox.user}@{sandbox.host}",
        # OpenSSH joins the remote words with spaces for the remote shell: quote them first.
        shlex.join(remote),
    ]


def pytest_report_header(config):
    return f"sandbox state dir: {os.environ.get('HERMES_SANDBOX_DIR') or REPO_ROOT / '.sandbox'}"


@pytest.fixture
def encrypted_key(sandbox, tmp_path):
    """The sandbox operator key, encrypted with a fresh passphrase; the environment that holds the passphrase."""
    import secrets as random_tokens
    import shutil
    import subprocess

    passphrase = f"test-passphrase-{random_tokens.token_hex(8)}"
    directory = tmp_path / "keys"
    directory.mkdir(mode=0o700)
    key = directory / "operator_ed25519"
    shutil.copyfile(sandbox.key_path, key)
    key.chmod(0o600)
    subprocess.run(["ssh-keygen", "-q", "-p", "-P", "", "-N", passphrase, "-f", str(key)], check=True,
                   capture_output=True, timeout=30)
    return key, passphrase, {**os.environ, "HERMES_OPS_SSH_PASSPHRASE": passphrase}
