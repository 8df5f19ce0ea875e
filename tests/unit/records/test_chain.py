"""The chain of a host's records: untouched it holds; each kind of tampering is found and named."""

from __future__ import annotations

import datetime
import json

import pytest

from hermes_ops.records.chain import (CHAIN_FIELD, ChainedRecord, Problem, Seal, canonical_bytes, file_digest,
                                      record_hash, seal, seal_of, verify)

HOST = "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8"
OTHER_HOST = "SHA256:8mpB2Y0Jc1r6hgmkvYpjB0L3VvZ7YQ0p3bqKzJ8bq4M"


def run_record(number: int, host: str = HOST) -> dict:
    """A synthetic record JSON, shaped like `Record.to_json()`'s."""
    return {"run_id": f"20261127T0{number}0000Z-00aa1{number}", "kind": "deploy",
            "started_at": f"2026-11-27T0{number}:00:00+00:00", "outcome": "success", "operator": "Ada",
            "host": "deploy@203.0.113.7:22", "duration": 3.454,
            "facts": {"hostname": "texasca2", "host_key_fingerprint": host},
            "steps": [{"number": 1, "name": "preflight", "status": "ok"}], "changelog": ["ünïcode ✓"]}


def notebook(number: int) -> bytes:
    return json.dumps({"cells": [{"source": f"deploy {number}"}], "nbformat": 4}).encode()


def archived(record_json: dict) -> dict:
    """The record as read back from its file."""
    return json.loads(json.dumps(record_json, indent=1))


def build_chain(count: int = 5, host: str = HOST) -> list[ChainedRecord]:
    """`count` records sealed one after another, as the host archives them."""
    chain, previous = [], None
    for number in range(1, count + 1):
        sealed = seal(run_record(number, host), {"notebook": notebook(number)}, host=host, previous=previous,
                      sealed_at=f"2026-11-27T0{number}:05:00Z")
        previous = seal_of(sealed)
        chain.append(ChainedRecord(name=f"20261127T0{number}0000Z_texasca2_nocommit_success",
                                   record=archived(sealed), files={"notebook": file_digest(notebook(number))}))
    return chain


def resealed(entry: ChainedRecord, **seal_fields) -> ChainedRecord:
    """`entry` with its seal changed by hand and its own hash recomputed, as a careful forger would."""
    record = json.loads(json.dumps(entry.record))
    record[CHAIN_FIELD].update(seal_fields)
    record[CHAIN_FIELD]["hash"] = record_hash(record)
    return ChainedRecord(name=entry.name, record=record, files=entry.files)


def edited(entry: ChainedRecord, **fields) -> ChainedRecord:
    return ChainedRecord(name=entry.name, record={**entry.record, **fields}, files=entry.files)


def kinds(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(problem.kind, problem.run_id) for problem in problems]


def run_id(entry: ChainedRecord) -> str:
    return entry.record["run_id"]


# -- sealing ---------------------------------------------------------------------------------------


def test_records_are_sealed_in_sequence_each_naming_the_one_before():
    chain = build_chain()
    seals = [seal_of(entry.record) for entry in chain]
    assert [found.sequence for found in seals] == [1, 2, 3, 4, 5]
    assert [found.previous for found in seals] == [None] + [found.hash for found in seals[:-1]]
    assert all(found.hash == record_hash(entry.record) for found, entry in zip(seals, chain))
    assert seals[0].files == {"notebook": file_digest(notebook(1))}
    assert seals[0].host == HOST


def test_sealing_leaves_the_record_unchanged_and_refuses_a_sealed_one():
    record = run_record(1)
    before = json.loads(json.dumps(record))
    sealed = seal(record, {"notebook": notebook(1)}, host=HOST, previous=None, sealed_at="2026-11-27T01:05:00Z")
    assert record == before and CHAIN_FIELD not in record
    with pytest.raises(ValueError, match="already sealed"):
        seal(sealed, {"notebook": notebook(1)}, host=HOST, previous=None, sealed_at="2026-11-27T01:05:00Z")


def test_sealing_refuses_another_hosts_previous_and_a_time_not_in_utc():
    first = seal_of(build_chain(1, host=OTHER_HOST)[0].record)
    with pytest.raises(ValueError, match="chain of"):
        seal(run_record(2), {}, host=HOST, previous=first, sealed_at="2026-11-27T02:05:00Z")
    with pytest.raises(ValueError, match="UTC"):
        seal(run_record(1), {}, host=HOST, previous=None, sealed_at="2026-11-27T02:05:00+01:00")


def test_the_seal_covers_values_json_turns_to_text_as_they_read_back():
    ended = datetime.datetime(2026, 11, 27, 1, 4, tzinfo=datetime.timezone.utc)
    record = {**run_record(1), "ended_at": ended, "changelog": ("a", "b"), "exit_codes": {10: "x", 2: "y"}}
    sealed = seal(record, {}, host=HOST, previous=None, sealed_at="2026-11-27T01:05:00Z")
    assert sealed["ended_at"] == "2026-11-27 01:04:00+00:00"
    assert seal_of(archived(sealed)).hash == record_hash(archived(sealed))
    assert verify([ChainedRecord("one", archived(sealed), {})], host=HOST) == []


def test_canonical_bytes_ignore_key_order_and_the_hash_but_cover_the_rest_of_the_seal():
    record = build_chain(1)[0].record
    reordered = {key: record[key] for key in reversed(list(record))}
    reordered["facts"] = dict(reversed(list(record["facts"].items())))
    assert canonical_bytes(reordered) == canonical_bytes(record)
    assert canonical_bytes({**record, CHAIN_FIELD: {**record[CHAIN_FIELD], "hash": "0" * 64}}) == \
        canonical_bytes(record)
    assert canonical_bytes({**record, CHAIN_FIELD: {**record[CHAIN_FIELD], "sequence": 2}}) != \
        canonical_bytes(record)


def test_a_seal_round_trips_through_json():
    found = seal_of(build_chain(2)[1].record)
    assert Seal.from_json(json.loads(json.dumps(found.to_json()))) == found
    assert seal_of(run_record(1)) is None


@pytest.mark.parametrize("change", [
    {"sequence": 0}, {"sequence": "2"}, {"sequence": True}, {"previous": None}, {"previous": "abc"},
    {"hash": "ABC"}, {"files": {"notebook": "not a digest"}}, {"files": ["notebook"]}, {"host": ""},
    {"sealed_at": "yesterday"}, {"sealed_at": "2026-11-27T01:05:00"}, {"algorithm": "sha256"},
])
def test_a_malformed_seal_is_a_value_error(change):
    data = {**seal_of(build_chain(2)[1].record).to_json(), **change}
    with pytest.raises(ValueError):
        Seal.from_json(data)


def test_a_first_record_naming_a_previous_is_malformed():
    data = {**seal_of(build_chain(1)[0].record).to_json(), "previous": "a" * 64}
    with pytest.raises(ValueError, match="first record"):
        Seal.from_json(data)


# -- verifying -------------------------------------------------------------------------------------


def test_an_untouched_chain_holds():
    chain = build_chain()
    assert verify(chain, host=HOST) == []
    assert verify(chain, host=HOST, head=seal_of(chain[-1].record).hash) == []
    assert verify(list(reversed(chain)), host=HOST) == []  # the sequence orders, not the archive


def test_an_edited_outcome_is_found_on_that_run():
    chain = build_chain()
    chain[2] = edited(chain[2], outcome="failed")
    problems = verify(chain, host=HOST)
    assert kinds(problems) == [("edited", run_id(chain[2]))]
    assert chain[2].name in problems[0].detail and "outcome" in problems[0].detail


def test_an_edited_seal_is_found_as_an_edit():
    chain = build_chain()
    record = json.loads(json.dumps(chain[3].record))
    record[CHAIN_FIELD]["sealed_at"] = "2026-11-28T00:00:00Z"
    chain[3] = ChainedRecord(chain[3].name, record, chain[3].files)
    assert kinds(verify(chain, host=HOST)) == [("edited", run_id(chain[3]))]


def test_a_changed_or_missing_notebook_is_found():
    chain = build_chain()
    chain[1] = ChainedRecord(chain[1].name, chain[1].record, {"notebook": file_digest(b"{}")})
    chain[3] = ChainedRecord(chain[3].name, chain[3].record, {})
    problems = verify(chain, host=HOST)
    assert kinds(problems) == [("file-edited", run_id(chain[1])), ("file-missing", run_id(chain[3]))]
    assert chain[1].name in problems[0].detail and "notebook" in problems[0].detail


def test_a_middle_record_deleted_is_found_naming_its_neighbours():
    chain = build_chain()
    del chain[2]
    problems = verify(chain, host=HOST)
    assert kinds(problems) == [("deleted", run_id(chain[2]))]
    assert chain[1].name in problems[0].detail and chain[2].name in problems[0].detail
    assert "no record 3" in problems[0].detail


def test_the_first_records_deleted_are_found():
    chain = build_chain()[2:]
    problems = verify(chain, host=HOST)
    assert kinds(problems) == [("deleted", run_id(chain[0]))]
    assert "1 to 2" in problems[0].detail


def test_a_deletion_renumbered_by_hand_is_still_found():
    chain = build_chain()
    del chain[2]
    chain[2:] = [resealed(entry, sequence=seal_of(entry.record).sequence - 1) for entry in chain[2:]]
    assert "deleted" in [kind for kind, _ in kinds(verify(chain, host=HOST))]


def test_a_record_of_another_hosts_chain_copied_in_is_foreign():
    chain = build_chain()
    stranger = build_chain(3, host=OTHER_HOST)[2]
    problems = verify(chain[:3] + [stranger] + chain[3:], host=HOST)
    assert kinds(problems) == [("foreign", run_id(stranger))]
    assert OTHER_HOST in problems[0].detail


def test_an_unsealed_or_unreadable_record_is_reported_after_the_chains_problems():
    chain = build_chain()
    chain[4] = edited(chain[4], outcome="failed")
    unsealed = ChainedRecord("20261127T060000Z_texasca2_nocommit_success", run_record(6), {})
    broken = ChainedRecord("20261127T070000Z_texasca2_nocommit_success", {**run_record(7), CHAIN_FIELD: None}, {})
    not_a_record = ChainedRecord("20261127T080000Z_texasca2_nocommit_success", ["not", "a", "record"], {})
    problems = verify([unsealed, broken, not_a_record] + chain, host=HOST)
    assert kinds(problems) == [("edited", run_id(chain[4])), ("unsealed", run_id(unsealed)),
                               ("malformed", run_id(broken)), ("malformed", "")]


def test_two_records_swapped_and_resealed_by_hand_are_found_as_reordered():
    chain = build_chain()
    second, third = chain[1], chain[2]
    chain[1], chain[2] = resealed(third, sequence=2), resealed(second, sequence=3)
    problems = verify(chain, host=HOST)
    # The third, now second, follows an original second that is gone; the second now follows the third
    # yet names the first; the fourth follows an original third that is gone.
    assert kinds(problems) == [("deleted", run_id(third)), ("reordered", run_id(second)),
                               ("deleted", run_id(chain[3]))]
    assert chain[0].name in problems[1].detail and third.name in problems[1].detail


def test_a_record_sealed_twice_from_one_head_is_inserted():
    chain = build_chain(4)
    fork = seal(run_record(9), {"notebook": notebook(9)}, host=HOST, previous=seal_of(chain[2].record),
                sealed_at="2026-11-27T09:05:00Z")
    intruder = ChainedRecord("20261127T090000Z_texasca2_nocommit_success", archived(fork),
                             {"notebook": file_digest(notebook(9))})
    # The fourth record's successor would name it; here the fourth is the newest, so the head decides.
    head = seal_of(chain[3].record).hash
    assert kinds(verify([intruder] + chain, host=HOST, head=head)) == [("inserted", run_id(intruder))]
    fifth = build_chain(5)[4]
    assert kinds(verify([intruder] + chain + [fifth], host=HOST)) == [("inserted", run_id(intruder))]


def test_a_head_the_newest_record_does_not_match_is_found():
    chain = build_chain()
    problems = verify(chain[:4], host=HOST, head=seal_of(chain[4].record).hash)
    assert kinds(problems) == [("head-mismatch", run_id(chain[3]))]
    assert chain[3].name in problems[0].detail and "deleted" in problems[0].detail
    behind = verify(chain, host=HOST, head=seal_of(chain[2].record).hash)
    assert kinds(behind) == [("head-mismatch", run_id(chain[4]))] and chain[2].name in behind[0].detail
    assert kinds(verify([], host=HOST, head="a" * 64)) == [("head-mismatch", "")]


def test_a_partial_copy_may_have_gaps_but_its_links_are_still_checked():
    chain = build_chain()
    partial = [chain[1], chain[3], chain[4]]
    assert verify(partial, host=HOST, complete=False) == []
    assert kinds(verify(partial, host=HOST)) == [("deleted", run_id(chain[1])), ("deleted", run_id(chain[3]))]
    forged = resealed(edited(chain[3], outcome="failed"), sealed_at="2026-11-27T04:06:00Z")
    assert kinds(verify([chain[1], forged, chain[4]], host=HOST, complete=False)) == \
        [("deleted", run_id(chain[4]))]
