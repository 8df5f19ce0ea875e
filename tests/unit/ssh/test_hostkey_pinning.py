"""Pinning a confirmed host key: the file written private, idempotent, a changed key refused unless replacing."""

from __future__ import annotations

import pytest

from hermes_ops.errors import ConfigError, HostKeyChanged
from hermes_ops.ssh.hostkey_pinning import HostKeyInfo, pin_host_key
from hermes_ops.ssh.hostkeys import check_host_key, fingerprint, known_hosts_line


def test_pin_creates_the_file_private_and_is_idempotent(tmp_path, keys):
    known = tmp_path / "sub" / "known_hosts"
    line = pin_host_key(str(known), "10.1.2.3", 2222, keys["ed25519"])
    assert line == known_hosts_line("10.1.2.3", 2222, keys["ed25519"])
    assert known.stat().st_mode & 0o777 == 0o600
    assert pin_host_key(str(known), "10.1.2.3", 2222, keys["ed25519"]) is None
    assert pin_host_key(str(known), "10.1.2.3", 2222, keys["ecdsa"]) is not None  # another type: added
    assert len(known.read_text().splitlines()) == 2
    check_host_key(str(known), "10.1.2.3", 2222, keys["ecdsa"])


def test_pin_refuses_a_different_key_unless_replacing(tmp_path, keys):
    known = tmp_path / "known_hosts"
    known.write_text("# keep this comment\nother.host ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==\n")
    pin_host_key(str(known), "h", 22, keys["ed25519"], hashed=True)
    with pytest.raises(HostKeyChanged):
        pin_host_key(str(known), "h", 22, keys["ed25519-other"])
    pin_host_key(str(known), "h", 22, keys["ed25519-other"], replace=True)
    check_host_key(str(known), "h", 22, keys["ed25519-other"])
    with pytest.raises(HostKeyChanged):
        check_host_key(str(known), "h", 22, keys["ed25519"])
    lines = known.read_text().splitlines()
    assert lines[:2] == ["# keep this comment", "other.host ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA=="]
    assert len(lines) == 3


def test_pin_refuses_to_edit_a_shared_line(tmp_path, keys):
    known = tmp_path / "known_hosts"
    key = keys["ed25519"]
    known.write_text(f"h,g {key.get_name()} {key.get_base64()}\n")
    with pytest.raises(ConfigError):
        pin_host_key(str(known), "h", 22, keys["ed25519-other"], replace=True)


def test_pin_accepts_a_fetched_host_key_info(tmp_path, keys):
    info = HostKeyInfo("10.1.2.3", 2200, keys["ecdsa"])
    assert str(info) == f"[10.1.2.3]:2200 {keys['ecdsa'].get_name()} {fingerprint(keys['ecdsa'])}"
    pin_host_key(str(tmp_path / "kh"), "10.1.2.3", 2200, info)
    check_host_key(str(tmp_path / "kh"), "10.1.2.3", 2200, keys["ecdsa"])


def test_pin_writes_the_lower_case_name_openssh_looks_up(tmp_path, keys):
    known = tmp_path / "known_hosts"
    line = pin_host_key(str(known), "Droplet.EXAMPLE", 2222, keys["ed25519"])
    assert line.startswith("[droplet.example]:2222 ")
    assert pin_host_key(str(known), "droplet.example", 2222, keys["ed25519"]) is None
    check_host_key(str(known), "DROPLET.example", 2222, keys["ed25519"])


def test_replacing_keeps_every_other_byte_of_the_file(tmp_path, keys):
    """Lines are newline-separated only: a form feed or CR in a comment is not a line break to rewrite."""
    known = tmp_path / "known_hosts"
    old = keys["ed25519"]
    prefix = b"# comment\x0cwith a form feed\r\nother.host\xa0odd bytes \xff\n"
    known.write_bytes(prefix + f"h {old.get_name()} {old.get_base64()}\n".encode() + b"# last\x1c\n")
    pin_host_key(str(known), "h", 22, keys["ed25519-other"], replace=True)
    assert known.read_bytes().startswith(prefix + b"# last\x1c\n")
    check_host_key(str(known), "h", 22, keys["ed25519-other"])


def test_pin_refuses_a_revoked_key(tmp_path, keys):
    known = tmp_path / "known_hosts"
    key = keys["ed25519"]
    known.write_text(f"@revoked * {key.get_name()} {key.get_base64()}\n")
    with pytest.raises(HostKeyChanged, match="revoked"):
        pin_host_key(str(known), "h", 22, key)
    assert known.read_text().count("\n") == 1
