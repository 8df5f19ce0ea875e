"""The key field of a known_hosts line, decoded exactly as OpenSSH's `sshkey_read` does.

Two keys are the same key when OpenSSH's `sshkey_equal` says so: same type, same public
numbers. So a field decodes to the key's *canonical blob* (the wire form re-serialised from
its parsed parts), and equal canonical blobs are equal keys.

OpenSSH's rules, kept here:
- the type word is one OpenSSH knows, spelled exactly (`rsa-sha2-256`/`-512` are names of
  an RSA key too), and it must be followed by a space or tab;
- the base64 is decoded by BIND's `b64_pton`, which skips C whitespace anywhere (a CR left
  by a Windows editor, a form feed), wants correct padding and zero unused bits;
- the blob's own type must be the line's type (its name or OpenSSH's short name, such as
  `ED25519`), an ECDSA blob's curve the one its name says; nothing may follow the key;
- numbers are positive and at most 16,384 bits; an RSA modulus has at least 1,024 bits;
  an Ed25519 key is 32 bytes; an ECDSA point is uncompressed and on its curve.

Certificates (`*-cert-v01@openssh.com`) are not decoded: a plain known_hosts line holding
a certificate pins nothing here (OpenSSH would compare its inner key); see `hostkeys`.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_C_WHITESPACE = b" \t\n\v\f\r"
_MAX_BIGNUM_BYTES = 16384 // 8
_RSA_MINIMUM_BITS = 1024
_ED25519_KEY_BYTES = 32


@dataclass(frozen=True)
class _KeyKind:
    """One of OpenSSH's key implementations (`sshkey_impl`): what a type name stands for."""

    family: str  # the plain key type: ed25519, ed25519-sk, ecdsa, ecdsa-sk, rsa, dsa
    short_name: str
    curve: str | None = None
    certificate: bool = False


_CURVES = {"nistp256": ec.SECP256R1(), "nistp384": ec.SECP384R1(), "nistp521": ec.SECP521R1()}

# In OpenSSH's order (keyimpls[]): the short-name lookup takes the first match.
_KINDS = {
    "ssh-ed25519": _KeyKind("ed25519", "ED25519"),
    "ssh-ed25519-cert-v01@openssh.com": _KeyKind("ed25519", "ED25519-CERT", certificate=True),
    "sk-ssh-ed25519@openssh.com": _KeyKind("ed25519-sk", "ED25519-SK"),
    "sk-ssh-ed25519-cert-v01@openssh.com": _KeyKind("ed25519-sk", "ED25519-SK-CERT", certificate=True),
    "ecdsa-sha2-nistp256": _KeyKind("ecdsa", "ECDSA", "nistp256"),
    "ecdsa-sha2-nistp384": _KeyKind("ecdsa", "ECDSA", "nistp384"),
    "ecdsa-sha2-nistp521": _KeyKind("ecdsa", "ECDSA", "nistp521"),
    "ecdsa-sha2-nistp256-cert-v01@openssh.com": _KeyKind("ecdsa", "ECDSA-CERT", "nistp256", True),
    "ecdsa-sha2-nistp384-cert-v01@openssh.com": _KeyKind("ecdsa", "ECDSA-CERT", "nistp384", True),
    "ecdsa-sha2-nistp521-cert-v01@openssh.com": _KeyKind("ecdsa", "ECDSA-CERT", "nistp521", True),
    "sk-ecdsa-sha2-nistp256@openssh.com": _KeyKind("ecdsa-sk", "ECDSA-SK", "nistp256"),
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com": _KeyKind("ecdsa-sk", "ECDSA-SK-CERT", "nistp256", True),
    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com": _KeyKind("ecdsa-sk", "ECDSA-SK", "nistp256"),
    "ssh-dss": _KeyKind("dsa", "DSA"),
    "ssh-dss-cert-v01@openssh.com": _KeyKind("dsa", "DSA-CERT", certificate=True),
    "ssh-rsa": _KeyKind("rsa", "RSA"),
    "ssh-rsa-cert-v01@openssh.com": _KeyKind("rsa", "RSA-CERT", certificate=True),
    "rsa-sha2-256": _KeyKind("rsa", "RSA"),
    "rsa-sha2-512": _KeyKind("rsa", "RSA"),
    "rsa-sha2-256-cert-v01@openssh.com": _KeyKind("rsa", "RSA-CERT", certificate=True),
    "rsa-sha2-512-cert-v01@openssh.com": _KeyKind("rsa", "RSA-CERT", certificate=True),
}

# The name a plain key of each family is written under (its canonical blob starts with it).
_CANONICAL_NAME = {"ed25519": "ssh-ed25519", "ed25519-sk": "sk-ssh-ed25519@openssh.com", "rsa": "ssh-rsa",
                   "dsa": "ssh-dss", "ecdsa-sk": "sk-ecdsa-sha2-nistp256@openssh.com"}


class _Invalid(Exception):
    """The field is not a key OpenSSH would load: the line is skipped."""


@dataclass(frozen=True)
class ParsedKey:
    """A key read from a known_hosts line."""

    key_type: str  # the canonical type name (ssh-rsa for a line that says rsa-sha2-256)
    blob: bytes  # the canonical blob: equal blobs are equal keys, as OpenSSH compares them


def b64_pton(text: bytes) -> bytes | None:
    """BIND's (and so OpenSSH's) base64 decoder: None where it fails.

    Whitespace is skipped anywhere; after the data, padding must be complete and only
    whitespace may follow; the unused bits of the last character must be zero.
    """
    values: list[int] = []
    padded = False
    index = 0
    while index < len(text):
        byte = text[index]
        index += 1
        if byte in _C_WHITESPACE:
            continue
        if byte == ord("="):
            padded = True
            break
        value = _BASE64.find(bytes((byte,)))
        if value < 0:
            return None
        values.append(value)
    state = len(values) % 4
    if padded:
        rest = text[index:]
        if state in (0, 1):
            return None
        if state == 2:
            rest = rest.lstrip(_C_WHITESPACE)
            if not rest.startswith(b"="):
                return None
            rest = rest[1:]
        if rest.strip(_C_WHITESPACE):
            return None
        if values[-1] & (0x0F if state == 2 else 0x03):
            return None
    elif state != 0:
        return None
    number = 0
    for value in values:
        number = (number << 6) | value
    bits = 6 * len(values)
    whole_bytes = bits // 8
    return (number >> (bits - 8 * whole_bytes)).to_bytes(whole_bytes, "big") if whole_bytes else b""


class _Reader:
    """SSH wire format (RFC 4251) from a blob, refusing what OpenSSH's sshbuf refuses."""

    def __init__(self, data: bytes):
        self.data, self.position = data, 0

    def string(self) -> bytes:
        if self.position + 4 > len(self.data):
            raise _Invalid("truncated")
        length = int.from_bytes(self.data[self.position:self.position + 4], "big")
        start = self.position + 4
        if start + length > len(self.data):
            raise _Invalid("truncated")
        self.position = start + length
        return self.data[start:self.position]

    def cstring(self) -> bytes:
        value = self.string()
        if b"\0" in value:
            raise _Invalid("NUL in a string")
        return value

    def mpint(self) -> int:
        raw = self.string()
        if raw and raw[0] & 0x80:
            raise _Invalid("negative number")
        if len(raw) > _MAX_BIGNUM_BYTES + 1 or (len(raw) == _MAX_BIGNUM_BYTES + 1 and raw[0] != 0):
            raise _Invalid("number too large")
        return int.from_bytes(raw, "big")

    def finished(self) -> bool:
        return self.position == len(self.data)


def _string(value: bytes) -> bytes:
    return len(value).to_bytes(4, "big") + value


def _mpint(value: int) -> bytes:
    """The shortest positive mpint: a zero byte in front only when the top bit is set."""
    return _string(value.to_bytes(value.bit_length() // 8 + 1, "big") if value else b"")


def _kind_from_blob_name(name: bytes) -> tuple[bool, _KeyKind]:
    """OpenSSH's `sshkey_type_from_name`: (exact?, kind) for the exact name, or a plain key's short name in any case."""
    text = name.decode("latin-1")
    if text in _KINDS:
        return True, _KINDS[text]
    for kind in _KINDS.values():
        if not kind.certificate and kind.short_name.lower() == text.lower():
            return False, kind
    raise _Invalid("unknown key type in the blob")


def _ecdsa_point(reader: _Reader, curve_name: str) -> bytes:
    if reader.cstring().decode("latin-1") != curve_name:
        raise _Invalid("curve mismatch")
    point = reader.string()
    if not point or point[0] != 0x04:
        raise _Invalid("only uncompressed points")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(_CURVES[curve_name], point)
    except ValueError:
        raise _Invalid("not a point on the curve") from None
    return point


def _canonical_blob(blob: bytes) -> tuple[_KeyKind, bytes]:
    reader = _Reader(blob)
    exact, kind = _kind_from_blob_name(reader.cstring())
    if kind.certificate:
        raise _Invalid("certificates are not decoded")
    if kind.family in ("ed25519", "ed25519-sk"):
        public = reader.string()
        if len(public) != _ED25519_KEY_BYTES:
            raise _Invalid("an Ed25519 key is 32 bytes")
        parts = [_string(public)]
    elif kind.family == "rsa":
        exponent, modulus = reader.mpint(), reader.mpint()
        if modulus.bit_length() < _RSA_MINIMUM_BITS:
            raise _Invalid("RSA modulus too small")
        parts = [_mpint(exponent), _mpint(modulus)]
    elif kind.family == "dsa":
        parts = [_mpint(reader.mpint()) for _ in range(4)]
    else:  # ecdsa, ecdsa-sk: the name decides the curve; the blob must agree
        if not exact:  # OpenSSH takes the curve from the blob's type name: a short name has none
            raise _Invalid("an ECDSA blob must name its curve")
        parts = [_string(kind.curve.encode()), _string(_ecdsa_point(reader, kind.curve))]
    if kind.family.endswith("-sk"):
        parts.append(_string(reader.cstring()))  # the security key's application
    if not reader.finished():
        raise _Invalid("data after the key")
    canonical_name = _CANONICAL_NAME.get(kind.family) or f"ecdsa-sha2-{kind.curve}"
    return kind, _string(canonical_name.encode()) + b"".join(parts)


def read_key_field(type_word: bytes, encoded: bytes) -> ParsedKey | None:
    """The key a known_hosts line names by `type_word` and its base64 `encoded`; None if OpenSSH would skip it."""
    line_kind = _KINDS.get(type_word.decode("latin-1"))
    if line_kind is None or line_kind.certificate:
        return None
    blob = b64_pton(encoded)
    if blob is None:
        return None
    try:
        kind, canonical = _canonical_blob(blob)
    except _Invalid:
        return None
    if kind.family != line_kind.family or kind.curve != line_kind.curve:
        return None
    return ParsedKey(key_type=_Reader(canonical).cstring().decode(), blob=canonical)


def canonical_key_blob(blob: bytes) -> bytes | None:
    """The canonical blob of a key in wire form (as a server presents it); None if OpenSSH would refuse it."""
    try:
        return _canonical_blob(blob)[1]
    except _Invalid:
        return None
