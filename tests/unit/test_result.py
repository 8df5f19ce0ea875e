"""Result and BoundedCapture: bounded output that still proves what the host sent."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from datetime import datetime, timezone

import pytest

from hermes_ops.result import BoundedCapture, Result
from hermes_ops.secrets import Redactor

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def make_result(**changes) -> Result:
    fields = dict(host="core@203.0.113.7:22", command="docker ps", exit_code=0, stdout="a\nb\nc\n",
                  stderr="warn\n", started_at=NOW, ended_at=NOW, duration=0.25)
    fields.update(changes)
    return Result(**fields)


def test_result_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        make_result().exit_code = 1


def test_ok_means_exit_zero():
    assert make_result().ok
    assert not make_result(exit_code=1).ok
    assert not make_result(exit_code=None).ok


def test_tail_returns_last_lines_of_a_stream():
    result = make_result(stdout="".join(f"line {n}\n" for n in range(100)))
    assert result.tail(3) == "line 97\nline 98\nline 99"
    assert result.tail(2, stream="stderr") == "warn"
    assert result.tail(0) == ""
    with pytest.raises(ValueError):
        result.tail(3, stream="both")


def test_to_dict_is_json_serialisable():
    data = make_result().to_dict()
    text = json.dumps(data)
    assert json.loads(text)["started_at"] == "2026-01-02T03:04:05+00:00"
    assert data["ok"] is True
    assert data["stdout_sha256"] == hashlib.sha256(b"").hexdigest()


def test_small_output_is_kept_whole():
    capture = BoundedCapture(head_bytes=16, tail_bytes=16)
    for chunk in (b"hello ", b"world", b"\n"):
        capture.feed(chunk)
    assert capture.text() == "hello world\n"
    assert capture.total == 12
    assert capture.sha256 == hashlib.sha256(b"hello world\n").hexdigest()
    assert not capture.truncated


def test_output_of_exactly_head_plus_tail_is_not_truncated():
    data = bytes(range(32))
    capture = BoundedCapture(head_bytes=16, tail_bytes=16)
    capture.feed(data)
    assert not capture.truncated
    assert capture.text().encode("latin-1", "replace")[:1] == b"\x00"


@pytest.mark.parametrize("chunk_size", [1, 7, 1000, 65536, 10**6])
def test_large_output_keeps_head_and_tail_and_counts_everything(chunk_size):
    data = os.urandom(300_000).hex().encode()  # 600 kB of text
    capture = BoundedCapture(head_bytes=1000, tail_bytes=2000)
    for start in range(0, len(data), chunk_size):
        capture.feed(data[start:start + chunk_size])
    assert capture.total == len(data)
    assert capture.sha256 == hashlib.sha256(data).hexdigest()
    assert capture.truncated
    assert capture.omitted == len(data) - 3000
    text = capture.text()
    head, marker, tail = text.split("\n")
    assert head == data[:1000].decode()
    assert tail == data[-2000:].decode()
    assert f"{len(data) - 3000} bytes omitted" in marker and capture.sha256 in marker


def test_capture_memory_stays_bounded():
    capture = BoundedCapture(head_bytes=1024, tail_bytes=1024)
    for _ in range(2000):
        capture.feed(b"x" * 700)
    assert len(capture._head) + len(capture._tail) <= 1024 + 2 * 1024 + 700


def test_capture_text_is_redacted_including_at_the_cuts():
    secret = "TOPSECRETVALUE"
    data = b"A" * 10 + secret.encode() + b"B" * 5000 + secret.encode() + b"C" * 10
    redactor = Redactor([secret])
    capture = BoundedCapture(head_bytes=16, tail_bytes=20)  # both cuts fall inside a secret
    capture.feed(data)
    text = capture.text(redactor)
    for size in range(3, len(secret) + 1):
        for start in range(len(secret) - size + 1):
            assert secret[start:start + size] not in text, secret[start:start + size]
    assert text.startswith("A" * 10 + "****")
    assert text.endswith("****" + "C" * 10)


def test_invalid_utf8_is_replaced_not_fatal():
    capture = BoundedCapture()
    capture.feed(b"ok \xff\xfe done")
    assert capture.text() == "ok \ufffd\ufffd done"


def test_zero_limits_keep_nothing_but_count():
    capture = BoundedCapture(head_bytes=0, tail_bytes=0)
    capture.feed(b"abc")
    assert capture.total == 3 and capture.truncated
    assert "3 bytes omitted" in capture.text()


def test_to_dict_neutralises_text_but_keeps_the_raw_counts_and_hashes():
    raw_stdout = b"\x1b[31mred\x1b[0m \x1b]0;title\x07 \xe2\x80\xae done\r\n"
    capture = BoundedCapture()
    capture.feed(raw_stdout)
    result = make_result(command="git log -1 --format=%s", stdout=capture.text(), stderr="bell\x07\n",
                         stdout_bytes=capture.total, stdout_sha256=capture.sha256)
    data = result.to_dict()
    assert data["stdout"] == "red \\x1b]0;title\\x07 \\u202e done\n"
    assert data["stderr"] == "bell\\x07\n"
    assert data["stdout_bytes"] == len(raw_stdout)
    assert data["stdout_sha256"] == hashlib.sha256(raw_stdout).hexdigest()
    assert result.stdout == raw_stdout.decode()  # the Result itself keeps the text as received
