"""Draining output: lines cut from chunks and redacted, the wrapper's pid marker taken out of stderr."""

from __future__ import annotations

from hermes_ops.secrets import Redactor
from hermes_ops.ssh.commandline import marker
from hermes_ops.ssh.streams import LineSplitter, PidMarkerFilter

NONCE = "0123456789abcdef"


def test_line_splitter_handles_partial_lines_crlf_and_long_lines():
    lines = []
    splitter = LineSplitter(lines.append, Redactor(["s3cret"]), max_line=10)
    for chunk in (b"one\ntw", b"o\r\nthree s3", b"cret\n", b"x" * 25, b"\nlast"):
        splitter.feed(chunk)
    splitter.close()
    assert lines == ["one", "two", "three ****", "xxxxxxxxxx", "xxxxxxxxxx", "xxxxx", "last"]


def test_pid_marker_is_removed_and_surrounding_output_kept():
    data = b"motd noise\n" + marker(NONCE) + b"4242\nreal stderr\n"
    for size in (1, 3, len(data)):
        filter_ = PidMarkerFilter(marker(NONCE))
        output = b"".join(filter_.feed(data[i:i + size]) for i in range(0, len(data), size)) + filter_.flush()
        assert output == b"motd noise\nreal stderr\n"
        assert filter_.pid == 4242


def test_missing_pid_marker_passes_everything_through():
    filter_ = PidMarkerFilter(marker(NONCE))
    assert filter_.feed(b"no marker here") == b""
    assert filter_.flush() == b"no marker here"
    assert filter_.pid is None
