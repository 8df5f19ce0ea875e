"""durations: how long access is asked for, and absolute expiry times in OpenSSH's form."""

from __future__ import annotations

import pytest

from hermes_ops.access.durations import format_duration, parse_duration, parse_expiry_time
from hermes_ops.errors import ConfigError


@pytest.mark.parametrize("text, seconds", [
    ("5m", 300), ("90m", 5400), ("8h", 28800), ("30d", 2592000), ("2w", 1209600), ("366d", 366 * 86400),
    ("52w", 52 * 604800), (" 8h\n", 28800), ("1h", 3600), ("8784h", 366 * 86400),
])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", [
    "", "8", "h", "0h", "-1h", "+1h", "1.5h", "8H", "8 h", "8hours", "1y", "1s", "4m", "367d", "53w", "08h",
    "1h30m", "9999999999d", "١h", None, 8,
])
def test_refused_durations(text):
    with pytest.raises(ConfigError) as caught:
        parse_duration(text)
    message = str(caught.value)
    assert "a whole number and a unit m, h, d or w (e.g. 90m, 8h, 30d, 2w), from 5m to 366d" in message
    assert repr(text if isinstance(text, str) else repr(text))[:10] in message


def test_a_long_value_is_shown_short():
    with pytest.raises(ConfigError) as caught:
        parse_duration("x" * 500)
    assert "x" * 24 + "..." in str(caught.value) and "x" * 30 not in str(caught.value)


@pytest.mark.parametrize("seconds, text", [
    (28800, "8h"), (300, "5m"), (5400, "90m"), (86400, "1d"), (604800, "1w"), (1209600, "2w"), (8 * 86400, "8d"),
    (90000, "25h"), (60, "1m"),
])
def test_format_duration_uses_the_largest_whole_unit(seconds, text):
    assert format_duration(seconds) == text
    if seconds >= 300:
        assert parse_duration(text) == seconds


@pytest.mark.parametrize("seconds", [0, -60, 61, 1.5, True, "60"])
def test_format_duration_refuses_what_is_not_whole_minutes(seconds):
    with pytest.raises(ConfigError):
        format_duration(seconds)


@pytest.mark.parametrize("text, openssh", [
    ("2026-12-01T18:30", "202612011830"), ("202612011830", "202612011830"), ("2026-12-01 18:30", "202612011830"),
    ("2028-02-29T00:00", "202802290000"), (" 2026-12-01T18:30 ", "202612011830"),
    ("2001-01-01T00:00", "200101010000"),  # long past: granting an expired key suspends it
])
def test_expiry_times(text, openssh):
    assert parse_expiry_time(text) == openssh


@pytest.mark.parametrize("text", [
    "2026-12-01", "2026-12-01T18:30:00", "20261201", "20261201183000", "2026-13-01T00:00", "2027-02-29T00:00",
    "2026-12-01T24:00", "2026-12-01T18:60", "2026-04-31T10:00", "1999-12-31T23:59", "2026/12/01 18:30",
    "tomorrow", "", "2026-12-01T18:30Z", "+8h", None,
])
def test_refused_expiry_times(text):
    with pytest.raises(ConfigError, match="expiry time .* is not"):
        parse_expiry_time(text)
