"""StrictModes for known_hosts: a file (or directory) someone else could write is refused before it is read."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import paramiko
import pytest

from hermes_ops.errors import ConfigError
from hermes_ops.ssh.hostkeys import check_host_key, known_hosts_line, read_known_hosts

needs_root = pytest.mark.skipif(os.getuid() != 0, reason="needs root to give a file to another user")
needs_ssh_keygen = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")


@pytest.fixture(scope="module")
def host_key(tmp_path_factory) -> paramiko.PKey:
    return paramiko.Ed25519Key.from_private_key_file(_keygen(tmp_path_factory.mktemp("key") / "host"))


def _keygen(path: Path) -> str:
    if shutil.which("ssh-keygen") is None:
        pytest.skip("needs ssh-keygen")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return str(path)


def pinned(directory: Path, key: paramiko.PKey, *, file_mode: int = 0o644, dir_mode: int = 0o700) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    known = directory / "known_hosts"
    known.write_text(known_hosts_line("10.1.2.3", 2222, key) + "\n")
    known.chmod(file_mode)
    directory.chmod(dir_mode)
    return known


@pytest.mark.parametrize(("file_mode", "dir_mode"), [(0o644, 0o700), (0o600, 0o755), (0o444, 0o500),
                                                     (0o640, 0o750)])
def test_files_only_their_owner_can_write_are_trusted(tmp_path, host_key, file_mode, dir_mode):
    known = pinned(tmp_path / "keys", host_key, file_mode=file_mode, dir_mode=dir_mode)
    try:
        assert len(read_known_hosts(str(known))) == 1
        check_host_key(str(known), "10.1.2.3", 2222, host_key)
    finally:
        known.parent.chmod(0o700)


@pytest.mark.parametrize("file_mode", [0o664, 0o646, 0o666, 0o620, 0o602])
def test_a_file_group_or_others_can_write_is_refused(tmp_path, host_key, file_mode):
    known = pinned(tmp_path / "keys", host_key, file_mode=file_mode)
    with pytest.raises(ConfigError) as refused:
        read_known_hosts(str(known))
    message = str(refused.value)
    assert f"known_hosts file {known} is writable by group or others (mode 0{file_mode:o})" in message
    assert f"chmod go-w {known}" in message


@pytest.mark.parametrize("dir_mode", [0o770, 0o757, 0o777, 0o1777])
def test_a_directory_group_or_others_can_write_is_refused(tmp_path, host_key, dir_mode):
    known = pinned(tmp_path / "keys", host_key, dir_mode=dir_mode)
    try:
        with pytest.raises(ConfigError) as refused:
            check_host_key(str(known), "10.1.2.3", 2222, host_key)
        message = str(refused.value)
        assert f"{known.parent} is writable by group or others" in message
        assert f"chmod go-w {known.parent}" in message
    finally:
        known.parent.chmod(0o700)


def test_a_symlink_is_judged_by_the_file_it_resolves_to(tmp_path, host_key):
    safe = pinned(tmp_path / "safe", host_key)
    links = tmp_path / "links"
    links.mkdir(mode=0o777)
    links.chmod(0o777)  # the link's own directory does not matter: the resolved file's does
    (links / "known_hosts").symlink_to(safe)
    assert len(read_known_hosts(str(links / "known_hosts"))) == 1

    unsafe = pinned(tmp_path / "unsafe", host_key, file_mode=0o666)
    (tmp_path / "link-to-unsafe").symlink_to(unsafe)
    with pytest.raises(ConfigError) as refused:
        read_known_hosts(str(tmp_path / "link-to-unsafe"))
    assert f"(a link to {unsafe})" in str(refused.value) and f"chmod go-w {unsafe}" in str(refused.value)


@needs_root
def test_a_file_or_directory_owned_by_another_user_is_refused(tmp_path, host_key):
    known = pinned(tmp_path / "keys", host_key)
    os.chown(known, 54321, -1)
    with pytest.raises(ConfigError, match="is owned by uid 54321, not by you"):
        read_known_hosts(str(known))
    os.chown(known, 0, -1)
    os.chown(known.parent, 54321, -1)
    try:
        with pytest.raises(ConfigError, match=f"{known.parent} is owned by uid 54321"):
            read_known_hosts(str(known))
    finally:
        os.chown(known.parent, 0, -1)


def test_a_missing_file_pins_nothing_and_is_not_an_error(tmp_path):
    assert read_known_hosts(str(tmp_path / "absent")) == []
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    assert read_known_hosts(str(tmp_path / "dangling")) == []


def test_something_other_than_a_regular_file_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(ConfigError, match="is not a regular file"):
        read_known_hosts(str(fifo))
    with pytest.raises(ConfigError, match="is not a regular file"):
        read_known_hosts(str(tmp_path))


@needs_ssh_keygen
@pytest.mark.parametrize("umask", [0o022, 0o002], ids=["umask 022", "group-writable umask 002"])
def test_the_sandbox_known_hosts_passes(tmp_path, umask):
    from hermes_ops.sandbox.config import SandboxConfig
    from hermes_ops.sandbox.droplet import ensure_keys, key_paths

    config = SandboxConfig(state_dir=tmp_path / "state")
    previous = os.umask(umask)
    try:
        ensure_keys(config)
    finally:
        os.umask(previous)
    assert len(read_known_hosts(str(key_paths(config)["known_hosts"]))) == 1
