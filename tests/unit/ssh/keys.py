"""Real keys for the SSH layer's unit tests, made by OpenSSH's ssh-keygen (the reference)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import paramiko
import pytest

needs_ssh_keygen = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")


def generate_key(tmp_path: Path, key_type: str, name: str) -> paramiko.PKey:
    path = tmp_path / name
    size = ["-b", "2048"] if key_type == "rsa" else []
    subprocess.run(["ssh-keygen", "-q", "-t", key_type, *size, "-N", "", "-f", str(path)], check=True)
    return paramiko.PKey.from_path(path)
