"""requests: the access request file an operator writes and the admin reads as untrusted input."""

from __future__ import annotations

import json
import os
import re
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from hermes_ops.access.public_keys import KeyRefused, parse_public_key
from hermes_ops.access.requests import (REQUEST_SUFFIX, AccessRequest, new_request, read_key_or_request,
                                        read_request, write_request)
from hermes_ops.errors import ConfigError


def make_key(comment: str = "grace@laptop"):
    private = ed25519.Ed25519PrivateKey.generate()
    text = private.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    private_text = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                         serialization.NoEncryption()).decode()
    return parse_public_key(f"{text.decode()} {comment}"), private_text


def a_request(**changes) -> AccessRequest:
    key, _ = make_key()
    given = dict(operator="Grace Hopper", public_key=key, host="203.0.113.7", port=2222, user="core",
                 reason="on call this week", duration="30d")
    given.update(changes)
    return new_request(**given)


def test_new_request():
    key, _ = make_key()
    request = new_request(operator=" Grace Hopper ", public_key=key, host="hermes.example.org", port=22, user="core",
                          reason="on call", duration="720h")
    assert re.fullmatch(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}", request.request_id)
    assert re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z", request.created_at)
    assert (request.operator, request.public_key, request.fingerprint) == ("Grace Hopper", key.text, key.fingerprint)
    assert (request.host, request.port, request.user, request.reason) == ("hermes.example.org", 22, "core", "on call")
    assert request.duration == "720h" and request.version == 1  # as the operator wrote it
    assert a_request(duration="").duration == ""


def test_write_then_read(tmp_path):
    request = a_request()
    folder = tmp_path / "new" / "requests"
    path = write_request(folder, request)
    assert path == folder / f"{request.request_id}{REQUEST_SUFFIX}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644 and stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert read_request(path) == request
    assert json.loads(path.read_text())["fingerprint"] == request.fingerprint
    key, read = read_key_or_request(path)
    assert read == request and key.fingerprint == request.fingerprint and key.text == request.public_key


def test_the_request_file_is_public_whatever_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        path = write_request(tmp_path, a_request())
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_request_is_never_overwritten(tmp_path):
    request = a_request()
    path = write_request(tmp_path, request)
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="an access request already exists at .*: requests are never overwritten"):
        write_request(tmp_path, request)
    assert path.read_bytes() == before


def test_a_link_in_the_way_is_not_followed(tmp_path):
    request = a_request()
    target = tmp_path / "elsewhere"
    (tmp_path / f"{request.request_id}{REQUEST_SUFFIX}").symlink_to(target)
    with pytest.raises(ConfigError, match="already exists"):
        write_request(tmp_path, request)
    assert not target.exists()


def test_write_refuses_a_folder_it_cannot_make(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="cannot create the access request"):
        write_request(tmp_path / "file" / "requests", a_request())


def test_read_key_or_request_takes_a_pub_file(tmp_path):
    key, _ = make_key()
    (tmp_path / "id_ed25519.pub").write_text(key.text + "\n")
    assert read_key_or_request(tmp_path / "id_ed25519.pub") == (key, None)


def test_a_private_key_is_refused_and_never_shown(tmp_path):
    _, private = make_key()
    for name in ("id_ed25519", f"x{REQUEST_SUFFIX}"):
        (tmp_path / name).write_text(private)
        for read in (read_key_or_request, read_request):
            with pytest.raises(KeyRefused, match="this is a PRIVATE key") as caught:
                read(tmp_path / name)
            assert not any(part in str(caught.value) for part in private.split() if len(part) > 10)


# --- a request is strictly checked ----------------------------------------------------------------------

def _mutated(request: AccessRequest, change) -> str:
    data = dict(request.__dict__)
    change(data)
    return json.dumps(data)


def _set(name, value):
    def change(data):
        data[name] = value
    return change


def _drop(name):
    return lambda data: data.pop(name)


_, PRIVATE = make_key()
OTHER_KEY, _ = make_key("mallory")

REFUSED = [
    ("unknown-field", _set("admin", True), "unknown fields 'admin'"),
    ("missing-field", _drop("reason"), "missing fields reason"),
    ("port-as-text", _set("port", "22"), "field port must be a whole number, not str"),
    ("port-as-bool", _set("port", True), "field port must be a whole number, not bool"),
    ("port-as-float", _set("port", 22.0), "field port must be a whole number"),
    ("port-zero", _set("port", 0), "field port must be a TCP port"),
    ("port-large", _set("port", 70000), "field port must be a TCP port"),
    ("version-2", _set("version", 2), "it is version 2; this hermes-ops reads version 1"),
    ("operator-missing", _set("operator", " "), "field operator must be one printable line"),
    ("operator-two-lines", _set("operator", "Grace\nAdmin: approved"), "field operator must be one printable line"),
    ("operator-long", _set("operator", "x" * 201), "field operator must be one printable line"),
    ("operator-escape", _set("operator", "\x1b[31mGrace"), "field operator"),
    ("operator-null", _set("operator", None), "field operator must be text, not NoneType"),
    ("reason-bidi", _set("reason", "ok\u202e"), "field reason must be one printable line of 0 to 200"),
    ("duration-bad", _set("duration", "forever"), "field duration must be empty (no expiry asked) or a whole"),
    ("duration-too-long", _set("duration", "400d"), "field duration must be empty"),
    ("created-at-bad", _set("created_at", "yesterday"), "field created_at must be a UTC time"),
    ("created-at-impossible", _set("created_at", "2026-02-30T10:00:00Z"), "field created_at must be a time on"),
    ("request-id-path", _set("request_id", "../../etc/passwd"), "field request_id must be letters"),
    ("host-option", _set("host", "-oProxyCommand=x"), "field host must be a host name"),
    ("host-space", _set("host", "a b"), "field host"),
    ("user-bad", _set("user", "root; rm"), "field user must be a login name"),
    ("fingerprint-bad", _set("fingerprint", "MD5:00"), "field fingerprint must be SHA256"),
    ("fingerprint-other", _set("fingerprint", OTHER_KEY.fingerprint), "its public_key is not the key its fingerprint"),
    ("key-swapped", _set("public_key", OTHER_KEY.text), "its public_key is not the key its fingerprint"),
    ("key-with-options", lambda data: data.update(public_key="no-pty " + data["public_key"]),
     "options are not accepted"),
    ("key-private", _set("public_key", PRIVATE), "this is a PRIVATE key"),
    ("key-two", lambda data: data.update(public_key=data["public_key"] + "\n" + OTHER_KEY.text), "it holds 2 lines"),
]


@pytest.mark.parametrize("change, expected", [pytest.param(change, expected, id=name)
                                              for name, change, expected in REFUSED])
def test_refused_requests(tmp_path, change, expected):
    path = tmp_path / f"r{REQUEST_SUFFIX}"
    path.write_text(_mutated(a_request(), change))
    with pytest.raises(ConfigError, match=re.escape(expected)) as caught:
        read_request(path)
    assert str(path) in str(caught.value) and "what to do:" in str(caught.value)
    assert "BEGIN OPENSSH" not in str(caught.value)


@pytest.mark.parametrize("content, expected", [
    (b"", "it is not valid JSON"), (b"{", "it is not valid JSON (line 1, column 2)"), (b"[]", "a JSON list"),
    (b'"text"', "a JSON str"), (b'{"port": 1, "port": 2}', "field 'port' appears twice"),
    (b"\xff\xfe{}", "is not UTF-8 text (byte 0)"), (b"{" + b" " * (64 * 1024) + b"}", "is over 64 KiB"),
    (b"[" * 50000 + b"]" * 50000, "is over 64 KiB"), (b"[" * 30000 + b"]" * 30000, "it is not valid JSON"),
])
def test_refused_files(tmp_path, content, expected):
    path = tmp_path / f"r{REQUEST_SUFFIX}"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=re.escape(expected)):
        read_request(path)


def test_refused_paths(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the access request .*missing"):
        read_request(tmp_path / "missing")
    with pytest.raises(ConfigError, match="is not a regular file"):
        read_key_or_request(tmp_path)
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(ConfigError, match="is not a regular file"):
        read_request(tmp_path / "pipe")


def test_a_request_is_checked_when_made():
    key, _ = make_key()
    with pytest.raises(ConfigError, match="field user"):
        new_request(operator="Grace", public_key=key, host="h", port=22, user="", reason="", duration="")
    with pytest.raises(ConfigError, match="duration"):
        new_request(operator="Grace", public_key=key, host="h", port=22, user="core", reason="", duration="1y")
    with pytest.raises(TypeError):
        new_request(operator="Grace", public_key=key.text, host="h", port=22, user="core", reason="", duration="")
