"""Host identity, without any network: known_hosts parsing and verification, fingerprints.

The rule is OpenSSH's StrictHostKeyChecking=yes: a host whose key is not in the
known_hosts file is refused (`HostKeyUnknown`), and a host that presents a key other
than the one pinned for it is refused (`HostKeyChanged`). Nothing is ever added
automatically: fetching a host's key for a human to confirm out of band, and pinning
the confirmed key, is `hostkey_pinning`'s job.

The file means here what it means to OpenSSH (9.2's hostfile.c, match.c, sshconnect.c),
because operators, auditors and `ssh-keygen -F` read the same file, and a pin they cannot
see must not be a pin. `tests/ssh/test_known_hosts_differential.py` holds this against
the real `ssh` on hundreds of generated files. In particular:

- lines end at newline only (not CR, form feed or U+2028); a NUL ends what is read of a
  line, except that a host field ended by the NUL goes on after it, as OpenSSH's does;
- fields are separated by space and tab only; a `#` where a host or key type would start
  makes the line a comment;
- a host field starting with `|` is one hashed name (`|1|salt|hmac-sha1`, written
  exactly as OpenSSH writes it); in a comma list, `|1|...` is literal text;
- host names are lower-cased in ASCII before matching and hashing (`openssh_patterns`);
- the key is decoded as OpenSSH decodes it (`openssh_keys`): a line whose key OpenSSH
  would not load pins nothing;
- off port 22, a host with no entry for `[host]:port` is looked up by its bare name,
  accepted only if that pins exactly the presented key ("found matching key w/out port").

Deliberately stricter than OpenSSH (each one refuses a host OpenSSH would let in):
- `@revoked` followed by a tab on a line that has a space further on: OpenSSH reads the
  marker up to the first space, finds no such marker and ignores the line; here the key
  stays revoked, since whoever wrote it meant to revoke it.
- a plain line whose key is a certificate (`*-cert-v01@openssh.com`) pins nothing here
  (OpenSSH compares the certificate's inner key); `@cert-authority` lines are skipped
  (host certificates are not supported).

The parser is ours rather than paramiko's `HostKeys` because paramiko skips `@revoked`
lines, reads the file its own way, and cannot say which entries matched.

A known_hosts file that another user could have written (or whose directory they could
write) is refused before it is read, as OpenSSH's StrictModes refuses sshd's files.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass

import paramiko

from hermes_ops.errors import HostKeyChanged, HostKeyUnknown
from hermes_ops.ssh.openssh_keys import b64_pton, canonical_key_blob, read_key_field
from hermes_ops.ssh.openssh_patterns import POSITIVE, lowercase_ascii, match_hostname
from hermes_ops.ssh.strictmodes import read_trusted_bytes

HASH_MAGIC = "|1|"
REVOKED, CERT_AUTHORITY = "@revoked", "@cert-authority"
_SALT_BYTES = 20  # HMAC-SHA1's
_MAX_MARKER_BYTES = 31  # OpenSSH reads a marker into a 32-byte buffer
_SEPARATORS = b" \t"

# Host key algorithms to prefer in key exchange, per key type found in known_hosts.
_ALGORITHMS_FOR_TYPE = {"ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")}


def algorithms_for_type(key_type: str) -> tuple[str, ...]:
    """The host key algorithms under which a server presents a key of `key_type` (rsa: three)."""
    return _ALGORITHMS_FOR_TYPE.get(key_type, (key_type,))


def lookup_name(host: str) -> str:
    """The host name as OpenSSH looks it up: lower-cased in ASCII only."""
    return lowercase_ascii(host.encode("utf-8", "surrogateescape")).decode("utf-8", "surrogateescape")


def host_key_name(host: str, port: int) -> str:
    """The name a host is stored under in known_hosts: `host`, or `[host]:port` off port 22."""
    return host if port == 22 else f"[{host}]:{port}"


class _PublicKeyBlob(paramiko.PKey):
    """A public key known only by its SSH wire blob (any type, even one paramiko cannot load).

    Enough for paramiko's `PKey.fingerprint`, which hashes `asbytes()`: a known_hosts line is
    fingerprinted exactly like a key a host presents.
    """

    def __init__(self, blob: bytes):
        self._blob = blob

    def asbytes(self) -> bytes:
        return self._blob


def fingerprint(key: paramiko.PKey | bytes) -> str:
    """A public key's SHA256 fingerprint exactly as OpenSSH prints it: `SHA256:<base64, no padding>`.

    paramiko's `PKey.fingerprint`, for a key or its wire-format blob (`key.asbytes()`).
    """
    return (_PublicKeyBlob(key) if isinstance(key, bytes) else key).fingerprint


def hash_host_name(name: str, salt: bytes | None = None) -> str:
    """A hashed known_hosts host field (`|1|salt|hmac-sha1`), as `ssh-keyscan -H` writes it.

    `salt` (20 bytes, as OpenSSH's) is random unless given. The name is hashed as given:
    lower-case it first (`lookup_name`) if OpenSSH is to find it.
    """
    salt = os.urandom(_SALT_BYTES) if salt is None else salt
    digest = hmac.new(salt, name.encode("utf-8", "surrogateescape"), hashlib.sha1).digest()
    return f"{HASH_MAGIC}{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def _hashed_field_matches(field: bytes, name: bytes) -> bool:
    """OpenSSH's `match_maybe_hashed` for a field starting with `|`: one hashed name, compared as text."""
    if not field.startswith(HASH_MAGIC.encode()):
        return False
    salt_end = field.find(b"|", len(HASH_MAGIC))
    encoded_salt = field[len(HASH_MAGIC):salt_end]
    if salt_end < 0 or not 0 < len(encoded_salt) <= 1024:
        return False
    salt = b64_pton(encoded_salt)
    if salt is None or len(salt) != _SALT_BYTES:
        return False
    expected = hash_host_name(name.decode("utf-8", "surrogateescape"), salt).encode()
    return hmac.compare_digest(expected, field)


@dataclass(frozen=True)
class KnownHostEntry:
    """One key line of a known_hosts file that OpenSSH would load."""

    host_field: str  # as written (bytes that are not UTF-8 kept as surrogates)
    key_type: str  # the key's own type name (ssh-rsa for a line that says rsa-sha2-256)
    key_blob: bytes  # canonical: equal blobs are equal keys, as OpenSSH compares them
    marker: str | None = None
    line_number: int = 0

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(self.host_field.split(","))

    @property
    def hashed(self) -> bool:
        return self.host_field.startswith("|")

    def matches(self, name: str) -> bool:
        """Does this line apply to `name` (as given by `host_key_name`, any case)?"""
        field = self.host_field.encode("utf-8", "surrogateescape")
        looked_up = lookup_name(name).encode("utf-8", "surrogateescape")
        if self.hashed:
            return _hashed_field_matches(field, looked_up)
        return match_hostname(looked_up, field) == POSITIVE

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.key_blob)

    def describe(self) -> str:
        return f"{self.key_type} {self.fingerprint} (line {self.line_number})"


def _field_end(data: bytes, start: int) -> int:
    """Where the field starting at `start` ends: the first space, tab or NUL."""
    end = start
    while end < len(data) and data[end] not in b" \t\0":
        end += 1
    return end


def _skip_separators(data: bytes, start: int) -> int:
    while start < len(data) and data[start] in _SEPARATORS:
        start += 1
    return start


_BAD = object()


def _read_marker(data: bytes, start: int) -> tuple[object, int]:
    """OpenSSH's `check_markers` (with the one deliberate difference in the module docstring)."""
    marker = None
    line_end = data.index(b"\0", start)
    while data[start:start + 1] == b"@":
        if marker is not None:
            return _BAD, start  # only one marker
        space = data.find(b" ", start, line_end)
        end = space if space >= 0 else data.find(b"\t", start, line_end)
        word = data[start:end] if end >= 0 else b""
        if end >= 0 and word == b"@cert-authority":
            marker = CERT_AUTHORITY
        elif end >= 0 and word == b"@revoked":
            marker = REVOKED
        elif data[start:_field_end(data, start)] == b"@revoked":
            marker, end = REVOKED, _field_end(data, start)  # deliberately stricter: see the docstring
        else:
            return _BAD, start
        if end - start > _MAX_MARKER_BYTES:
            return _BAD, start
        start = _skip_separators(data, end)
    return marker, start


def _parse_line(line: bytes, number: int) -> KnownHostEntry | None:
    """The entry on one line (newline removed), or None for a comment, blank or a line OpenSSH skips.

    Read as C reads it: up to the first NUL, except the one place OpenSSH steps past it.
    """
    data = line + b"\0"  # getline's terminator
    start = _skip_separators(data, 0)
    if data[start] in b"\0#":
        return None
    marker, start = _read_marker(data, start)
    if marker is _BAD:
        return None
    host_end = _field_end(data, start)
    host_field = data[start:host_end]
    # OpenSSH ends the host field with a NUL and steps over whatever ended it, a NUL included.
    rest = data[host_end + 1:] if host_end + 1 < len(data) else b"\0"
    rest = rest[:rest.index(b"\0")]
    rest = rest[_skip_separators(rest, 0):]
    if not rest or rest.startswith(b"#"):
        return None
    type_end = _field_end(rest, 0)
    if type_end == len(rest):
        return None  # nothing after the key type
    key_start = _skip_separators(rest, type_end)
    if key_start == len(rest):
        return None
    key = read_key_field(rest[:type_end], rest[key_start:_field_end(rest, key_start)])
    if key is None:
        return None
    return KnownHostEntry(host_field=host_field.decode("utf-8", "surrogateescape"), key_type=key.key_type,
                          key_blob=key.blob, marker=marker, line_number=number)


def parse_known_hosts(text: str | bytes) -> list[KnownHostEntry]:
    """The entries of known_hosts content, as OpenSSH reads them; other lines are skipped (as ssh does)."""
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")
    entries = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        entry = _parse_line(line, number)
        if entry is not None:
            entries.append(entry)
    return entries


def read_known_hosts(path: str) -> list[KnownHostEntry]:
    """The entries of the known_hosts file at `path`; an empty list if the file does not exist.

    Raises:
        ConfigError: the file, or its directory, could have been written by someone else
            (see `strictmodes`): its pins would prove nothing.
    """
    data = read_trusted_bytes(path, what="known_hosts file")
    return [] if data is None else parse_known_hosts(data)


def entries_for(entries: list[KnownHostEntry], host: str, port: int) -> list[KnownHostEntry]:
    """The plain (unmarked) entries pinned for host:port (its `[host]:port` name off port 22)."""
    name = host_key_name(host, port)
    return [entry for entry in entries if entry.marker is None and entry.matches(name)]


def _pins_without_port(entries: list[KnownHostEntry], host: str, port: int) -> bool:
    """Does OpenSSH's lookup go on to the bare host name (nothing at all for `[host]:port`)?"""
    name = host_key_name(host, port)
    return port != 22 and not any(entry.marker is None and entry.matches(name) for entry in entries)


def preferred_algorithms(entries: list[KnownHostEntry], host: str, port: int) -> list[str]:
    """Host key algorithms to offer first, so the server presents a key type we have pinned.

    Without this, a host pinned by its ecdsa key would present its ed25519 key (paramiko's
    first choice) and look changed. OpenSSH orders HostKeyAlgorithms the same way.
    """
    pinned = entries_for(entries, host, 22 if _pins_without_port(entries, host, port) else port)
    algorithms: list[str] = []
    for entry in pinned:
        for algorithm in algorithms_for_type(entry.key_type):
            if algorithm not in algorithms:
                algorithms.append(algorithm)
    return algorithms


@dataclass(frozen=True)
class _Lookup:
    """What known_hosts says of one name and one presented key (OpenSSH's HostStatus)."""

    name: str
    pinned: list[KnownHostEntry]  # the plain entries for the name
    revoked: list[KnownHostEntry]  # @revoked entries for the name holding the presented key
    accepted: KnownHostEntry | None  # the plain entry holding the presented key, unless it is revoked


def revoked_entries(entries: list[KnownHostEntry], name: str, blob: bytes) -> list[KnownHostEntry]:
    """The `@revoked` entries for `name` (as `host_key_name` gives it) that hold the key `blob`."""
    return [entry for entry in entries if entry.marker == REVOKED and entry.key_blob == blob and entry.matches(name)]


def _lookup(entries: list[KnownHostEntry], name: str, blob: bytes) -> _Lookup:
    pinned = [entry for entry in entries if entry.marker is None and entry.matches(name)]
    revoked = revoked_entries(entries, name, blob)
    accepted = None if revoked else next((entry for entry in pinned if entry.key_blob == blob), None)
    return _Lookup(name=name, pinned=pinned, revoked=revoked, accepted=accepted)


def check_host_key(known_hosts: str, host: str, port: int, key: paramiko.PKey, *,
                   user: str | None = None, entries: list[KnownHostEntry] | None = None) -> KnownHostEntry:
    """Accept `key` as host:port's identity only if known_hosts pins exactly that key, as `ssh` would.

    Returns the matching entry. Off port 22, a host with no entry at all for `[host]:port`
    is accepted by an entry for its bare name holding exactly this key, as OpenSSH does.

    Raises:
        HostKeyUnknown: nothing is pinned for the host.
        HostKeyChanged: other keys are pinned for the host, or this key is marked @revoked.
    """
    if entries is None:
        entries = read_known_hosts(known_hosts)
    blob = canonical_key_blob(key.asbytes()) or key.asbytes()
    found = _lookup(entries, host_key_name(host, port), blob)
    if not found.pinned and not found.revoked and port != 22:
        found = _lookup(entries, host, blob)
        if not found.accepted and not found.revoked:
            found = _Lookup(name=host_key_name(host, port), pinned=[], revoked=[], accepted=None)
    if found.accepted:
        return found.accepted
    name = found.name
    presented, key_type = fingerprint(key.asbytes()), key.get_name()
    where = {"hostname": host, "port": port, "user": user}
    shown_file = os.path.expanduser(known_hosts)
    if found.revoked:
        raise HostKeyChanged(f"host key for {name} is marked @revoked in known_hosts",
                             presented=presented, key_type=key_type,
                             pinned=[entry.describe() for entry in found.revoked], known_hosts=shown_file,
                             hint="do not connect; ask the host's administrator which key is current", **where)
    if found.pinned:
        same_type = [entry for entry in found.pinned if entry.key_type == key_type]
        change = "changed" if same_type else f"is not of a pinned type ({key_type} presented)"
        raise HostKeyChanged(
            f"host key for {name} {change}: refusing to connect",
            presented=presented, key_type=key_type, pinned=[entry.describe() for entry in found.pinned],
            known_hosts=shown_file,
            hint=("if the host was rebuilt or its keys rotated, confirm the new fingerprint with its administrator "
                  f"or console, then replace the pin: pin_host_key(..., replace=True) or "
                  f"`ssh-keygen -R '{name}' -f {shown_file}`; if nobody changed it, stop: "
                  "the connection may be intercepted"),
            **where)
    pin_hint = (f"pin it with hermes_ops.ssh.pin_host_key({shown_file!r}, {host!r}, {port}, key) after "
                f"comparing {presented} with `ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub` run on the host "
                f"(console or another trusted channel); fetch_host_key({host!r}, {port}) gives the key")
    raise HostKeyUnknown(f"host {name} is not in known_hosts: refusing to connect",
                         presented=presented, key_type=key_type, known_hosts=shown_file,
                         hint=pin_hint, **where)


class RejectUnknownHostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """A paramiko policy that verifies against a known_hosts file and rejects anything else.

    For use with `paramiko.SSHClient` (load no host keys into the client, so every key goes
    through this policy). Raises `HostKeyUnknown` or `HostKeyChanged`; never adds a key.
    """

    def __init__(self, known_hosts: str):
        self.known_hosts = known_hosts

    def missing_host_key(self, client, hostname: str, key: paramiko.PKey) -> None:
        host, port = hostname, 22
        match = re.fullmatch(r"\[(.+)\]:(\d+)", hostname)
        if match:
            host, port = match.group(1), int(match.group(2))
        check_host_key(self.known_hosts, host, port, key)


def known_hosts_line(host: str, port: int, key: paramiko.PKey, *, hashed: bool = False) -> str:
    """The known_hosts line pinning `key` for host:port (no trailing newline), as `ssh` writes it.

    The name is lower-cased (ASCII) as OpenSSH writes and looks it up, so a hashed pin for
    `Droplet.Example` is found by `ssh Droplet.Example` and by `ssh-keygen -F droplet.example`.
    """
    name = host_key_name(lookup_name(host), port)
    field = hash_host_name(name) if hashed else name
    return f"{field} {key.get_name()} {key.get_base64()}"
