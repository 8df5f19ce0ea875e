"""Host identity, without any network: known_hosts parsing and verification, fingerprints.

The rule is OpenSSH's StrictHostKeyChecking=yes: a host whose key is not in the
known_hosts file is refused (`HostKeyUnknown`), and a host that presents a key other
than the one pinned for it is refused (`HostKeyChanged`). Nothing is ever added
automatically: fetching a host's key for a human to confirm out of band, and pinning
the confirmed key, is `hostkey_pinning`'s job.

The parser is ours rather than paramiko's `HostKeys` because paramiko skips `@revoked`
lines (a revoked key must be refused, not ignored) and cannot say which entries
matched, which the error messages need.

Supported: plain and hashed (`|1|salt|hash`, as written by `ssh-keyscan -H`) host
fields, comma-separated patterns with `*`/`?` wildcards and `!` negation, the
`[host]:port` form for non-22 ports, `@revoked`. `@cert-authority` lines are skipped
(host certificates are not supported).

A known_hosts file that another user could have written (or whose directory they could
write) is refused before it is read, as OpenSSH's StrictModes refuses sshd's files.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
from dataclasses import dataclass

import paramiko

from hermes_ops.errors import HostKeyChanged, HostKeyUnknown
from hermes_ops.ssh.strictmodes import read_trusted_text

HASH_MAGIC = "|1|"

# Host key algorithms to prefer in key exchange, per key type found in known_hosts.
_ALGORITHMS_FOR_TYPE = {"ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")}


def algorithms_for_type(key_type: str) -> tuple[str, ...]:
    """The host key algorithms under which a server presents a key of `key_type` (rsa: three)."""
    return _ALGORITHMS_FOR_TYPE.get(key_type, (key_type,))


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

    paramiko's `HostKeys.hash_host`; `salt` (20 bytes, as OpenSSH's) is random unless given.
    """
    return paramiko.HostKeys.hash_host(name, None if salt is None else base64.b64encode(salt).decode())


def _pattern_matches(pattern: str, name: str) -> bool:
    if pattern.startswith(HASH_MAGIC):
        # As OpenSSH does (match_maybe_hashed): hash the name with the field's salt, compare the texts.
        try:
            hashed = paramiko.HostKeys.hash_host(name, pattern)
        except (ValueError, IndexError, AssertionError):  # malformed base64 or fields, or a salt not of 20 bytes
            return False
        return hmac.compare_digest(hashed, pattern)
    # OpenSSH patterns: only * and ? are special; [ and ] are literal (the [host]:port form).
    regex = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.fullmatch(regex, name, flags=re.IGNORECASE) is not None


@dataclass(frozen=True)
class KnownHostEntry:
    """One key line of a known_hosts file."""

    hosts: tuple[str, ...]
    key_type: str
    key_blob: bytes
    marker: str | None = None
    line_number: int = 0

    def matches(self, name: str) -> bool:
        """Does this line apply to `name` (as given by `host_key_name`)?"""
        matched = False
        for pattern in self.hosts:
            if pattern.startswith("!"):
                if _pattern_matches(pattern[1:], name):
                    return False
            elif _pattern_matches(pattern, name):
                matched = True
        return matched

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.key_blob)

    def describe(self) -> str:
        return f"{self.key_type} {self.fingerprint} (line {self.line_number})"


def parse_known_hosts(text: str) -> list[KnownHostEntry]:
    """Parse known_hosts text; comments, blank and malformed lines are skipped (as ssh does)."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        marker = None
        if fields[0].startswith("@"):
            marker, fields = fields[0], fields[1:]
        if len(fields) < 3:
            continue
        try:
            blob = base64.b64decode(fields[2], validate=True)
        except (ValueError, binascii.Error):
            continue
        entries.append(KnownHostEntry(hosts=tuple(fields[0].split(",")), key_type=fields[1],
                                      key_blob=blob, marker=marker, line_number=number))
    return entries


def read_known_hosts(path: str) -> list[KnownHostEntry]:
    """The entries of the known_hosts file at `path`; an empty list if the file does not exist.

    Raises:
        ConfigError: the file, or its directory, could have been written by someone else
            (see `strictmodes`): its pins would prove nothing.
    """
    text = read_trusted_text(path, what="known_hosts file")
    return [] if text is None else parse_known_hosts(text)


def entries_for(entries: list[KnownHostEntry], host: str, port: int) -> list[KnownHostEntry]:
    """The plain (unmarked) entries pinned for host:port."""
    name = host_key_name(host, port)
    return [entry for entry in entries if entry.marker is None and entry.matches(name)]


def preferred_algorithms(entries: list[KnownHostEntry], host: str, port: int) -> list[str]:
    """Host key algorithms to offer first, so the server presents a key type we have pinned.

    Without this, a host pinned by its ecdsa key would present its ed25519 key (paramiko's
    first choice) and look changed. OpenSSH orders HostKeyAlgorithms the same way.
    """
    algorithms: list[str] = []
    for entry in entries_for(entries, host, port):
        for algorithm in algorithms_for_type(entry.key_type):
            if algorithm not in algorithms:
                algorithms.append(algorithm)
    return algorithms


def check_host_key(known_hosts: str, host: str, port: int, key: paramiko.PKey, *,
                   user: str | None = None, entries: list[KnownHostEntry] | None = None) -> KnownHostEntry:
    """Accept `key` as host:port's identity only if known_hosts pins exactly that key.

    Returns the matching entry.

    Raises:
        HostKeyUnknown: nothing is pinned for the host.
        HostKeyChanged: other keys are pinned for the host, or this key is marked @revoked.
    """
    if entries is None:
        entries = read_known_hosts(known_hosts)
    name = host_key_name(host, port)
    blob = key.asbytes()
    presented, key_type = fingerprint(blob), key.get_name()
    where = {"hostname": host, "port": port, "user": user}
    shown_file = os.path.expanduser(known_hosts)
    pin_hint = (f"pin it with hermes_ops.ssh.pin_host_key({shown_file!r}, {host!r}, {port}, key) after "
                f"comparing {presented} with `ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub` run on the host "
                f"(console or another trusted channel); fetch_host_key({host!r}, {port}) gives the key")
    revoked = [entry for entry in entries if entry.marker == "@revoked" and entry.key_blob == blob
               and entry.matches(name)]
    if revoked:
        raise HostKeyChanged(f"host key for {name} is marked @revoked in known_hosts",
                             presented=presented, key_type=key_type,
                             pinned=[entry.describe() for entry in revoked], known_hosts=shown_file,
                             hint="do not connect; ask the host's administrator which key is current", **where)
    pinned = entries_for(entries, host, port)
    for entry in pinned:
        if entry.key_blob == blob:
            return entry
    if pinned:
        same_type = [entry for entry in pinned if entry.key_type == key_type]
        change = "changed" if same_type else f"is not of a pinned type ({key_type} presented)"
        raise HostKeyChanged(
            f"host key for {name} {change}: refusing to connect",
            presented=presented, key_type=key_type, pinned=[entry.describe() for entry in pinned],
            known_hosts=shown_file,
            hint=("if the host was rebuilt or its keys rotated, confirm the new fingerprint with its administrator "
                  f"or console, then replace the pin: pin_host_key(..., replace=True) or "
                  f"`ssh-keygen -R '{name}' -f {shown_file}`; if nobody changed it, stop: "
                  "the connection may be intercepted"),
            **where)
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
    """The known_hosts line pinning `key` for host:port (no trailing newline)."""
    name = host_key_name(host, port)
    field = hash_host_name(name) if hashed else name
    return f"{field} {key.get_name()} {key.get_base64()}"
