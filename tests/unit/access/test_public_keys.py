"""public_keys: strict parsing of one public key line, judged against OpenSSH's ssh-keygen where it can judge.

The reference keys are made by ssh-keygen itself (once per test process) and the other test
modules of this folder import them from here: `reference_keys`, `ssh_keygen_fingerprints`, `wire`.
"""

from __future__ import annotations

import atexit
import base64
import functools
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from hermes_ops.access.public_keys import (KEY_TYPES, KeyRefused, PublicKey, decode_blob, looks_private,
                                           parse_public_key)
from hermes_ops.errors import ConfigError

needs_ssh_keygen = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH's ssh-keygen")

KEY_SPECS = {
    "ed25519": ["-t", "ed25519"],
    "rsa": ["-t", "rsa", "-b", "2048"],
    "ecdsa256": ["-t", "ecdsa", "-b", "256"],
    "ecdsa384": ["-t", "ecdsa", "-b", "384"],
    "ecdsa521": ["-t", "ecdsa", "-b", "521"],
    "rsa1024": ["-t", "rsa", "-b", "1024"],
}


@functools.cache
def reference_keys() -> dict[str, Path]:
    """name -> private key path (its .pub beside it), made by ssh-keygen once per test process."""
    folder = Path(tempfile.mkdtemp(prefix="hermes-access-keys-"))
    atexit.register(shutil.rmtree, folder, True)
    made = {}
    for name, arguments in KEY_SPECS.items():
        path = folder / name
        subprocess.run(["ssh-keygen", "-q", *arguments, "-N", "", "-C", f"{name}@test", "-f", str(path)],
                       check=True, capture_output=True)
        made[name] = path
    return made


def public_text(name: str) -> str:
    return reference_keys()[name].with_name(f"{name}.pub").read_text()


def reference_key(name: str) -> PublicKey:
    """The ssh-keygen-made key `name` (comment `name@test`)."""
    return decode_blob(base64.b64decode(public_text(name).split()[1]), comment=f"{name}@test")


def ssh_keygen_lines(path: Path) -> list[str]:
    """What `ssh-keygen -lf path` prints, line by line ([] when it finds no key). Bytes, not text mode:
    a comment may end in \\r, which text mode would turn into a line break."""
    done = subprocess.run(["ssh-keygen", "-lf", str(path)], capture_output=True)
    return [line.decode("utf-8", "surrogateescape") for line in done.stdout.split(b"\n") if line]


def ssh_keygen_fingerprints(path: Path) -> list[str]:
    return [line.split(" ")[1] for line in ssh_keygen_lines(path)]


def wire(*fields: bytes) -> bytes:
    """SSH wire-format strings, concatenated."""
    return b"".join(struct.pack(">I", len(field)) + field for field in fields)


def fields(blob: bytes) -> list[bytes]:
    found, offset = [], 0
    while offset < len(blob):
        (length,) = struct.unpack_from(">I", blob, offset)
        found.append(blob[offset + 4:offset + 4 + length])
        offset += 4 + length
    return found


def line(key_type: str, blob: bytes, comment: str = "") -> str:
    return f"{key_type} {base64.b64encode(blob).decode()}" + (f" {comment}" if comment else "")


def ed25519_point() -> bytes:
    return ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.Raw,
                                                                         serialization.PublicFormat.Raw)


def p256_point() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def sk_lines() -> dict[str, str]:
    """FIDO (security key) public keys, made by hand: ssh-keygen needs the token to make one, not to read one."""
    return {
        "sk-ed25519": line("sk-ssh-ed25519@openssh.com",
                           wire(b"sk-ssh-ed25519@openssh.com", ed25519_point(), b"ssh:"), "yubi@test"),
        "sk-ecdsa": line("sk-ecdsa-sha2-nistp256@openssh.com",
                         wire(b"sk-ecdsa-sha2-nistp256@openssh.com", b"nistp256", p256_point(), b"ssh:hermes"),
                         "token@test"),
    }


# --- agreement with ssh-keygen --------------------------------------------------------------------------

@needs_ssh_keygen
@pytest.mark.parametrize("name", ["ed25519", "rsa", "ecdsa256", "ecdsa384", "ecdsa521"])
def test_fingerprint_line_is_what_ssh_keygen_prints(name):
    key = parse_public_key(public_text(name), source=f"{name}.pub")
    pub = reference_keys()[name].with_name(f"{name}.pub")
    assert ssh_keygen_lines(pub) == [key.fingerprint_line()]
    assert key.text == public_text(name).strip() and key.comment == f"{name}@test"
    assert key.line == " ".join(public_text(name).split()[:2])


@needs_ssh_keygen
@pytest.mark.parametrize("name", ["sk-ed25519", "sk-ecdsa"])
def test_security_key_types_match_ssh_keygen(tmp_path, name):
    text = sk_lines()[name]
    (tmp_path / "key.pub").write_text(text + "\n")
    key = parse_public_key(text)
    assert ssh_keygen_lines(tmp_path / "key.pub") == [key.fingerprint_line()]
    assert key.label == {"sk-ed25519": "ED25519-SK", "sk-ecdsa": "ECDSA-SK"}[name] and key.bits == 256


@needs_ssh_keygen
@pytest.mark.parametrize("comment, shown", [("", "no comment"), ("#not shown", "no comment"),
                                            ("two  inner  spaces", "two  inner  spaces"),
                                            ("Zoë Ünicode", "Zoë Ünicode")])
def test_comments_print_as_ssh_keygen_prints_them(tmp_path, comment, shown):
    text = " ".join(public_text("ed25519").split()[:2]) + (f" {comment}" if comment else "")
    (tmp_path / "key.pub").write_text(text + "\n", encoding="utf-8")
    key = parse_public_key(text)
    assert key.comment == comment
    assert key.fingerprint_line().endswith(f" {shown} (ED25519)")
    assert ssh_keygen_lines(tmp_path / "key.pub") == [key.fingerprint_line()]


@needs_ssh_keygen
def test_lenient_blob_reading_fingerprints_like_ssh_keygen(tmp_path):
    """decode_blob reads what sshd reads and fingerprints the key as OpenSSH re-encodes it."""
    rsa_type, exponent, modulus = fields(base64.b64decode(public_text("rsa").split()[1]))
    ed_type, point = fields(base64.b64decode(public_text("ed25519").split()[1]))
    lenient = [
        ("ssh-rsa", wire(rsa_type, b"\0\0" + exponent, modulus)),           # leading zeros
        ("ssh-rsa", wire(b"rsa-sha2-512", exponent, modulus)),              # a signature name in the blob
        ("ssh-rsa", wire(b"RSA", exponent, modulus)),                       # a short name, any case
        ("ssh-ed25519", wire(b"ed25519", point)),
        ("ssh-ed25519", wire(ed_type + b"\0", point)),                      # one trailing NUL in a string
    ]
    for key_type, blob in lenient:
        (tmp_path / "key.pub").write_text(line(key_type, blob) + "\n")
        key = decode_blob(blob)
        assert ssh_keygen_fingerprints(tmp_path / "key.pub") == [key.fingerprint]
        with pytest.raises(KeyRefused, match="not written the way OpenSSH|says its type is|extra leading zero"):
            parse_public_key(line(key_type, blob))  # the strict reader wants what OpenSSH writes


@needs_ssh_keygen
def test_rsa_1024_is_read_by_openssh_but_not_granted(tmp_path):
    text = public_text("rsa1024")
    assert ssh_keygen_fingerprints(reference_keys()["rsa1024"].with_name("rsa1024.pub"))
    assert decode_blob(base64.b64decode(text.split()[1])).bits == 1024
    with pytest.raises(KeyRefused, match="RSA key of 1024 bits is too small: 2048 bits at least"):
        parse_public_key(text)


# --- what is accepted ---------------------------------------------------------------------------------

@needs_ssh_keygen
@pytest.mark.parametrize("wrap", [
    lambda text: text, lambda text: text + "\n", lambda text: "  " + text + "\r\n", lambda text: "\n" + text + "\n\n",
    lambda text: text.replace(" ", "\t", 1)])
def test_surrounding_whitespace_and_tab_separators_are_fine(wrap):
    text = public_text("ed25519").strip()
    assert parse_public_key(wrap(text)).text == text


@needs_ssh_keygen
def test_properties():
    key = parse_public_key(public_text("ed25519"))
    assert key.key_type == "ssh-ed25519" and key.bits == 256 and key.label == "ED25519"
    assert key.base64 == public_text("ed25519").split()[1]
    assert key.fingerprint.startswith("SHA256:") and len(key.fingerprint) == 7 + 43
    assert "AAAA" not in repr(key) and key.fingerprint in repr(key)
    rsa_key = parse_public_key(public_text("rsa"))
    assert (rsa_key.bits, rsa_key.label) == (2048, "RSA")
    assert [parse_public_key(public_text(name)).bits for name in ("ecdsa256", "ecdsa384", "ecdsa521")] == [256, 384, 521]
    assert set(KEY_TYPES) == {"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                              "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
                              "sk-ecdsa-sha2-nistp256@openssh.com"}


def test_a_public_key_is_checked_when_made():
    key = parse_public_key(MADE_LINES["ed25519"])
    assert PublicKey(key.key_type, key.blob) == PublicKey(key.key_type, key.blob, "")
    with pytest.raises(KeyRefused):
        PublicKey("ssh-rsa", key.blob)
    with pytest.raises(KeyRefused):
        PublicKey(key.key_type, key.blob + b"\0")
    with pytest.raises(AttributeError):
        key.comment = "changed"  # frozen


# --- what is refused, and how ---------------------------------------------------------------------------

def _private_pem(private_format) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return key.private_bytes(serialization.Encoding.PEM, private_format, serialization.NoEncryption()).decode()


def _openssh_line(private) -> str:
    return private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                             serialization.PublicFormat.OpenSSH).decode()


# Keys for the data-driven cases, made at import by cryptography (ssh-keygen is for the comparisons).
MADE = {
    "ed25519": ed25519.Ed25519PrivateKey.generate(),
    "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "ecdsa256": ec.generate_private_key(ec.SECP256R1()),
    "ecdsa384": ec.generate_private_key(ec.SECP384R1()),
}
MADE_LINES = {name: _openssh_line(private) for name, private in MADE.items()}


def _with_blob(name: str, change) -> str:
    """A made key's line with its blob changed by `change(blob) -> blob`."""
    key_type, encoded = MADE_LINES[name].split()[:2]
    return line(key_type, change(base64.b64decode(encoded)), "x@test")


def _flip_point(blob: bytes) -> bytes:
    key_type, curve, point = fields(blob)
    return wire(key_type, curve, point[:-1] + bytes([point[-1] ^ 1]))


def _compressed(blob: bytes) -> bytes:
    key_type, curve, point = fields(blob)
    return wire(key_type, curve, bytes([2 + (point[-1] & 1)]) + point[1:33])


ED = MADE_LINES["ed25519"].split()[1]
ECDSA384 = MADE_LINES["ecdsa384"].split()[1]


def _openssh_private() -> str:
    return MADE["ed25519"].private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                         serialization.NoEncryption()).decode()


def _stray_bits(encoded: str) -> str:
    """The same base64 with non-zero bits in the unused low bits before the padding."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = encoded.rstrip("=")
    index = alphabet.index(last[-1])
    return last[:-1] + alphabet[index ^ 1] + encoded[len(last):]


PRIVATE = [
    pytest.param(_openssh_private, id="openssh-private-key"),
    pytest.param(lambda: _private_pem(serialization.PrivateFormat.TraditionalOpenSSL), id="pem-rsa-private-key"),
    pytest.param(lambda: _private_pem(serialization.PrivateFormat.PKCS8), id="pkcs8-private-key"),
    pytest.param(lambda: "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: me\nPublic-Lines: 2\n"
                         "AAAAC3NzaC1lZDI1NTE5AAAAIDZ0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\n", id="putty-key"),
    pytest.param(lambda: "".join(_openssh_private().splitlines()[1:-1]), id="openssh-private-body-without-armour"),
    pytest.param(lambda: MADE_LINES["ed25519"] + "\n" + _openssh_private(), id="public-then-private"),
]


@pytest.mark.parametrize("make_text", PRIVATE)
def test_a_private_key_is_refused_and_never_echoed(make_text):
    text = make_text()
    with pytest.raises(KeyRefused) as caught:
        parse_public_key(text, source="the file alice sent")
    shown = str(caught.value) + repr(caught.value)
    assert "the file alice sent is refused: this is a PRIVATE key: never send or paste it anywhere; send the .pub " \
           "file" in shown
    assert not any(len(part) >= 8 and part in shown for part in text.split())
    assert caught.value.source == "the file alice sent" and isinstance(caught.value, (ConfigError, ValueError))
    assert looks_private(text)


KNOWN_NAMES = {*KEY_TYPES, "ssh-dss", "rsa-sha2-256", "rsa-sha2-512"}  # may be named in a message

REFUSED = [
    ("options-command", f'command="echo hi" ssh-ed25519 {ED} x', "options are not accepted in a key to grant; "
                                                                  "give only the public key"),
    ("options-from", f'from="10.0.0.1" ssh-ed25519 {ED}', "options are not accepted"),
    ("options-no-pty", f"no-pty ssh-rsa {ED}", "options are not accepted"),
    ("options-restrict", f"restrict ssh-ed25519 {ED}", "options are not accepted"),
    ("options-list", f"no-pty,no-X11-forwarding ssh-ed25519 {ED}", "options are not accepted"),
    ("options-before-dss", f"restrict ssh-dss {ED}", "options are not accepted"),
    ("two-keys", MADE_LINES["ed25519"] + "\n" + MADE_LINES["rsa"], "it holds 2 lines; exactly one public key line"),
    ("two-keys-blank-between", MADE_LINES["ed25519"] + "\n\n\n" + MADE_LINES["rsa"], "it holds 2 lines"),
    ("empty", "", "it is empty"),
    ("blank", " \n\t\n", "it is empty"),
    ("type-only", "ssh-ed25519", r"the key data \(the base64 after the type\) is missing"),
    ("unknown-type", f"ssh-foo {ED} x", "the first word is not a key type we accept"),
    ("prose", "hello there, this is my key", "the first word is not a key type we accept"),
    ("dss", f"ssh-dss {ED} x", "DSA keys are refused"),
    ("certificate", f"ssh-ed25519-cert-v01@openssh.com {ED} x", "certificates are not accepted"),
    ("signature-name", f"rsa-sha2-512 {ED} x", "rsa-sha2-512 is a signature algorithm"),
    ("bad-base64", "ssh-ed25519 AAAA!!!! x", "the key data is not valid base64"),
    ("missing-padding", "ecdsa-sha2-nistp384 " + ECDSA384.rstrip("="), "the key data is not valid base64"),
    ("extra-padding", "ecdsa-sha2-nistp384 " + ECDSA384 + "=", "the key data is not valid base64"),
    ("stray-bits", "ecdsa-sha2-nistp384 " + _stray_bits(ECDSA384), "the key data is not valid base64"),
    ("type-mismatch", f"ssh-rsa {ED} x", "it holds a ssh-ed25519 key but the line says ssh-rsa"),
    ("ecdsa-curve-mismatch", "ecdsa-sha2-nistp256 " + ECDSA384, "it holds a ecdsa-sha2-nistp384 key but the line"),
    ("embedded-signature-name", _with_blob("rsa", lambda blob: wire(b"rsa-sha2-256", *fields(blob)[1:])),
     "it says its type is rsa-sha2-256"),
    ("truncated", _with_blob("ed25519", lambda blob: blob[:-5]), "the key data is damaged: it is truncated"),
    ("truncated-length", _with_blob("ed25519", lambda blob: blob[:2]), "it is truncated"),
    ("trailing-bytes", _with_blob("ed25519", lambda blob: blob + b"\0\0\0\0"), "it has 4 bytes after the key"),
    ("short-ed25519", _with_blob("ed25519", lambda blob: wire(b"ssh-ed25519", b"\1" * 31)), "is 31 bytes, not 32"),
    ("point-off-curve", _with_blob("ecdsa256", _flip_point), "the ECDSA point is not on its curve"),
    ("compressed-point", _with_blob("ecdsa256", _compressed), "not an uncompressed point"),
    ("rsa-leading-zero", _with_blob("rsa", lambda blob: wire(fields(blob)[0], b"\0" + fields(blob)[1],
                                                            fields(blob)[2])), "extra leading zero bytes"),
    ("rsa-negative", _with_blob("rsa", lambda blob: wire(fields(blob)[0], b"\x81", fields(blob)[2])), "negative"),
    ("rsa-even-exponent", _with_blob("rsa", lambda blob: wire(fields(blob)[0], b"\2", fields(blob)[2])),
     "paramiko cannot load the key data"),
    ("dss-blob", _with_blob("ed25519", lambda blob: wire(b"ssh-dss", b"x")), "it says its type is ssh-dss"),
    ("comment-escape", f"ssh-ed25519 {ED} evil\x1b[2Jcomment", r"the comment \(after the key data\) contains control"),
    ("comment-nul", f"ssh-ed25519 {ED} a\x00b", "contains control"),
    ("comment-tab", f"ssh-ed25519 {ED} a\tb", "contains control"),
    ("comment-bidi", f"ssh-ed25519 {ED} alice\u202egnp.exe", "contains control or invisible formatting"),
    ("comment-line-separator", f"ssh-ed25519 {ED} a\u2028b", "contains control"),
    ("comment-carriage-return", f"ssh-ed25519 {ED} a\rb", "it holds 2 lines"),
    ("over-8-kib", f"ssh-ed25519 {ED} " + "a" * 9000, "it is over 8 KiB"),
]


@pytest.mark.parametrize("text, expected", [pytest.param(text, expected, id=name) for name, text, expected in REFUSED])
def test_refused_with_a_reason_and_without_the_text(text, expected):
    with pytest.raises(KeyRefused, match=expected) as caught:
        parse_public_key(text, source="request 42")
    message = str(caught.value)
    assert message.startswith("request 42 is refused: ") and "what to do:" in message
    for word in text.split():
        if len(word) >= 12 and word not in KNOWN_NAMES:
            assert word not in message, "the text given must never be echoed"


def test_what_is_not_text_is_refused():
    with pytest.raises(KeyRefused, match="expected text, got bytes"):
        parse_public_key(MADE_LINES["ed25519"].encode())


def test_the_rsa_minimum_for_a_grant_is_2048_bits():
    small = rsa.generate_private_key(public_exponent=65537, key_size=1536).public_key()
    text = small.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    with pytest.raises(KeyRefused, match="RSA key of 1536 bits is too small"):
        parse_public_key(text)
    assert parse_public_key(MADE_LINES["rsa"]).bits == 2048
