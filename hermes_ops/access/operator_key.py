"""The new operator's SSH key: found where it is, or made (ed25519) without ever touching an existing file.

A key that exists is only read: its public half comes from `KEY.pub`, or is derived from the
private key (which needs the passphrase when the key is protected). A private key that group
or others can read is refused, as ssh itself refuses it. A missing key is made with
`cryptography`: the private key in OpenSSH's format (encrypted with the passphrase when one
is given), created exclusively with mode 0600, and `KEY.pub` next to it.

The passphrase travels only as a `Secret`: it is revealed at the one call that needs it,
registered so that any text that might carry it is masked, and never put in a message.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import shlex
import stat
import struct
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hermes_ops.access.public_keys import PublicKey, parse_public_key
from hermes_ops.errors import ConfigError
from hermes_ops.secrets import Secret, register_secret

MAX_KEY_BYTES = 64 * 1024
_OPENSSH_ARMOUR = re.compile(rb"-----BEGIN OPENSSH PRIVATE KEY-----(.*?)-----END OPENSSH PRIVATE KEY-----", re.S)
_OPENSSH_MAGIC = b"openssh-key-v1\0"
_FORBIDDEN_CATEGORIES = ("Cc", "Cf", "Zl", "Zp", "Cs")


@dataclass(frozen=True)
class OperatorKey:
    """The operator's key: where it is, its public key, whether it was made just now, whether a passphrase protects it."""

    path: Path
    public_key: PublicKey
    created: bool
    encrypted: bool


def find_or_create_key(path: Path, *, passphrase: Secret | None = None, comment: str = "") -> OperatorKey:
    """The key at `path`, made (ed25519, with `path.pub`) if there is none; an existing file is never changed.

    `passphrase` protects a new key and opens an existing one that has no `.pub` file (an
    empty one means none); `comment` goes into a new key's `.pub` line.

    Raises:
        ConfigError: the key is readable by group or others; it is protected and has no .pub,
            and no passphrase (or a wrong one) was given; `path.pub` does not match it, or
            exists without it; it cannot be read or written.
    """
    if passphrase is not None and not isinstance(passphrase, Secret):
        raise ConfigError("the key's passphrase must be given as a hermes_ops.secrets.Secret, never as plain text",
                          hint="wrap it: Secret(value, name='key passphrase')")
    if passphrase:
        register_secret(passphrase)
    path = Path(path).expanduser()
    try:
        status = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise ConfigError(f"the key path {path} is a link to {os.readlink(path)}, which does not exist: "
                              "refusing to make a key through it",
                              hint="remove the link, or give the path of the key itself") from None
        return _create(path, passphrase or None, comment)
    except OSError as error:
        raise ConfigError(f"cannot look at the key {path}: {error.strerror}",
                          hint="check the path and the permissions of its folder") from None
    return _existing(path, status, passphrase or None)


def public_key_path(path: Path) -> Path:
    """Where a key's public half lives: `KEY.pub`."""
    return path.with_name(path.name + ".pub")


def _existing(path: Path, status: os.stat_result, passphrase: Secret | None) -> OperatorKey:
    shown = shlex.quote(str(path))
    if not stat.S_ISREG(status.st_mode):
        raise ConfigError(f"the key {path} is not a regular file", hint="give the path of the private key file")
    if status.st_mode & 0o077:
        raise ConfigError(f"the private key {path} is open to group or others (mode "
                          f"{stat.S_IMODE(status.st_mode):04o}): ssh refuses such a key, and others may have copied it",
                          hint=f"chmod 600 {shown}; if others may have read it, make a new key")
    data = _read_bytes(path, "private key")
    encrypted = _is_encrypted(data)
    stored = _openssh_public_blob(data)
    pub = public_key_path(path)
    if os.path.lexists(pub):
        public = parse_public_key(_read_bytes(pub, "public key").decode("utf-8", "replace"), source=str(pub))
        if stored is not None and stored != public.blob:
            raise ConfigError(f"{pub} is not the public half of {path}: granting it would let in another key",
                              hint=f"write it again from the private key: ssh-keygen -y -f {shown} > "
                                   f"{shlex.quote(str(pub))}")
        return OperatorKey(path, public, created=False, encrypted=encrypted)
    if encrypted and passphrase is None:
        raise ConfigError(f"the key {path} is protected by a passphrase and has no {pub.name}: its public key "
                          "cannot be read without the passphrase",
                          hint=f"give the passphrase, or write the .pub file: ssh-keygen -y -f {shown} > "
                               f"{shlex.quote(str(pub))}")
    try:
        # bytes, not str: paramiko 5's from_path hands the password straight to cryptography.
        loaded = paramiko.PKey.from_path(path, password=passphrase.reveal().encode("utf-8") if passphrase else None)
    except paramiko.PasswordRequiredException:
        raise ConfigError(f"the key {path} is protected by a passphrase and none was given",
                          hint="give the key's passphrase") from None
    except (paramiko.SSHException, ValueError):
        if encrypted:
            raise ConfigError(f"the passphrase given does not open the key {path}",
                              hint="give the key's passphrase (the one chosen when the key was made)") from None
        raise ConfigError(f"{path} is not a private key paramiko can read",
                          hint="give the path of an OpenSSH private key (ed25519, ecdsa or rsa)") from None
    public = parse_public_key(f"{loaded.get_name()} {loaded.get_base64()}", source=str(path))
    return OperatorKey(path, public, created=False, encrypted=encrypted)


def _create(path: Path, passphrase: Secret | None, comment: str) -> OperatorKey:
    if not isinstance(comment, str) or len(comment) > 200 or any(
            unicodedata.category(char) in _FORBIDDEN_CATEGORIES for char in comment):
        raise ConfigError("the comment for a new key must be one printable line of at most 200 characters",
                          hint="use your name or e-mail address")
    pub = public_key_path(path)
    if os.path.lexists(pub):
        raise ConfigError(f"{pub} exists but its private key {path} does not: refusing to make a key beside it",
                          hint=f"move {shlex.quote(str(pub))} away, or give the path of the private key you have")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot create the folder {path.parent} for the key: {error.strerror}",
                          hint="choose a key path in a folder you can write") from None
    private = Ed25519PrivateKey.generate()
    encryption = (serialization.BestAvailableEncryption(passphrase.reveal().encode("utf-8")) if passphrase
                  else serialization.NoEncryption())
    private_bytes = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption)
    line = private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                             serialization.PublicFormat.OpenSSH).decode("ascii")
    public = parse_public_key(f"{line} {comment.strip()}", source="the new key")
    _write_exclusively(path, private_bytes, 0o600)
    try:
        _write_exclusively(pub, (public.text + "\n").encode("utf-8"), 0o644)
    except BaseException:
        path.unlink(missing_ok=True)  # ours, made a moment ago: a private key without its .pub helps nobody
        raise
    return OperatorKey(path, public, created=True, encrypted=passphrase is not None)


def _write_exclusively(path: Path, data: bytes, mode: int) -> None:
    """Create `path` with `mode` (whatever the umask) and write `data`; an existing file is an error, never replaced."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except FileExistsError:
        raise ConfigError(f"{path} appeared while the key was being made: nothing was overwritten",
                          hint="run again: the key there will be used") from None
    except OSError as error:
        raise ConfigError(f"cannot create {path}: {error.strerror}",
                          hint="choose a key path in a folder you can write") from None
    try:
        with os.fdopen(descriptor, "wb") as stream:
            os.fchmod(stream.fileno(), mode)
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _read_bytes(path: Path, what: str) -> bytes:
    """A small regular file's bytes (a FIFO is refused, not waited on)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(descriptor, "rb") as stream:
            if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
                raise ConfigError(f"the {what} {path} is not a regular file", hint="give the path of your SSH key")
            data = stream.read(MAX_KEY_BYTES + 1)
    except OSError as error:
        raise ConfigError(f"cannot read the {what} {path}: {error.strerror}",
                          hint="check that you may read it") from None
    if len(data) > MAX_KEY_BYTES:
        raise ConfigError(f"the {what} {path} is over {MAX_KEY_BYTES // 1024} KiB: it is not a key",
                          hint="give the path of your SSH key")
    return data


def _openssh_sections(data: bytes) -> tuple[bytes, bytes] | None:
    """(cipher name, first public key blob) from an OpenSSH private key file's clear header, else None."""
    match = _OPENSSH_ARMOUR.search(data)
    if match is None:
        return None
    try:
        body = base64.b64decode(b"".join(match.group(1).split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    if not body.startswith(_OPENSSH_MAGIC):
        return None
    offset, fields = len(_OPENSSH_MAGIC), []
    try:
        for _ in range(3):  # cipher name, kdf name, kdf options
            (length,) = struct.unpack_from(">I", body, offset)
            fields.append(body[offset + 4:offset + 4 + length])
            offset += 4 + length
        (count,) = struct.unpack_from(">I", body, offset)
        (length,) = struct.unpack_from(">I", body, offset + 4)
        blob = body[offset + 8:offset + 8 + length]
    except struct.error:
        return None
    if count < 1 or len(blob) != length:
        return None
    return fields[0], blob


def _is_encrypted(data: bytes) -> bool:
    """Does a passphrase protect this private key file (OpenSSH format, or PEM)?"""
    sections = _openssh_sections(data)
    if sections is not None:
        return sections[0] != b"none"
    return b"ENCRYPTED" in data[:4096]


def _openssh_public_blob(data: bytes) -> bytes | None:
    """The public key an OpenSSH-format private key file states in its clear header (no passphrase needed)."""
    sections = _openssh_sections(data)
    return sections[1] if sections is not None else None
