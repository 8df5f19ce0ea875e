"""Fixtures for the SSH layer's unit tests."""

from __future__ import annotations

import shutil

import pytest

from tests.unit.ssh.keys import generate_key


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    if shutil.which("ssh-keygen") is None:
        pytest.skip("needs ssh-keygen")
    tmp_path = tmp_path_factory.mktemp("keys")
    return {"ed25519": generate_key(tmp_path, "ed25519", "a"), "ed25519-other": generate_key(tmp_path, "ed25519", "b"),
            "ecdsa": generate_key(tmp_path, "ecdsa", "c"), "rsa": generate_key(tmp_path, "rsa", "d")}
