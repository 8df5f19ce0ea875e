"""BoundedCapture: bounded output that still proves what the host sent (head, tail, byte count, sha256)."""

from __future__ import annotations

import hashlib
import os

import pytest

from hermes_ops.secrets import Redactor
from hermes_ops.ssh.capture import BoundedCapture


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
