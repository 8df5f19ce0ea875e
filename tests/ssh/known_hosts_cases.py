"""known_hosts files for the differential test: hand-written tricky ones and seeded random ones.

Each `Case` is a file, the host and port it is checked for and the type of host key the
server presents. `tests/ssh/test_known_hosts_differential.py` asks OpenSSH's `ssh` and
`check_host_key` for their verdicts on every case; they must agree.

The hand-written cases are grouped by the classes of disagreement found when the two were
first compared (line splitting, hashes in lists, case, loose decoding, whitespace and
bytes, the bare-name fallback off port 22, markers). The random ones combine the same
ingredients: host fields in every spelling, keys right and wrong, and bytes that only
some readers take for separators or line ends.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import random
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

KEY_TYPES = ("ed25519", "ecdsa", "rsa")
TYPE_NAMES = {"ed25519": "ssh-ed25519", "ecdsa": "ecdsa-sha2-nistp256", "rsa": "ssh-rsa"}
HOST = "droplet.example"
PORTS = (22, 2222)


@dataclass(frozen=True)
class Case:
    name: str
    content: bytes
    host: str
    port: int
    presented: str  # one of KEY_TYPES
    stricter: bool = False  # hermes-ops deliberately refuses where OpenSSH does not (documented in hostkeys)


def _string(value: bytes) -> bytes:
    return len(value).to_bytes(4, "big") + value


def _mpint(value: int) -> bytes:
    return _string(value.to_bytes(value.bit_length() // 8 + 1, "big"))


@dataclass(frozen=True)
class Key:
    """A public key as known_hosts spells it: type name and base64 blob."""

    type_name: str
    blob: bytes

    @property
    def base64(self) -> str:
        return base64.b64encode(self.blob).decode()

    def field(self) -> bytes:
        return f"{self.type_name} {self.base64}".encode()


def key_from_public_line(line: str) -> Key:
    type_name, encoded = line.split()[:2]
    return Key(type_name, base64.b64decode(encoded))


def other_keys(seed: int) -> dict[str, Key]:
    """Keys of each type that the server does not have."""
    generator = random.Random(seed)
    ed25519 = Key("ssh-ed25519", _string(b"ssh-ed25519") + _string(generator.randbytes(32)))
    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    ecdsa = Key("ecdsa-sha2-nistp256", _string(b"ecdsa-sha2-nistp256") + _string(b"nistp256") + _string(point))
    numbers = rsa.generate_private_key(65537, 2048).public_key().public_numbers()
    rsa_key = Key("ssh-rsa", _string(b"ssh-rsa") + _mpint(numbers.e) + _mpint(numbers.n))
    return {"ed25519": ed25519, "ecdsa": ecdsa, "rsa": rsa_key}


def hashed(name: str, salt: bytes | None = None) -> bytes:
    salt = os.urandom(20) if salt is None else salt
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return b"|1|" + base64.b64encode(salt) + b"|" + base64.b64encode(digest)


def name_for(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def _flip_unused_bits(text: bytes) -> bytes:
    """The same bytes in a non-canonical spelling: the last character before '=' carries unused bits."""
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    index = text.rindex(b"=") - 1
    return text[:index] + bytes((alphabet[alphabet.index(text[index]) ^ 1],)) + text[index + 1:]


def _reblob(key: Key, type_in_blob: bytes) -> Key:
    """The same key with another type name written inside its blob."""
    length = int.from_bytes(key.blob[:4], "big")
    return Key(key.type_name, _string(type_in_blob) + key.blob[4 + length:])


def hand_written(server: dict[str, Key], other: dict[str, Key]) -> list[Case]:
    """One case per known disagreement, and its neighbours (what must keep working)."""
    cases: list[Case] = []

    def add(name: str, lines: list[bytes], *, host: str = HOST, port: int = 2222, presented: str = "ed25519",
            stricter: bool = False, ending: bytes = b"\n") -> None:
        cases.append(Case(name, b"".join(line + ending for line in lines), host, port, presented, stricter))

    right, wrong = server["ed25519"].field(), other["ed25519"].field()
    pinned = f"[{HOST}]:2222".encode()

    # Neighbours: plain, hashed, wildcard, changed, unknown, revoked.
    add("plain pin", [pinned + b" " + right])
    add("plain pin, port 22", [HOST.encode() + b" " + right], port=22)
    add("hashed pin", [hashed(f"[{HOST}]:2222") + b" " + right])
    add("wildcard pin", [b"[*.example]:2222 " + right])
    add("changed key", [pinned + b" " + wrong])
    add("unknown host", [b"[other.example]:2222 " + right])
    add("revoked and pinned", [pinned + b" " + right, b"@revoked " + pinned + b" " + right])
    add("revoked by wildcard", [pinned + b" " + right, b"@revoked * " + right])
    add("another key revoked", [pinned + b" " + right, b"@revoked * " + wrong])
    add("pin of another type only", [pinned + b" " + server["ecdsa"].field()])
    add("wrong key of another type next to the right one", [pinned + b" " + other["rsa"].field(), pinned + b" " + right])
    for key_type in KEY_TYPES:
        add(f"{key_type} presented, all three pinned", [pinned + b" " + server[kind].field() for kind in KEY_TYPES],
            presented=key_type)
        add(f"{key_type} presented, wrong {key_type} pinned", [pinned + b" " + other[key_type].field()],
            presented=key_type)

    # Line splitting: only newline ends a line.
    for label, byte in [("form feed", b"\f"), ("vertical tab", b"\v"), ("carriage return", b"\r"),
                        ("0x1c", b"\x1c"), ("0x1d", b"\x1d"), ("0x1e", b"\x1e"), ("U+0085", "\u0085".encode()),
                        ("U+2028", "\u2028".encode()), ("U+2029", "\u2029".encode())]:
        add(f"pin hidden after a comment and {label}", [b"# note" + byte + pinned + b" " + right])
        add(f"pin hidden in a trailing comment after {label}",
            [b"other.example " + wrong + b" comment" + byte + pinned + b" " + right])
    add("CRLF line endings", [pinned + b" " + right], ending=b"\r\n")
    add("CR inside the base64", [pinned + b" " + server["ed25519"].type_name.encode() + b" "
                                 + server["ed25519"].base64.encode()[:20] + b"\r" + server["ed25519"].base64.encode()[20:]])

    # Hashes: a field starting with | is one hash; inside a comma list |1|... is literal text.
    add("hash inside a comma list", [b"other.example," + hashed(f"[{HOST}]:2222") + b" " + right])
    add("hash first in a comma list", [hashed(f"[{HOST}]:2222") + b",other.example " + right])
    add("negated hash is literal", [b"*,!" + hashed(f"[{HOST}]:2222") + b" " + right])
    add("negated plain name", [b"*,!" + pinned + b" " + right])
    add("negation first", [b"!" + pinned + b",* " + right])
    add("hash with another magic", [b"|2|" + hashed(f"[{HOST}]:2222")[3:] + b" " + right])

    # Case: ASCII lower-casing only, before matching and hashing.
    mixed = "Droplet.EXAMPLE"
    add("host typed in capitals, plain pin", [pinned + b" " + right], host=mixed)
    add("pin written in capitals", [f"[{mixed}]:2222".encode() + b" " + right])
    add("host typed in capitals, hashed pin of the lower-case name", [hashed(f"[{HOST}]:2222") + b" " + right],
        host=mixed)
    add("host typed in capitals, hashed pin of the name as typed", [hashed(f"[{mixed}]:2222") + b" " + right],
        host=mixed)
    add("hashed @revoked of the lower-case name, host typed in capitals",
        [pinned + b" " + right, b"@revoked " + hashed(f"[{HOST}]:2222") + b" " + right], host=mixed)
    add("long s does not fold to s", ["[droplet.example]:2222".replace("s", "\u017f").encode() + b" " + right])
    add("dotless capital I does not fold", ["[DROPLET.EXAMPLE]:2222".replace("I", "\u0130").encode()
                                            + b" " + right])
    add("Kelvin sign is not K", [b"[droplet.example]:2222 " + right, b"@revoked [droplet.e\xe2\x84\xaaample]:2222 "
                                 + right])

    # Loose decoding of hashes and keys.
    salt = bytes(range(20))
    good_hash = hashed(f"[{HOST}]:2222", salt)
    add("hash with a 19-byte salt", [hashed(f"[{HOST}]:2222", salt[:19]) + b" " + right])
    add("hash with a 21-byte salt", [hashed(f"[{HOST}]:2222", salt + b"x") + b" " + right])
    add("junk after the digest", [good_hash + b"junk " + right])
    add("field after the digest", [good_hash + b"|x " + right])
    add("digest without padding", [good_hash.rstrip(b"=") + b" " + right])
    add("non-canonical digest", [_flip_unused_bits(good_hash) + b" " + right])
    ed25519 = server["ed25519"]
    add("ed25519 key labelled ssh-rsa", [pinned + b" ssh-rsa " + ed25519.base64.encode()])
    add("unknown type name", [pinned + b" ssh-ed448 " + ed25519.base64.encode()])
    add("type name in capitals", [pinned + b" SSH-ED25519 " + ed25519.base64.encode()])
    add("short type name", [pinned + b" ED25519 " + ed25519.base64.encode()])
    add("short type name inside the blob", [pinned + b" " + _reblob(ed25519, b"ED25519").field()])
    add("lower-case short type name inside the blob", [pinned + b" " + _reblob(ed25519, b"ed25519").field()])
    add("rsa key named rsa-sha2-256", [pinned + b" rsa-sha2-256 " + server["rsa"].base64.encode()], presented="rsa")
    add("rsa key named rsa-sha2-512", [pinned + b" rsa-sha2-512 " + server["rsa"].base64.encode()], presented="rsa")
    add("rsa short name inside the blob", [pinned + b" " + _reblob(server["rsa"], b"RSA").field()], presented="rsa")
    add("ecdsa short name inside the blob", [pinned + b" " + _reblob(server["ecdsa"], b"ECDSA").field()],
        presented="ecdsa")
    add("ecdsa of another curve name", [pinned + b" ecdsa-sha2-nistp384 " + server["ecdsa"].base64.encode()],
        presented="ecdsa")
    add("extra padding", [pinned + b" " + ed25519.field() + b"=="])
    add("padding removed", [pinned + b" " + server["ecdsa"].field()[:-1]], presented="ecdsa")
    add("non-canonical base64 of the key", [pinned + b" " + _flip_unused_bits(server["ecdsa"].field())],
        presented="ecdsa")
    add("data after the key", [pinned + b" " + Key(ed25519.type_name, ed25519.blob + b"\0").field()])
    add("truncated key", [pinned + b" " + Key(ed25519.type_name, ed25519.blob[:-1]).field()])
    add("rsa modulus with a leading zero", [pinned + b" " + _padded_rsa(server["rsa"]).field()], presented="rsa")
    add("key type with nothing after it", [pinned + b" ssh-ed25519"])
    add("key type then a comment", [pinned + b" #ssh-ed25519 " + ed25519.base64.encode()])
    for label, byte in [("vertical tab", b"\v"), ("form feed", b"\f"), ("carriage return", b"\r")]:
        add(f"{label} inside the base64", [pinned + b" ssh-ed25519 " + ed25519.base64.encode()[:30] + byte
                                           + ed25519.base64.encode()[30:]])
        add(f"{label} glued to the type name", [pinned + b" ssh-ed25519" + byte + b" " + ed25519.base64.encode()])

    # Whitespace and bytes.
    for label, space in [("NBSP", "\u00a0".encode()), ("EM SPACE", "\u2003".encode()), ("form feed", b"\f")]:
        add(f"{label} as a separator", [pinned + space + right])
        add(f"{label} after the key type", [pinned + b" ssh-ed25519" + space + ed25519.base64.encode()])
    add("tabs as separators", [pinned + b"\t" + right.replace(b" ", b"\t")])
    add("leading whitespace", [b" \t " + pinned + b" " + right])
    add("NUL inside the key", [pinned + b" ssh-ed25519 " + ed25519.base64.encode()[:10] + b"\0"
                               + ed25519.base64.encode()[10:]])
    add("NUL right after the host field", [pinned + b"\0" + right])
    add("NUL in the middle of the host field", [b"[droplet\0.example]:2222 " + right])
    add("NUL before a second pin", [b"# c\0" + pinned + b" " + right])
    add("NUL then a revocation", [pinned + b" " + right + b" c\0@revoked * " + right])
    long_pattern = b"x" * 1030
    add("over-long sub-pattern after the name", [pinned + b"," + long_pattern + b" " + right])
    add("over-long sub-pattern before the name", [long_pattern + b"," + pinned + b" " + right])
    add("sub-pattern of 1,022 bytes", [b"y" * 1022 + b"," + pinned + b" " + right])
    add("sub-pattern of 1,023 bytes", [b"y" * 1023 + b"," + pinned + b" " + right])
    add("negated over-long sub-pattern", [pinned + b",!" + long_pattern + b" " + right])

    # Off port 22: the bare name is looked up when [host]:port has no entry at all.
    bare = HOST.encode()
    add("bare-name pin for a non-22 port", [bare + b" " + right])
    add("bare-name pin with another key", [bare + b" " + wrong])
    add("bare-name pin revoked", [bare + b" " + right, b"@revoked " + bare + b" " + right])
    add("[host]:port changed, bare name right", [pinned + b" " + wrong, bare + b" " + right])
    add("[host]:port revoked, bare name right", [b"@revoked " + pinned + b" " + right, bare + b" " + right])
    add("[host]:port other key revoked, bare name right", [b"@revoked " + pinned + b" " + wrong, bare + b" " + right])
    add("hashed bare-name pin", [hashed(HOST) + b" " + right])
    add("bare-name pin typed in capitals", [bare.upper() + b" " + right], host=mixed)
    add("[host]:22 pin for port 22", [f"[{HOST}]:22".encode() + b" " + right], port=22)

    # Markers.
    add("@revoked followed by a tab, a space further on", [pinned + b" " + right, b"@revoked\t" + pinned + b" " + right],
        stricter=True)
    add("@revoked followed by tabs only", [pinned + b" " + right,
                                           b"@revoked\t" + pinned + b"\tssh-ed25519\t" + ed25519.base64.encode()])
    add("@REVOKED in capitals", [pinned + b" " + right, b"@REVOKED " + pinned + b" " + right])
    add("two markers", [pinned + b" " + right, b"@revoked @revoked " + pinned + b" " + right])
    add("unknown marker", [b"@pinned " + pinned + b" " + right])
    add("@cert-authority line", [b"@cert-authority " + pinned + b" " + right])
    add("marker alone", [b"@ " + pinned + b" " + right])
    return cases


def _padded_rsa(key: Key) -> Key:
    """The RSA key with a needless zero byte in front of its modulus (a non-canonical mpint)."""
    blob = key.blob
    position = 0
    parts = []
    while position < len(blob):
        length = int.from_bytes(blob[position:position + 4], "big")
        parts.append(blob[position + 4:position + 4 + length])
        position += 4 + length
    name, exponent, modulus = parts
    return Key(key.type_name, _string(name) + _string(exponent) + _string(b"\0" + modulus))


# Bytes some reader or other takes for a separator or a line end, for the random files.
_ODD_BYTES = [b"\r", b"\f", b"\v", b"\0", b"\x1c", b"\x1e", "\u0085".encode(), "\u2028".encode(),
              "\u00a0".encode(), b"\t", b" ", b",", b"#", b"|", b"=", b"!", b"*", b"?"]


def _host_spelling(generator: random.Random, host: str, port: int) -> bytes:
    """One way or another of writing a host field that may or may not name host:port."""
    name = name_for(host, port)
    lower = name_for(host.lower(), port)
    choices = [
        lambda: name.encode(),
        lambda: lower.encode(),
        lambda: lower.upper().encode(),
        lambda: hashed(lower),
        lambda: hashed(name),
        lambda: host.lower().encode(),
        lambda: hashed(host.lower()),
        lambda: b"*",
        lambda: name_for("*.example", port).encode(),
        lambda: name_for("dr?plet.example", port).encode(),
        lambda: name_for("other.example", port).encode(),
        lambda: b"!" + lower.encode() + b",*",
        lambda: b"*,!" + lower.encode(),
        lambda: b"other.example," + lower.encode(),
        lambda: b"other.example," + hashed(lower),
        lambda: f"[{host.lower()}]:{port + 1}".encode(),
        lambda: f"[{host.lower()}]:22".encode(),
        lambda: lower.replace("s", "\u017f").encode(),
    ]
    return generator.choice(choices)()


def _key_spelling(generator: random.Random, server: dict[str, Key], other: dict[str, Key]) -> bytes:
    key = generator.choice([*server.values(), *server.values(), *other.values()])
    roll = generator.random()
    if roll < 0.7:
        return key.field()
    if roll < 0.8:
        return generator.choice([b"ssh-rsa", b"ssh-ed25519", b"ecdsa-sha2-nistp256", b"rsa-sha2-256"]) \
            + b" " + key.base64.encode()
    if roll < 0.9:
        text = key.field()
        position = generator.randrange(len(key.type_name) + 1, len(text))
        return text[:position] + generator.choice(_ODD_BYTES[:8]) + text[position:]
    return key.field() + generator.choice([b"=", b"==", b"A", b" comment", b"\tcomment"])


def random_cases(server: dict[str, Key], other: dict[str, Key], *, seed: int, count: int) -> list[Case]:
    """`count` seeded random files of one to five lines, each checked once."""
    generator = random.Random(seed)
    cases = []
    for number in range(count):
        host = generator.choice([HOST, "Droplet.Example", "DROPLET.EXAMPLE", "10.0.0.7"])
        port = generator.choice(PORTS)
        lines = []
        for _ in range(generator.randint(1, 5)):
            marker = generator.choice([b""] * 6 + [b"@revoked ", b"@cert-authority ", b"# ", b"@revoked  "])
            separator = generator.choice([b" ", b" ", b" ", b"\t", b"  ", b" \t"])
            line = marker + _host_spelling(generator, host, port) + separator + _key_spelling(generator, server, other)
            if generator.random() < 0.3:
                position = generator.randrange(len(line) + 1)
                line = line[:position] + generator.choice(_ODD_BYTES) + line[position:]
            lines.append(line)
        ending = generator.choice([b"\n"] * 5 + [b"\r\n"])
        content = b"".join(line + ending for line in lines)
        cases.append(Case(f"random {seed}-{number}", content, host, port, generator.choice(KEY_TYPES)))
    return cases
