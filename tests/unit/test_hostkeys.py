"""known_hosts parsing and host key verification, without any network.

OpenSSH's own tools (ssh-keygen) are the reference for fingerprints and hashed names.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import paramiko
import pytest

from hermes_ops.errors import ConfigError, HostKeyChanged, HostKeyError, HostKeyUnknown
from hermes_ops.ssh.hostkeys import (
    HostKeyInfo,
    RejectUnknownHostKeyPolicy,
    check_host_key,
    fingerprint,
    hash_host_name,
    host_key_name,
    known_hosts_line,
    parse_known_hosts,
    pin_host_key,
    preferred_algorithms,
    read_known_hosts,
)

needs_ssh_keygen = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")


def generate_key(tmp_path: Path, key_type: str, name: str) -> paramiko.PKey:
    path = tmp_path / name
    size = ["-b", "2048"] if key_type == "rsa" else []
    subprocess.run(["ssh-keygen", "-q", "-t", key_type, *size, "-N", "", "-f", str(path)], check=True)
    return paramiko.PKey.from_path(path)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    if shutil.which("ssh-keygen") is None:
        pytest.skip("needs ssh-keygen")
    tmp_path = tmp_path_factory.mktemp("keys")
    return {"ed25519": generate_key(tmp_path, "ed25519", "a"), "ed25519-other": generate_key(tmp_path, "ed25519", "b"),
            "ecdsa": generate_key(tmp_path, "ecdsa", "c"), "rsa": generate_key(tmp_path, "rsa", "d")}


def test_host_key_name_uses_brackets_off_port_22():
    assert host_key_name("example.org", 22) == "example.org"
    assert host_key_name("127.0.0.1", 2222) == "[127.0.0.1]:2222"


@needs_ssh_keygen
def test_fingerprint_matches_ssh_keygen(tmp_path):
    for key_type in ("ed25519", "ecdsa", "rsa"):
        key = generate_key(tmp_path, key_type, f"fp-{key_type}")
        expected = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / f"fp-{key_type}.pub")], check=True,
                                  capture_output=True, text=True).stdout.split()[1]
        assert fingerprint(key) == expected
        assert fingerprint(key.asbytes()) == expected


@needs_ssh_keygen
def test_hashed_names_match_what_ssh_keygen_finds(tmp_path, keys):
    known = tmp_path / "known_hosts"
    known.write_text(f"{hash_host_name('[10.9.8.7]:2222')} {keys['ed25519'].get_name()} "
                     f"{keys['ed25519'].get_base64()}\n")
    found = subprocess.run(["ssh-keygen", "-F", "[10.9.8.7]:2222", "-f", str(known)], capture_output=True, text=True)
    assert found.returncode == 0, "ssh-keygen does not recognise our hashed entry"
    entries = read_known_hosts(str(known))
    assert entries[0].matches("[10.9.8.7]:2222")
    assert not entries[0].matches("[10.9.8.7]:2223")


def test_parse_skips_comments_blank_and_malformed_lines(keys):
    key = keys["ed25519"]
    text = "\n".join([
        "# comment",
        "",
        "onlyhost",
        f"host1 {key.get_name()} !!!notbase64",
        f"host2,host3 {key.get_name()} {key.get_base64()} trailing comment",
        f"@revoked * {key.get_name()} {key.get_base64()}",
        f"@cert-authority *.example.org {key.get_name()} {key.get_base64()}",
    ])
    entries = parse_known_hosts(text)
    assert [(entry.hosts, entry.marker, entry.line_number) for entry in entries] == [
        (("host2", "host3"), None, 5), (("*",), "@revoked", 6), (("*.example.org",), "@cert-authority", 7)]
    assert entries[0].key_blob == key.asbytes()


def test_patterns_wildcards_negation_and_case():
    entry = parse_known_hosts("*.example.org,!bad.example.org,[10.0.0.?]:2222 ssh-ed25519 AAAA\n")[0]
    assert entry.matches("web.EXAMPLE.org")
    assert not entry.matches("bad.example.org")
    assert entry.matches("[10.0.0.5]:2222")
    assert not entry.matches("[10.0.0.55]:2222")
    assert not entry.matches("10.0.0.5")  # brackets are literal, not a character class


def test_check_accepts_the_pinned_key(tmp_path, keys):
    known = tmp_path / "known_hosts"
    known.write_text(known_hosts_line("10.1.2.3", 2222, keys["ed25519"]) + "\n")
    entry = check_host_key(str(known), "10.1.2.3", 2222, keys["ed25519"])
    assert entry.line_number == 1


def test_check_accepts_a_hashed_pin(tmp_path, keys):
    known = tmp_path / "known_hosts"
    known.write_text(known_hosts_line("10.1.2.3", 22, keys["rsa"], hashed=True) + "\n")
    assert known.read_text().startswith("|1|")
    check_host_key(str(known), "10.1.2.3", 22, keys["rsa"])


def test_unknown_host_is_refused_with_fingerprint_and_advice(tmp_path, keys):
    known = tmp_path / "known_hosts"
    known.write_text(known_hosts_line("other.host", 22, keys["ed25519"]) + "\n")
    with pytest.raises(HostKeyUnknown) as caught:
        check_host_key(str(known), "10.1.2.3", 2222, keys["ed25519"], user="core")
    error = caught.value
    assert error.presented == fingerprint(keys["ed25519"])
    assert error.pinned == ()
    text = str(error)
    assert fingerprint(keys["ed25519"]) in text
    assert "core@10.1.2.3:2222" in text
    assert "pin_host_key" in text and "ssh-keygen -lf" in text


def test_missing_known_hosts_file_means_unknown(tmp_path, keys):
    with pytest.raises(HostKeyUnknown):
        check_host_key(str(tmp_path / "absent"), "10.1.2.3", 22, keys["ed25519"])


def test_changed_key_is_refused_showing_both_fingerprints(tmp_path, keys):
    known = tmp_path / "known_hosts"
    known.write_text(known_hosts_line("10.1.2.3", 22, keys["ed25519"]) + "\n")
    with pytest.raises(HostKeyChanged) as caught:
        check_host_key(str(known), "10.1.2.3", 22, keys["ed25519-other"])
    text = str(caught.value)
    assert "changed" in text
    assert fingerprint(keys["ed25519-other"]) in text and fingerprint(keys["ed25519"]) in text
    assert "intercepted" in text


def test_key_of_unpinned_type_for_a_known_host_is_refused(tmp_path, keys):
    known = tmp_path / "known_hosts"
    known.write_text(known_hosts_line("10.1.2.3", 22, keys["ecdsa"]) + "\n")
    with pytest.raises(HostKeyChanged, match="not of a pinned type"):
        check_host_key(str(known), "10.1.2.3", 22, keys["ed25519"])


def test_revoked_key_is_refused_even_if_also_pinned(tmp_path, keys):
    key = keys["ed25519"]
    known = tmp_path / "known_hosts"
    known.write_text(known_hosts_line("10.1.2.3", 22, key) + "\n"
                     f"@revoked * {key.get_name()} {key.get_base64()}\n")
    with pytest.raises(HostKeyChanged, match="revoked"):
        check_host_key(str(known), "10.1.2.3", 22, key)


def test_host_key_errors_are_one_family(keys, tmp_path):
    with pytest.raises(HostKeyError):
        check_host_key(str(tmp_path / "absent"), "h", 22, keys["rsa"])


def test_preferred_algorithms_follow_the_pinned_types(keys):
    entries = parse_known_hosts(known_hosts_line("h", 22, keys["rsa"]) + "\n"
                                + known_hosts_line("h", 22, keys["ecdsa"]) + "\n")
    assert preferred_algorithms(entries, "h", 22) == ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa",
                                                      keys["ecdsa"].get_name()]
    assert preferred_algorithms(entries, "other", 22) == []


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


def test_policy_for_sshclient_rejects_unknown_and_accepts_pinned(tmp_path, keys):
    known = tmp_path / "known_hosts"
    known.write_text(known_hosts_line("10.1.2.3", 2222, keys["ed25519"]) + "\n")
    policy = RejectUnknownHostKeyPolicy(str(known))
    policy.missing_host_key(None, "[10.1.2.3]:2222", keys["ed25519"])
    with pytest.raises(HostKeyUnknown):
        policy.missing_host_key(None, "10.1.2.3", keys["ed25519"])
    with pytest.raises(HostKeyChanged):
        policy.missing_host_key(None, "[10.1.2.3]:2222", keys["ed25519-other"])
    assert not isinstance(policy, paramiko.AutoAddPolicy)
