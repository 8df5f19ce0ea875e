"""The tamper-evident chain of a host's records: each record is sealed with its own hash and its predecessor's.

Every run leaves a record on the production host, a JSON summary and an executed notebook. A seal
(the JSON's `integrity` key) holds the sha256 of the notebook's bytes, the record's place in its
host's chain (a sequence number and the previous record's hash) and the hash of the record itself,
seal included. That is what git does with commits and CloudTrail with its digest files: change a
sealed record, its notebook, or the order of the chain, and `verify` finds it. So does deleting a
record from the middle (a gap in the numbers), copying one in (a duplicate number, or a seal naming
another host) and, given the head the host names elsewhere (its HEAD file, its log line), deleting
the newest records.

What it does not protect against: there is no secret key, so whoever can write the records (root on
the host) can rewrite the whole chain consistently, head included, and `verify` will find nothing.
Git has the same limit (a rewritten history is only caught by a clone that kept the old hashes), and
so do we: a local copy of the records, or a head noted earlier, is what catches a rewrite. CloudTrail
is stronger here: its digest files are signed with AWS's private key, which the account's owner never
holds. Nor does a seal say who ran a run: the operator is what the record says.

Everything here is pure: the caller reads the files and hands over their parsed JSON and digests.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

CHAIN_FIELD = "integrity"  # the key a sealed record JSON carries its seal under

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_SEAL_KEYS = frozenset({"host", "sequence", "previous", "files", "hash", "sealed_at"})


@dataclass(frozen=True)
class Seal:
    """A record's place in its host's chain and the hashes that make a later change to it show.

    Raises ValueError when built with a value no seal can hold (see `from_json`).
    """

    host: str                 # the chain's identity: the host key fingerprint (e.g. "SHA256:abc...")
    sequence: int             # 1 for the first record of a host's chain, then +1
    previous: str | None      # the hash of the previous record of this chain (None for sequence 1)
    files: dict[str, str]     # file role -> sha256 hex of its bytes; "notebook": the .ipynb, uncompressed
    hash: str                 # sha256 hex of the sealed record (see `record_hash`)
    sealed_at: str            # ISO 8601 UTC

    def __post_init__(self):
        if not isinstance(self.host, str) or not self.host:
            raise ValueError("a seal names its chain's host (its host key fingerprint)")
        if type(self.sequence) is not int or self.sequence < 1:
            raise ValueError(f"a seal's sequence is a whole number from 1, not {self.sequence!r}")
        if self.sequence == 1 and self.previous is not None:
            raise ValueError("the first record of a chain (sequence 1) has no previous record")
        if self.sequence > 1 and not _is_sha256(self.previous):
            raise ValueError(f"a seal's previous is the sha256 hex of the record before it, not {self.previous!r}")
        if not isinstance(self.files, Mapping) or not all(
                isinstance(role, str) and role and _is_sha256(digest) for role, digest in self.files.items()):
            raise ValueError("a seal's files map each role to the sha256 hex of its bytes")
        if not _is_sha256(self.hash):
            raise ValueError(f"a seal's hash is a sha256 hex, not {self.hash!r}")
        if not _is_utc_time(self.sealed_at):
            raise ValueError(f"a seal's sealed_at is an ISO 8601 time in UTC, not {self.sealed_at!r}")
        object.__setattr__(self, "files", dict(self.files))

    def to_json(self) -> dict:
        return {"host": self.host, "sequence": self.sequence, "previous": self.previous,
                "files": dict(self.files), "hash": self.hash, "sealed_at": self.sealed_at}

    @classmethod
    def from_json(cls, data: Mapping) -> "Seal":
        """The seal `data` holds; ValueError if it is not exactly a seal's fields with valid values.

        Unknown keys are refused rather than ignored: a seal this version cannot fully check is not one it passes.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a seal is a JSON object, not {type(data).__name__}")
        if set(data) != _SEAL_KEYS:
            raise ValueError(f"a seal holds exactly {sorted(_SEAL_KEYS)}, not {sorted(map(str, data))}")
        return cls(**data)


def canonical_bytes(record_json: Mapping) -> bytes:
    """The bytes a record's hash covers: its JSON, keys sorted, compact, less only the seal's own `hash`.

    Key order and whitespace in the file do not matter; every value does, the rest of the seal included.
    """
    content = dict(record_json)
    chain = content.get(CHAIN_FIELD)
    if isinstance(chain, Mapping):
        content[CHAIN_FIELD] = {key: value for key, value in chain.items() if key != "hash"}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def record_hash(record_json: Mapping) -> str:
    """The sha256 hex of `canonical_bytes(record_json)`."""
    return hashlib.sha256(canonical_bytes(record_json)).hexdigest()


def file_digest(data: bytes) -> str:
    """The sha256 hex of `data`."""
    return hashlib.sha256(data).hexdigest()


def seal(record_json: Mapping, files: Mapping[str, bytes], *, host: str, previous: Seal | None,
         sealed_at: str) -> dict:
    """A new dict: the record's plain JSON form with its seal under `CHAIN_FIELD`; neither input is changed.

    `files` maps each role to its bytes ("notebook": the .ipynb, uncompressed, since gzip's header
    changes with every compression). `previous` is the seal of the host's newest record (None for
    its first). The record is taken as it will be read back from its file (values JSON cannot hold
    become text), so the hash still holds once the file is written and read.

    Raises ValueError for a record already sealed, a `previous` of another host's chain, or a
    seal value that is not valid (an empty host, a `sealed_at` not in UTC).
    """
    if CHAIN_FIELD in record_json:
        raise ValueError(f"the record is already sealed (it has {CHAIN_FIELD!r}); a record is sealed once")
    if previous is not None and previous.host != host:
        raise ValueError(f"the previous record is of the chain of {previous.host}, not of {host}")
    fields = {"host": host, "sequence": previous.sequence + 1 if previous else 1,
              "previous": previous.hash if previous else None,
              "files": {role: file_digest(data) for role, data in files.items()}, "sealed_at": sealed_at}
    sealed = json.loads(canonical_bytes(record_json))
    sealed[CHAIN_FIELD] = fields
    sealed[CHAIN_FIELD] = Seal(**fields, hash=record_hash(sealed)).to_json()
    return sealed


def seal_of(record_json: Mapping) -> Seal | None:
    """The record's seal; None if it has none; ValueError if what it has is not a seal."""
    if CHAIN_FIELD not in record_json:
        return None
    return Seal.from_json(record_json[CHAIN_FIELD])


@dataclass(frozen=True)
class ChainedRecord:
    """One record as found in an archive, for verification."""

    name: str                   # its stem (for messages)
    record: Mapping             # the parsed JSON (may be tampered)
    files: Mapping[str, str]    # role -> sha256 hex of the bytes actually found (missing role = file missing)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a chain, in a sentence for the operator."""

    run_id: str                 # the run the problem is about ("" if unknown)
    kind: str                   # "edited", "file-edited", "file-missing", "deleted", "inserted",
                                # "reordered", "foreign", "unsealed", "head-mismatch", "malformed"
    detail: str                 # names the record (stem), what is wrong, and what it means


def verify(records: Sequence[ChainedRecord], *, host: str, head: str | None = None,
           complete: bool = True) -> list[Problem]:
    """What is wrong with `host`'s chain as `records` hold it; an empty list means the chain holds.

    Each record is checked on its own (sealed, for this host, unchanged, its files as sealed), then
    the host's records in sequence order. `complete=True` (the whole chain, as on the host) wants
    sequences 1..N; `complete=False` (a folder holding some of them) allows gaps but checks each
    link whose two records are both present. `head`, if given, must be the newest record's hash.

    Telling what happened from the order is kept simple and deterministic:
    - a gap in the sequence is "deleted", on the record after it;
    - a sequence held twice is "inserted", on every record of it but one: the one the next
      record (or, for the newest, `head`) names, else the first in `records`' order;
    - a record whose `previous` is not the hash of the record before it is "reordered" if
      `previous` names another record of the chain, else "deleted": the record it was sealed
      after is not here (deleted, or replaced by a copy resealed by hand).
    The link is checked against the hash each seal stores, so an edited record is reported once
    ("edited"), not again as a broken link.

    Problems come in chain order; those of records outside the chain (unsealed, malformed,
    foreign) follow in `records`' order, and a head mismatch comes last.
    """
    chain: list[tuple[ChainedRecord, Seal]] = []
    outside: list[Problem] = []
    problems: list[Problem] = []
    for entry in records:
        found = _own_seal(entry, host)
        if isinstance(found, Problem):
            outside.append(found)
        else:
            chain.append((entry, found))
    chain.sort(key=lambda pair: pair[1].sequence)  # stable: records' order within a sequence
    duplicates = _duplicates(chain, head)
    known = {found.hash: entry for entry, found in chain}
    before: tuple[ChainedRecord, Seal] | None = None
    for index, (entry, found) in enumerate(chain):
        problems += _content_problems(entry, found)
        if index in duplicates:
            problems.append(_inserted(entry, found))
            continue
        problems += _order_problems(before, (entry, found), known, complete)
        before = (entry, found)
    problems += outside
    if head is not None:
        problems += _head_problems(before, head, known)
    return problems


# -- one record ------------------------------------------------------------------------------------


def _own_seal(entry: ChainedRecord, host: str) -> Seal | Problem:
    """The record's seal if it belongs to `host`'s chain, else the problem that keeps it out."""
    if not isinstance(entry.record, Mapping):
        return _problem(entry, "malformed", f"{entry.name} is not a JSON object, so it cannot be checked: "
                                            "the file was damaged or replaced")
    try:
        found = seal_of(entry.record)
        if found is not None:
            record_hash(entry.record)  # text JSON can carry but UTF-8 cannot (a lone surrogate) is a ValueError
    except ValueError as error:
        return _problem(entry, "malformed", f"{entry.name} has a {CHAIN_FIELD!r} that is not a valid seal "
                                            f"({error}): it was damaged or forged, and cannot be checked")
    if found is None:
        return _problem(entry, "unsealed", f"{entry.name} carries no seal: it was never sealed or its seal "
                                           "was removed, so nothing shows whether it was changed")
    if found.host != host:
        return _problem(entry, "foreign", f"{entry.name} is sealed in the chain of {found.host}, not of {host}: "
                                          "it was copied in from another host's records")
    return found


def _content_problems(entry: ChainedRecord, found: Seal) -> list[Problem]:
    problems = []
    if record_hash(entry.record) != found.hash:
        problems.append(_problem(entry, "edited", f"{entry.name} no longer matches its seal: a field (its outcome, "
                                                  "times, operator or any other) was changed after it was sealed, "
                                                  "so what it says cannot be trusted"))
    for role, digest in sorted(found.files.items()):
        if role not in entry.files:
            problems.append(_problem(entry, "file-missing", f"{entry.name}'s {role} is missing: it was sealed "
                                                            "with the record and has been removed since"))
        elif entry.files[role] != digest:
            problems.append(_problem(entry, "file-edited", f"{entry.name}'s {role} is not the one sealed with it: "
                                                           "its bytes were changed after the run"))
    return problems


# -- the order -------------------------------------------------------------------------------------


def _duplicates(chain: list[tuple[ChainedRecord, Seal]], head: str | None) -> set[int]:
    """The indexes in `chain` of the records that share a sequence with the one kept (see `verify`)."""
    by_sequence: dict[int, list[int]] = {}
    for index, (_, found) in enumerate(chain):
        by_sequence.setdefault(found.sequence, []).append(index)
    newest = max(by_sequence, default=0)
    duplicates = set()
    for sequence, indexes in by_sequence.items():
        if len(indexes) == 1:
            continue
        named = ({head} if sequence == newest else
                 {chain[index][1].previous for index in by_sequence.get(sequence + 1, [])})
        kept = next((index for index in indexes if chain[index][1].hash in named), indexes[0])
        duplicates.update(index for index in indexes if index != kept)
    return duplicates


def _order_problems(before: tuple[ChainedRecord, Seal] | None, current: tuple[ChainedRecord, Seal],
                    known: Mapping[str, ChainedRecord], complete: bool) -> list[Problem]:
    """What is wrong between the record kept before `current` (None: `current` comes first) and `current`."""
    entry, found = current
    first_expected = before[1].sequence + 1 if before else 1
    if found.sequence > first_expected:
        if not complete:
            return []
        missing = _numbers(first_expected, found.sequence - 1)
        after = f"between {before[0].name} and {entry.name}" if before else f"before {entry.name}, the first here"
        deleted = "that record was" if found.sequence - 1 == first_expected else "those records were"
        return [_problem(entry, "deleted", f"the chain has no record {missing}, {after}: {deleted} deleted")]
    if before is None or found.previous == before[1].hash:
        return []
    if found.previous in known:
        named = known[found.previous].name
        return [_problem(entry, "reordered", f"{entry.name} (sequence {found.sequence}) was sealed after {named}, "
                                             f"not after {before[0].name} which now comes before it: "
                                             "the chain's order was changed")]
    return [_problem(entry, "deleted", f"{entry.name} (sequence {found.sequence}) was not sealed after "
                                       f"{before[0].name} but after a record that is not here: that record was "
                                       "deleted, or replaced by a copy resealed by hand")]


def _inserted(entry: ChainedRecord, found: Seal) -> Problem:
    return _problem(entry, "inserted", f"{entry.name} claims sequence {found.sequence}, which another record "
                                       "of the chain holds: it was inserted (or two runs were sealed from the "
                                       "same head)")


def _head_problems(newest: tuple[ChainedRecord, Seal] | None, head: str,
                   known: Mapping[str, ChainedRecord]) -> list[Problem]:
    if newest is not None and newest[1].hash == head:
        return []
    if head in known:
        what = (f"the host's head is {known[head].name}, yet {newest[0].name} (sequence {newest[1].sequence}) "
                "comes after it: records were added after the head, or the head was moved back")
        return [_problem(newest[0], "head-mismatch", what)]
    newest_name = f"the newest record here, {newest[0].name}," if newest else "no record here"
    what = (f"the host's head names a record that is not here, and {newest_name} is not it: "
            "the newest records were deleted, or the chain was rewritten")
    return [Problem(run_id=_run_id(newest[0]) if newest else "", kind="head-mismatch", detail=what)]


# -- small helpers ---------------------------------------------------------------------------------


def _problem(entry: ChainedRecord, kind: str, detail: str) -> Problem:
    return Problem(run_id=_run_id(entry), kind=kind, detail=detail)


def _run_id(entry: ChainedRecord) -> str:
    run_id = entry.record.get("run_id") if isinstance(entry.record, Mapping) else None
    return run_id if isinstance(run_id, str) else ""


def _numbers(first: int, last: int) -> str:
    return f"{first}" if first == last else f"{first} to {last}"


def _is_sha256(value) -> bool:
    return isinstance(value, str) and _SHA256_HEX.fullmatch(value) is not None


def _is_utc_time(value) -> bool:
    if not isinstance(value, str):
        return False
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return False
    return moment.utcoffset() == datetime.timedelta(0)
