"""OpenSSH's matching and decoding rules, piece by piece (the differential test holds the whole against ssh)."""

from __future__ import annotations

import base64
import random
import re

import pytest

from hermes_ops.ssh.hostkeys import parse_known_hosts
from hermes_ops.ssh.openssh_keys import b64_pton, canonical_key_blob, read_key_field
from hermes_ops.ssh.openssh_patterns import NEGATED, NO_MATCH, POSITIVE, match_hostname, match_pattern


@pytest.mark.parametrize("text,pattern,expected", [
    (b"web1.example", b"web?.example", True),
    (b"web10.example", b"web?.example", False),
    (b"a.b.c", b"*.c", True),
    (b"", b"*", True),
    (b"", b"", True),
    (b"x", b"", False),
    (b"[10.0.0.5]:2222", b"[10.0.0.?]:2222", True),
    (b"10.0.0.5", b"[10.0.0.5]", False),
    (b"abcabd", b"*abd", True),
    (b"aaa", b"a*a*a", True),
    (b"aa", b"a*a*a", False),
])
def test_match_pattern(text, pattern, expected):
    assert match_pattern(text, pattern) is expected


def test_match_pattern_agrees_with_a_glob_regex_on_random_input():
    generator = random.Random(3)
    for _ in range(3000):
        text = bytes(generator.choice(b"ab.") for _ in range(generator.randint(0, 8)))
        pattern = bytes(generator.choice(b"ab.*?") for _ in range(generator.randint(0, 6)))
        regex = b"".join(b".*" if byte == ord("*") else b"." if byte == ord("?") else re.escape(bytes((byte,)))
                         for byte in pattern)
        assert match_pattern(text, pattern) is (re.fullmatch(regex, text, flags=re.DOTALL) is not None), \
            (text, pattern)


@pytest.mark.parametrize("host,patterns,expected", [
    (b"web.example", b"*.example,!bad.example", POSITIVE),
    (b"bad.example", b"*.example,!bad.example", NEGATED),
    (b"bad.example", b"!bad.example,*.example", NEGATED),
    (b"WEB.Example", b"web.example", POSITIVE),
    (b"web.example", b"WEB.EXAMPLE", POSITIVE),
    (b"s", "\u017f".encode(), NO_MATCH),  # no Unicode case folding
    (b"host", b"host," + b"x" * 1030, NO_MATCH),  # an over-long sub-pattern voids the list
    (b"host", b"x" * 1022 + b",host", POSITIVE),
    (b"host", b"x" * 1023 + b",host", NO_MATCH),
    (b"host", b",host,", POSITIVE),
    (b"host", b"", NO_MATCH),
    (b"|1|abc", b"*,!|1|abc", NEGATED),  # a hash in a list is literal text
])
def test_match_hostname(host, patterns, expected):
    assert match_hostname(host, patterns) == expected


@pytest.mark.parametrize("text,expected", [
    (b"AAAA", b"\0\0\0"),
    (b"AA==", b"\0"),
    (b"AAA=", b"\0\0"),
    (b"A A\rA\x0bA", b"\0\0\0"),  # C whitespace is skipped anywhere
    (b"AA= =", b"\0"),
    (b"AA=", None),  # padding incomplete
    (b"AA", None),  # no padding at all
    (b"AAAA=", None),  # padding after a full group
    (b"AB==", None),  # unused bits set
    (b"AAF=", None),
    (b"AAE=", b"\0\1"),
    (b"AAA=x", None),  # junk after padding
    (b"AA==\n", b"\0"),
    (b"A\xa0AAA", None),  # NBSP is not C whitespace
    (b"", b""),
])
def test_b64_pton(text, expected):
    assert b64_pton(text) == expected


def _string(value: bytes) -> bytes:
    return len(value).to_bytes(4, "big") + value


def test_key_field_rules(keys):
    ed25519 = keys["ed25519"].asbytes()
    encoded = base64.b64encode(ed25519)
    assert read_key_field(b"ssh-ed25519", encoded).blob == ed25519
    assert read_key_field(b"ssh-rsa", encoded) is None  # the blob's type must be the line's
    assert read_key_field(b"SSH-ED25519", encoded) is None  # the line's type word is exact
    assert read_key_field(b"ssh-ed25519", encoded + b"==") is None
    short = _string(b"ED25519") + ed25519[4 + len(b"ssh-ed25519"):]
    assert read_key_field(b"ssh-ed25519", base64.b64encode(short)).blob == ed25519  # the short name inside
    assert read_key_field(b"ssh-ed25519", base64.b64encode(ed25519 + b"\0")) is None  # data after the key
    rsa = keys["rsa"].asbytes()
    assert read_key_field(b"rsa-sha2-512", base64.b64encode(rsa)).key_type == "ssh-rsa"
    ecdsa = keys["ecdsa"].asbytes()
    assert read_key_field(keys["ecdsa"].get_name().encode(), base64.b64encode(ecdsa)).blob == ecdsa
    assert read_key_field(b"ecdsa-sha2-nistp384", base64.b64encode(ecdsa)) is None
    assert canonical_key_blob(ecdsa[:-1]) is None


def test_rsa_modulus_with_a_needless_zero_is_the_same_key(keys):
    blob = keys["rsa"].asbytes()
    name_end = 4 + len(b"ssh-rsa")
    exponent_length = int.from_bytes(blob[name_end:name_end + 4], "big")
    modulus_at = name_end + 4 + exponent_length
    modulus = blob[modulus_at + 4:]
    padded = blob[:modulus_at] + _string(b"\0" + modulus)
    assert canonical_key_blob(padded) == blob


def test_lines_end_at_newline_only(keys):
    key = f"{keys['ed25519'].get_name()} {keys['ed25519'].get_base64()}".encode()
    text = b"# note\x0chost " + key + b"\nother " + key + b" comment\xe2\x80\xa8host " + key + b"\r\n"
    entries = parse_known_hosts(text)
    assert [(entry.host_field, entry.line_number) for entry in entries] == [("other", 2)]


def test_a_nul_after_the_host_field_is_stepped_over_as_openssh_does(keys):
    key = f"{keys['ed25519'].get_name()} {keys['ed25519'].get_base64()}".encode()
    assert [entry.host_field for entry in parse_known_hosts(b"host\0 " + key + b"\n")] == ["host"]
    assert parse_known_hosts(b"host " + key[:20] + b"\0" + key[20:] + b"\n") == []
