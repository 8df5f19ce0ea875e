"""The host archive's local parts: which records are pending, the HEAD line, the upload's tar, the host scripts."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import tarfile

import pytest

from hermes_ops.commands import record_archive
from hermes_ops.records import chain
from hermes_ops.records.host_archive import Head, _tar, pending


def _write(folder, stem: str, **fields) -> None:
    record = {"run_id": stem, "outcome": "success", "started_at": f"2026-11-27T{stem[-2:]}:00:00+00:00", **fields}
    (folder / f"{stem}.json").write_text(json.dumps(record))


def test_pending_is_this_hosts_unsealed_finished_records_oldest_first(tmp_path):
    mine = {"facts": {"host_key_fingerprint": "SHA256:mine"}, "host": "core@droplet:22"}
    _write(tmp_path, "a_b_c_12", **mine)
    _write(tmp_path, "a_b_c_10", **mine)
    _write(tmp_path, "a_b_c_11", host="core@droplet:22")  # never reached the host: matched by its address
    _write(tmp_path, "a_b_c_13", facts={"host_key_fingerprint": "SHA256:other"}, host="core@droplet:22")
    _write(tmp_path, "a_b_c_14", **mine, outcome="running")
    _write(tmp_path, "a_b_c_15", **mine, **{chain.CHAIN_FIELD: {"sequence": 1}})
    (tmp_path / "a_b_c_16.json").write_text("{not json")
    assert [path.stem for path in pending(tmp_path, "SHA256:mine", "core@droplet:22")] == [
        "a_b_c_10", "a_b_c_11", "a_b_c_12"]


def test_head_line_round_trips_and_refuses_junk():
    assert Head.parse("") == Head()
    head = Head.parse("12 " + "a" * 64 + "\n")
    assert head.sequence == 12 and head.line() == "12 " + "a" * 64
    assert head.as_previous("SHA256:x").sequence == 12 and Head().as_previous("SHA256:x") is None
    with pytest.raises(ValueError):
        Head.parse("twelve abc")


def test_the_upload_is_a_tar_of_the_json_and_the_compressed_notebook():
    data = _tar("stem", b'{"a": 1}', b'{"cells": []}')
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        names = archive.getnames()
        notebook = archive.extractfile("stem.ipynb.gz").read()
    assert names == ["stem.json", "stem.ipynb.gz"] and gzip.decompress(notebook) == b'{"cells": []}'
    assert _tar("stem", b"{}", None) and "stem.ipynb.gz" not in tarfile.open(fileobj=io.BytesIO(
        _tar("stem", b"{}", None))).getnames()


def test_fetch_refuses_a_name_that_is_not_a_record():
    for bad in ("", "../etc/passwd", ".hidden", "a/b"):
        with pytest.raises(ValueError):
            record_archive.fetch_record(bad)


def test_the_store_script_is_compare_and_swap_on_head(tmp_path):
    """The real script under sh, with HOME in a temporary folder: a stale HEAD changes nothing."""
    environment = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    upload = _tar("r1", b'{"run_id": "r1"}', b"{}")
    argv = record_archive.store_record("", "1 " + "a" * 64, "2026-11-27T00:00:00Z kind=record run=r1")
    first = subprocess.run(argv, input=upload, capture_output=True, env=environment)
    assert first.returncode == 0, first.stderr
    stale = subprocess.run(argv, input=_tar("r2", b"{}", None), capture_output=True, env=environment)
    assert stale.returncode == record_archive.HEAD_MOVED
    again = subprocess.run(record_archive.store_record("1 " + "a" * 64, "2 " + "b" * 64, "line"), input=upload,
                           capture_output=True, env=environment)
    assert again.returncode == record_archive.ALREADY_ARCHIVED
    archive = tmp_path / ".hermes" / "records"
    assert sorted(path.name for path in archive.iterdir() if not path.name.startswith(".")) == [
        "HEAD", "r1.ipynb.gz", "r1.json"]
    assert (archive / "HEAD").read_text() == "1 " + "a" * 64 + "\n"
    assert "kind=record run=r1" in (tmp_path / ".hermes" / "deploys.log").read_text()
    dumped = subprocess.run(record_archive.dump_archive(), capture_output=True, text=True, env=environment)
    assert dumped.stdout.startswith("head 1 " + "a" * 64 + "\nrecord r1 ")
