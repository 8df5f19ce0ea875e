"""operator_key: find the operator's key, or make one that OpenSSH reads back; never touch an existing file."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from hermes_ops.access.operator_key import find_or_create_key
from hermes_ops.errors import ConfigError
from hermes_ops.secrets import Secret
from tests.unit.access.test_public_keys import needs_ssh_keygen

PASSPHRASE = "correct horse battery staple"


def ssh_keygen_public(path, passphrase: str | None = None) -> subprocess.CompletedProcess:
    """`ssh-keygen -y -f KEY` (with -P): the public key OpenSSH reads from the private key file."""
    return subprocess.run(["ssh-keygen", "-y", "-P", passphrase or "", "-f", str(path)], capture_output=True,
                          text=True, timeout=60)


def snapshot(*paths):
    return [(path.read_bytes(), path.stat().st_mode, path.stat().st_mtime_ns) for path in paths]


@needs_ssh_keygen
def test_a_new_key_without_passphrase(tmp_path):
    path = tmp_path / "new" / "keys" / "id_ed25519"
    made = find_or_create_key(path, comment="Grace Hopper")
    assert made.created and not made.encrypted and made.path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.with_name("id_ed25519.pub").stat().st_mode) == 0o644
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.with_name("id_ed25519.pub").read_text() == made.public_key.text + "\n"
    assert made.public_key.comment == "Grace Hopper" and made.public_key.key_type == "ssh-ed25519"
    read = ssh_keygen_public(path)
    assert read.returncode == 0 and read.stdout.split()[:2] == made.public_key.line.split()


@needs_ssh_keygen
def test_a_new_key_with_a_passphrase(tmp_path):
    path = tmp_path / "id_ed25519"
    made = find_or_create_key(path, passphrase=Secret(PASSPHRASE, "key passphrase"))
    assert made.created and made.encrypted and stat.S_IMODE(path.stat().st_mode) == 0o600
    read = ssh_keygen_public(path, PASSPHRASE)
    assert read.returncode == 0 and read.stdout.split()[:2] == made.public_key.line.split()
    assert ssh_keygen_public(path, "wrong passphrase").returncode != 0  # it really is encrypted
    assert PASSPHRASE not in repr(made) and PASSPHRASE not in path.read_text()


def test_modes_hold_whatever_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        made = find_or_create_key(tmp_path / "id")
    finally:
        os.umask(old)
    assert stat.S_IMODE(made.path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "id.pub").stat().st_mode) == 0o644


def test_an_empty_passphrase_means_none(tmp_path):
    made = find_or_create_key(tmp_path / "id", passphrase=Secret(""))
    assert not made.encrypted


@needs_ssh_keygen
@pytest.mark.parametrize("key_type", ["ed25519", "rsa", "ecdsa"])
def test_an_existing_key_is_found_and_never_touched(tmp_path, key_type):
    path = tmp_path / f"id_{key_type}"
    subprocess.run(["ssh-keygen", "-q", "-t", key_type, "-N", "", "-C", "made@elsewhere", "-f", str(path)],
                   check=True)
    before = snapshot(path, path.with_name(path.name + ".pub"))
    found = find_or_create_key(path, comment="ignored")
    assert not found.created and not found.encrypted
    assert found.public_key.text == path.with_name(path.name + ".pub").read_text().strip()
    assert snapshot(path, path.with_name(path.name + ".pub")) == before


@needs_ssh_keygen
def test_a_protected_key_without_pub_needs_its_passphrase(tmp_path):
    path = tmp_path / "id_ed25519"
    made = find_or_create_key(path, passphrase=Secret(PASSPHRASE))
    path.with_name("id_ed25519.pub").unlink()
    before = snapshot(path)
    with pytest.raises(ConfigError, match="is protected by a passphrase and has no id_ed25519.pub") as caught:
        find_or_create_key(path)
    assert "ssh-keygen -y -f" in str(caught.value)
    with pytest.raises(ConfigError, match="the passphrase given does not open the key") as caught:
        find_or_create_key(path, passphrase=Secret("not it at all"))
    assert "not it at all" not in str(caught.value) + repr(caught.value)
    found = find_or_create_key(path, passphrase=Secret(PASSPHRASE))
    assert found.public_key.line == made.public_key.line and found.encrypted and not found.created
    assert snapshot(path) == before and not path.with_name("id_ed25519.pub").exists()


def test_an_unprotected_key_without_pub_is_derived(tmp_path):
    made = find_or_create_key(tmp_path / "id")
    (tmp_path / "id.pub").unlink()
    found = find_or_create_key(tmp_path / "id")
    assert found.public_key.line == made.public_key.line and not found.encrypted


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o610, 0o644])
def test_a_key_others_can_read_is_refused(tmp_path, mode):
    path = find_or_create_key(tmp_path / "id").path
    path.chmod(mode)
    before = snapshot(path)
    with pytest.raises(ConfigError, match=f"is open to group or others \\(mode 0{mode:o}\\)") as caught:
        find_or_create_key(path)
    assert f"chmod 600 {path}" in str(caught.value)
    assert snapshot(path) == before


def test_a_pub_file_of_another_key_is_refused(tmp_path):
    mine = find_or_create_key(tmp_path / "mine")
    other = find_or_create_key(tmp_path / "other")
    (tmp_path / "mine.pub").chmod(0o600)
    (tmp_path / "mine.pub").write_text(other.public_key.text + "\n")
    with pytest.raises(ConfigError, match="is not the public half of"):
        find_or_create_key(mine.path)


def test_a_pub_file_without_its_key_is_left_alone(tmp_path):
    (tmp_path / "id.pub").write_text("ssh-ed25519 AAAA someone\n")
    with pytest.raises(ConfigError, match="exists but its private key .* does not"):
        find_or_create_key(tmp_path / "id")
    assert not (tmp_path / "id").exists() and (tmp_path / "id.pub").read_text() == "ssh-ed25519 AAAA someone\n"


def test_what_is_not_a_key_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="is not a regular file"):
        find_or_create_key(tmp_path)
    (tmp_path / "junk").write_text("not a key")
    (tmp_path / "junk").chmod(0o600)
    with pytest.raises(ConfigError, match="is not a private key paramiko can read"):
        find_or_create_key(tmp_path / "junk")
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "pipe").chmod(0o600)
    with pytest.raises(ConfigError, match="is not a regular file"):
        find_or_create_key(tmp_path / "pipe")


def test_a_dangling_link_is_not_followed(tmp_path):
    (tmp_path / "id").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ConfigError, match="is a link to .*elsewhere, which does not exist"):
        find_or_create_key(tmp_path / "id")
    assert not (tmp_path / "elsewhere").exists()


def test_the_passphrase_only_travels_as_a_secret(tmp_path, secrets_registry):
    with pytest.raises(ConfigError, match="must be given as a hermes_ops.secrets.Secret") as caught:
        find_or_create_key(tmp_path / "id", passphrase=PASSPHRASE)
    assert PASSPHRASE not in str(caught.value) and not (tmp_path / "id").exists()
    find_or_create_key(tmp_path / "id", passphrase=Secret(PASSPHRASE))
    assert PASSPHRASE in secrets_registry.values  # masked in any message from now on


@pytest.mark.parametrize("comment", ["two\nlines", "x" * 201, "tab\there", "\x1b[2J"])
def test_a_bad_comment_is_refused_before_anything_is_written(tmp_path, comment):
    with pytest.raises(ConfigError, match="the comment for a new key"):
        find_or_create_key(tmp_path / "id", comment=comment)
    assert list(tmp_path.iterdir()) == []
