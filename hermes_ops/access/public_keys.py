"""Public keys as OpenSSH writes them (`TYPE BASE64 comment`): strict checking, fingerprints, sizes.

An admin grants access by pasting what an operator sent. What arrives may be the private
key (sent by mistake), a line copied from another authorized_keys file with options in
front, two keys, or a key cut short in transit. `parse_public_key` accepts exactly one
plain public key line of a type we allow and refuses everything else with a message that
says what is wrong without ever showing the text: a private key must not end up in a
log, a record or a notebook output.

The key blob is read in the SSH wire format, field by field per type, as sshd reads it
(`sshkey_from_blob`), and must be canonical (the bytes OpenSSH itself would write);
paramiko then loads it as a second opinion where it knows the type. `decode_blob` is the
lenient reader the authorized_keys parser uses: it accepts what sshd accepts (type name
aliases, non-minimal integers, RSA keys from 1024 bits) and re-encodes the key the way
OpenSSH does before fingerprinting, so fingerprints match `ssh-keygen -l`.

Allowed types: ssh-ed25519, ssh-rsa (2048 bits or more to be granted),
ecdsa-sha2-nistp256/384/521 and the FIDO forms sk-ssh-ed25519@openssh.com and
sk-ecdsa-sha2-nistp256@openssh.com. DSA keys and certificates are refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
import unicodedata
from dataclasses import dataclass, field

import paramiko
from cryptography.hazmat.primitives.asymmetric import ec

from hermes_ops.errors import ConfigError

MAX_TEXT_BYTES = 8 * 1024
MIN_RSA_BITS = 2048  # to be granted; sshd itself accepts 1024 (SSH_RSA_MINIMUM_MODULUS_SIZE)
SSHD_MIN_RSA_BITS = 1024
SSHD_MAX_RSA_BITS = 16384

ED25519 = "ssh-ed25519"
RSA = "ssh-rsa"
ED25519_SK = "sk-ssh-ed25519@openssh.com"
ECDSA_SK = "sk-ecdsa-sha2-nistp256@openssh.com"

# The word `ssh-keygen -l` prints in parentheses, per type.
LABELS = {
    ED25519: "ED25519",
    RSA: "RSA",
    "ecdsa-sha2-nistp256": "ECDSA",
    "ecdsa-sha2-nistp384": "ECDSA",
    "ecdsa-sha2-nistp521": "ECDSA",
    ED25519_SK: "ED25519-SK",
    ECDSA_SK: "ECDSA-SK",
}
KEY_TYPES = tuple(LABELS)

# curve name in the blob, cryptography curve, coordinate bytes, bits ssh-keygen prints
_CURVES = {
    "nistp256": (ec.SECP256R1(), 32, 256),
    "nistp384": (ec.SECP384R1(), 48, 384),
    "nistp521": (ec.SECP521R1(), 66, 521),
}

# What sshd reads as the type word of a key line (peek_type_nid: exact names; the RSA
# signature algorithm names are also names of the RSA key type).
LINE_TYPE_ALIASES = {"rsa-sha2-256": RSA, "rsa-sha2-512": RSA}

# Types OpenSSH knows that we do not grant: named in the refusal (they are not secret).
_REFUSED_TYPES = {
    "ssh-dss": "DSA keys are refused (OpenSSH disabled them): create an ed25519 key",
}
_CERTIFICATE = re.compile(r"[a-z0-9@.-]+-cert-v0[01]@openssh\.com")

# Signs that the text is a private key, in any of the formats people have.
_PRIVATE_MARKERS = ("PRIVATE KEY", "-----BEGIN", "PuTTY-User-Key-File", "b3BlbnNzaC1rZXktdjE")

# Words that start an authorized_keys line with options (sshd's option names).
_OPTION_WORDS = re.compile(
    r"(?i)(no-)?(restrict|cert-authority|port-forwarding|agent-forwarding|x11-forwarding|pty|user-rc|"
    r"touch-required|verify-required|command|principals|from|expiry-time|environment|permitopen|"
    r"permitlisten|tunnel)([=,]|$)")

_FORBIDDEN_CATEGORIES = ("Cc", "Cf", "Zl", "Zp", "Cs")


class KeyRefused(ConfigError):
    """A public key (or what was given as one) is refused; the text is never echoed."""

    def __init__(self, message: str, *, source: str = "the public key", **where):
        self.source = source
        super().__init__(message, **where)


class _Malformed(Exception):
    """A blob that does not read as a key; the message says why (it never holds the blob)."""


@dataclass(frozen=True)
class PublicKey:
    """One public key: its type, its SSH wire-format blob and the comment that came with it.

    The blob is checked when the key is made (it must be a well-formed key of `key_type`,
    written canonically); `comment` is kept as given.
    """

    key_type: str
    blob: bytes
    comment: str = ""
    _bits: int = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        try:
            decoded_type, bits, canonical = _decode(self.blob)
        except _Malformed as error:
            raise KeyRefused(f"the key data is not a valid {self.key_type} key: {error}") from None
        if decoded_type != self.key_type or canonical != self.blob:
            raise KeyRefused(f"the key data is not a canonical {self.key_type} key",
                             hint="build a PublicKey with parse_public_key or decode_blob")
        object.__setattr__(self, "_bits", bits)

    def __repr__(self) -> str:
        return f"PublicKey({self.key_type} {self.fingerprint} {self.comment!r})"

    @property
    def base64(self) -> str:
        return base64.b64encode(self.blob).decode("ascii")

    @property
    def line(self) -> str:
        """`TYPE BASE64`, without the comment: what identifies the key."""
        return f"{self.key_type} {self.base64}"

    @property
    def text(self) -> str:
        """The line as a .pub file holds it: `TYPE BASE64 comment` (no trailing space without a comment)."""
        return f"{self.line} {self.comment}" if self.comment else self.line

    @property
    def fingerprint(self) -> str:
        """`SHA256:` and the unpadded base64 of the blob's sha256, exactly as OpenSSH prints it."""
        digest = hashlib.sha256(self.blob).digest()
        return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")

    @property
    def bits(self) -> int:
        """The size ssh-keygen prints: 256 for ed25519 (and its sk form), the modulus for RSA, the curve for ECDSA."""
        return self._bits

    @property
    def label(self) -> str:
        """The type as `ssh-keygen -l` names it in parentheses: ED25519, RSA, ECDSA, ED25519-SK, ECDSA-SK."""
        return LABELS[self.key_type]

    def fingerprint_line(self) -> str:
        """Exactly what `ssh-keygen -lf KEY.pub` prints, e.g. `256 SHA256:... alice@laptop (ED25519)`.

        ssh-keygen shows "no comment" for a missing comment and for one that starts with `#`.
        """
        comment = self.comment if self.comment and not self.comment.startswith("#") else "no comment"
        return f"{self.bits} {self.fingerprint} {comment} ({self.label})"


def parse_public_key(text: str, *, source: str = "the public key") -> PublicKey:
    """The one public key in `text` (`TYPE BASE64 [comment]`), checked strictly.

    Surrounding whitespace (a trailing newline) is fine. `source` names where the text came
    from in error messages (a path, "the request's public_key"); the text itself is never shown.

    Raises:
        KeyRefused: a private key; options in front of the key; not exactly one line; an
            unknown or refused type; bad or non-canonical base64; a blob that is truncated, has
            trailing bytes, says another type or is not canonical; an RSA key under 2048 bits;
            a comment with control characters; more than 8 KiB.
    """
    if not isinstance(text, str):
        raise KeyRefused(f"{source} is refused: expected text, got {type(text).__name__}", source=source)

    def refuse(reason: str, hint: str | None = None) -> KeyRefused:
        return KeyRefused(f"{source} is refused: {reason}", source=source,
                          hint=hint or "send the one line of the key's .pub file (ssh-keygen -y -f KEY prints it)")

    if looks_private(text):
        raise private_key_refused(source)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        raise refuse(f"it is over {MAX_TEXT_BYTES // 1024} KiB, far more than one public key line")
    stripped = text.strip()
    if not stripped:
        raise refuse("it is empty")
    lines = [line for line in re.split(r"\r\n|\r|\n", stripped) if line.strip()]
    if len(lines) > 1:
        raise refuse(f"it holds {len(lines)} lines; exactly one public key line is needed",
                     hint="send one key per request: the one line of its .pub file")
    words = re.split(r"[ \t]+", stripped)  # sshd's field separators
    if words[0] not in KEY_TYPES:
        raise refuse(*_type_problem(words[0], words[1:]))
    match = re.fullmatch(r"([^ \t]+)[ \t]+([^ \t]+)(?:[ \t]+(.*))?", stripped, flags=re.DOTALL)
    if match is None:
        raise refuse("the key data (the base64 after the type) is missing")
    key_type, encoded, comment = match.group(1), match.group(2), match.group(3) or ""
    if any(unicodedata.category(char) in _FORBIDDEN_CATEGORIES for char in comment):
        raise refuse("the comment (after the key data) contains control or invisible formatting characters",
                     hint="remove them from the comment, or send the key without a comment")
    blob = _strict_base64(encoded)
    if blob is None:
        raise refuse("the key data is not valid base64 as OpenSSH writes it (damaged or cut in transit?)")
    try:
        _, bits, canonical = _decode(blob, expected=key_type)
    except _Malformed as error:
        raise refuse(f"the key data is damaged: {error}") from None
    if canonical != blob:
        raise refuse("the key data is not written the way OpenSSH writes it (non-canonical encoding)")
    if key_type == RSA and bits < MIN_RSA_BITS:
        raise refuse(f"an RSA key of {bits} bits is too small: {MIN_RSA_BITS} bits at least",
                     hint="create an ed25519 key: ssh-keygen -t ed25519")
    _paramiko_check(key_type, blob, refuse)
    return PublicKey(key_type, blob, comment)


def decode_blob(blob: bytes, *, comment: str = "") -> PublicKey:
    """The key in a wire-format blob read as sshd reads it, re-encoded the way OpenSSH writes it.

    Lenient where sshd is: type name aliases in the blob (`rsa-sha2-512`, `RSA`, `ed25519`),
    integers with extra leading zeros, one trailing NUL in a string, RSA keys of 1024 bits or more.

    Raises:
        KeyRefused: sshd would not read it (truncated, trailing bytes, a type we do not allow,
            an ECDSA point off its curve, ...).
    """
    try:
        key_type, _, canonical = _decode(blob)
    except _Malformed as error:
        raise KeyRefused(f"the key data is not a key sshd reads: {error}") from None
    return PublicKey(key_type, canonical, comment)


def looks_private(text: str) -> bool:
    """Does `text` hold a private key (PEM, OpenSSH, PuTTY), even in part?"""
    return any(marker in text for marker in _PRIVATE_MARKERS)


def private_key_refused(source: str) -> KeyRefused:
    """The refusal for a private key given where a public key belongs (nothing of it is shown)."""
    return KeyRefused(f"{source} is refused: this is a PRIVATE key: never send or paste it anywhere; send the "
                      ".pub file", source=source,
                      hint="send the file that ends in .pub (e.g. ~/.ssh/id_ed25519.pub); if the private key went "
                           "anywhere (chat, mail, a ticket), make a new key and use that one")


def _type_problem(first: str, rest: list[str]) -> tuple[str, str]:
    """Why the first word is not a key type we grant: (reason, hint). Shows the word only if it is a known name."""
    if _OPTION_WORDS.match(first) or any(char in first for char in '=,"') or any(
            word in KEY_TYPES or word in _REFUSED_TYPES or _CERTIFICATE.fullmatch(word) for word in rest):
        return ("options are not accepted in a key to grant; give only the public key",
                "send the plain line from the key's .pub file (TYPE BASE64 comment); the admin sets any limits")
    if first in _REFUSED_TYPES:
        return _REFUSED_TYPES[first], "create one with: ssh-keygen -t ed25519"
    if _CERTIFICATE.fullmatch(first):
        return ("certificates are not accepted; give the plain public key",
                "send the .pub file of the key itself, not the -cert.pub file")
    if first in LINE_TYPE_ALIASES:
        return (f"{first} is a signature algorithm; the key type of an RSA key is written ssh-rsa",
                "send the line exactly as the .pub file holds it")
    return ("the first word is not a key type we accept (" + ", ".join(KEY_TYPES) + ")",
            "send the one line of the key's .pub file; create a key with: ssh-keygen -t ed25519")


def _strict_base64(encoded: str) -> bytes | None:
    """The bytes of canonical base64 (padded, nothing else, no stray bits), else None."""
    if not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", encoded) or len(encoded) % 4:
        return None
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if base64.b64encode(data).decode("ascii") == encoded else None


def _paramiko_check(key_type: str, blob: bytes, refuse) -> None:
    """A second opinion from paramiko, for the types it supports (it has no FIDO key types)."""
    if key_type in (ED25519_SK, ECDSA_SK):
        return
    try:
        loaded = paramiko.PKey.from_type_string(key_type, blob)
    except paramiko.UnknownKeyType:
        return
    except Exception:  # paramiko raises SSHException, ValueError, struct errors...: all mean "not a key"
        raise refuse("paramiko cannot load the key data") from None
    if loaded.asbytes() != blob:
        raise refuse("paramiko reads the key data as a different key")


# --- the SSH wire format ---------------------------------------------------------------------------

class _Reader:
    """Reads SSH wire-format fields (RFC 4251: uint32-length strings, mpints) off a blob."""

    def __init__(self, data: bytes):
        self.data = data
        self.offset = 0

    def string(self, what: str) -> bytes:
        if len(self.data) - self.offset < 4:
            raise _Malformed(f"it is truncated (no room for the {what})")
        (length,) = struct.unpack_from(">I", self.data, self.offset)
        start = self.offset + 4
        if length > len(self.data) - start:
            raise _Malformed(f"it is truncated (the {what} is cut short)")
        self.offset = start + length
        return self.data[start:self.offset]

    def text(self, what: str) -> str:
        """A string sshd reads as C text (sshbuf_get_cstring): a NUL only as its last byte."""
        value = self.string(what)
        if b"\0" in value[:-1]:
            raise _Malformed(f"the {what} holds a NUL byte")
        return value.rstrip(b"\0").decode("latin-1")

    def mpint(self, what: str, *, strict: bool) -> int:
        value = self.string(what)
        if value and value[0] & 0x80:
            raise _Malformed(f"the {what} is negative")
        limit = SSHD_MAX_RSA_BITS // 8  # SSHBUF_MAX_BIGNUM, one more byte allowed for a leading zero
        if len(value) > limit + 1 or (len(value) == limit + 1 and value[0] != 0):
            raise _Malformed(f"the {what} is too large")
        number = int.from_bytes(value, "big")
        if strict and value != _mpint_bytes(number):
            raise _Malformed(f"the {what} has extra leading zero bytes")
        return number

    def rest(self) -> int:
        return len(self.data) - self.offset


def _string(value: bytes) -> bytes:
    return struct.pack(">I", len(value)) + value


def _mpint_bytes(number: int) -> bytes:
    if number == 0:
        return b""
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\0" + raw if raw[0] & 0x80 else raw


def _blob_type(name: str) -> str | None:
    """The key type a blob's type string names, as sshkey_type_from_name reads it (aliases included)."""
    if name in KEY_TYPES:
        return name
    if name in LINE_TYPE_ALIASES:
        return LINE_TYPE_ALIASES[name]
    # Short names match case-insensitively; ECDSA's do not (the curve cannot be told from them).
    return {"rsa": RSA, "ed25519": ED25519, "ed25519-sk": ED25519_SK}.get(name.lower())


def _decode(blob: bytes, *, expected: str | None = None) -> tuple[str, int, bytes]:
    """(key type, bits, the canonical blob) of a wire-format public key blob, read by sshd's rules.

    With `expected` (a key line's type) the reading is strict: the blob's type name must be
    exactly `expected` and integers must have no extra leading zeros. Raises _Malformed.
    """
    strict = expected is not None
    reader = _Reader(blob)
    name = reader.text("type name")
    if strict:
        key_type = name if name in KEY_TYPES else None
    else:
        key_type = _blob_type(name)
    shown = name if name in KEY_TYPES or name in LINE_TYPE_ALIASES or name in _REFUSED_TYPES or (
        _CERTIFICATE.fullmatch(name)) else "a type we do not accept"
    if key_type is None:
        raise _Malformed(f"it says its type is {shown}")
    if strict and key_type != expected:
        raise _Malformed(f"it holds a {shown} key but the line says {expected}")
    if key_type in (ED25519, ED25519_SK):
        point = reader.string("ed25519 key")
        if len(point) != 32:
            raise _Malformed(f"the ed25519 key is {len(point)} bytes, not 32")
        body, bits = _string(point), 256
    elif key_type == RSA:
        exponent = reader.mpint("RSA exponent", strict=strict)
        modulus = reader.mpint("RSA modulus", strict=strict)
        bits = modulus.bit_length()
        if not SSHD_MIN_RSA_BITS <= bits <= SSHD_MAX_RSA_BITS:
            raise _Malformed(f"the RSA modulus has {bits} bits (sshd reads {SSHD_MIN_RSA_BITS} to "
                             f"{SSHD_MAX_RSA_BITS})")
        body = _string(_mpint_bytes(exponent)) + _string(_mpint_bytes(modulus))
    else:
        expected_curve = key_type.removeprefix("sk-").split("@")[0].rsplit("-", 1)[1]
        curve_name = reader.text("curve name")
        if curve_name != expected_curve:
            raise _Malformed("its curve does not match its type")
        curve, size, bits = _CURVES[curve_name]
        point = reader.string("ECDSA point")
        if len(point) != 1 + 2 * size or point[0] != 4:
            raise _Malformed("the ECDSA point is not an uncompressed point of its curve")
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
        except ValueError:
            raise _Malformed("the ECDSA point is not on its curve") from None
        body = _string(curve_name.encode()) + _string(point)
    if key_type in (ED25519_SK, ECDSA_SK):
        body += _string(reader.text("FIDO application").encode("latin-1"))
    if reader.rest():
        raise _Malformed(f"it has {reader.rest()} bytes after the key")
    return key_type, bits, _string(key_type.encode()) + body
