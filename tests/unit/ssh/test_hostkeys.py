"""known_hosts parsing and host key verification, without any network.

OpenSSH's own tools (ssh-keygen) are the reference for fingerprints and hashed names.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import subprocess

import paramiko
import pytest

from hermes_ops.errors import HostKeyChanged, HostKeyError, HostKeyUnknown
from hermes_ops.ssh.hostkeys import (
    RejectUnknownHostKeyPolicy,
    check_host_key,
    fingerprint,
    hash_host_name,
    host_key_name,
    known_hosts_line,
    parse_known_hosts,
    preferred_algorithms,
    read_known_hosts,
)
from tests.unit.ssh.keys import generate_key, needs_ssh_keygen


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


def test_patterns_wildcards_negation_and_case(keys):
    key = f"{keys['ed25519'].get_name()} {keys['ed25519'].get_base64()}"
    entry = parse_known_hosts(f"*.example.org,!bad.example.org,[10.0.0.?]:2222 {key}\n")[0]
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


@needs_ssh_keygen
def test_fingerprint_of_a_key_type_paramiko_cannot_load_matches_ssh_keygen(tmp_path):
    # A security-key host key (sk-ssh-ed25519): paramiko has no class for it, ssh-keygen still fingerprints it.
    def field(data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + data

    blob = field(b"sk-ssh-ed25519@openssh.com") + field(bytes(range(32))) + field(b"ssh:")
    line = f"somehost sk-ssh-ed25519@openssh.com {base64.b64encode(blob).decode()}\n"
    (tmp_path / "known_hosts").write_text(line)
    expected = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / "known_hosts")], check=True,
                              capture_output=True, text=True).stdout.split()[1]
    assert fingerprint(blob) == parse_known_hosts(line)[0].fingerprint == expected


@needs_ssh_keygen
def test_hash_host_name_writes_what_ssh_keygen_writes(tmp_path, keys):
    known = tmp_path / "known_hosts"
    known.write_text(known_hosts_line("10.9.8.7", 2222, keys["ed25519"]) + "\n")
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(known)], check=True, capture_output=True)
    hashed = known.read_text().split()[0]
    salt = base64.b64decode(hashed.split("|")[2])
    assert hash_host_name("[10.9.8.7]:2222", salt) == hashed
    assert hash_host_name("[10.9.8.7]:2222") != hash_host_name("[10.9.8.7]:2222")  # a fresh salt each time


def _hashed_field(name: str, salt: bytes) -> str:
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def _flip_unused_bits(text: str) -> str:
    """The same bytes in a non-canonical base64 spelling: the last character before '=' carries unused bits."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    index = text.rindex("=") - 1
    return text[:index] + alphabet[alphabet.index(text[index]) ^ 1] + text[index + 1:]


HASHED_NAME = "[10.9.8.7]:2222"
SALT = bytes(range(20))
GOOD = _hashed_field(HASHED_NAME, SALT)
SALT_TEXT, DIGEST_TEXT = GOOD.split("|")[2:]
HASHED_CASES = {
    "well formed": GOOD,
    "another name": _hashed_field("[10.9.8.7]:2223", SALT),
    "salt of 19 bytes": _hashed_field(HASHED_NAME, SALT[:19]),
    "salt of 21 bytes": _hashed_field(HASHED_NAME, SALT + b"x"),
    "digest spelled non-canonically": f"|1|{SALT_TEXT}|{_flip_unused_bits(DIGEST_TEXT)}",
    "salt spelled non-canonically": _hashed_field(HASHED_NAME, SALT).replace(SALT_TEXT, _flip_unused_bits(SALT_TEXT)),
    "digest without padding": GOOD.rstrip("="),
    "a field too many": GOOD + "|x",
    "empty salt and digest": "|1||",
    "no digest": f"|1|{SALT_TEXT}",
    "another magic": "|2|" + GOOD[3:],
}


def _random_mutations(seed: int, count: int) -> list[str]:
    """Seeded random edits of a well-formed hashed field: a character replaced, dropped or added."""
    generator = random.Random(seed)
    characters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=|"
    fields = []
    for _ in range(count):
        field = _hashed_field(HASHED_NAME, generator.randbytes(20))
        position = generator.randrange(3, len(field))
        edit = generator.choice(("replace", "drop", "add"))
        if edit == "replace":
            field = field[:position] + generator.choice(characters) + field[position + 1:]
        elif edit == "drop":
            field = field[:position] + field[position + 1:]
        else:
            field = field[:position] + generator.choice(characters) + field[position:]
        fields.append(field)
    return fields


@needs_ssh_keygen
@pytest.mark.parametrize("field", list(HASHED_CASES.values()) + _random_mutations(seed=10, count=40),
                         ids=list(HASHED_CASES) + [f"random-{number}" for number in range(40)])
def test_hashed_fields_match_exactly_when_ssh_keygen_finds_them(tmp_path, field):
    line = f"{field} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C7okWi0dh2l6GrSC\n"
    (tmp_path / "known_hosts").write_text(line)
    found = subprocess.run(["ssh-keygen", "-F", HASHED_NAME, "-f", str(tmp_path / "known_hosts")],
                           capture_output=True, text=True).returncode == 0
    entries = parse_known_hosts(line)
    assert (len(entries) == 1 and entries[0].matches(HASHED_NAME)) == found
