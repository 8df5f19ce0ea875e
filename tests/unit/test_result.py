"""Result: a frozen value that still proves what the host sent, written to records neutralised."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import datetime, timezone

import pytest

from hermes_ops.result import Result
from hermes_ops.ssh.capture import BoundedCapture

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
