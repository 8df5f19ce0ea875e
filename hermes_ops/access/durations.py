"""How long access lasts: durations ("8h", "30d") and absolute expiry times in OpenSSH's form.

An operator asks for access for a while; the admin grants it until a time on the host's
clock, which sshd reads from the key's `expiry-time="YYYYMMDDHHMM"` option. Turning a
duration into that time needs the host's clock and time zone, so it happens on the host
(the runbook's job); here are only the checks and the conversions that need no clock.
"""

from __future__ import annotations

import datetime
import re

from hermes_ops.errors import ConfigError

UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MIN_SECONDS = 5 * 60
MAX_SECONDS = 366 * 86400
DURATION_FORM = "a whole number and a unit m, h, d or w (e.g. 90m, 8h, 30d, 2w), from 5m to 366d"
EXPIRY_FORM = "a time on the host's clock: YYYY-MM-DDTHH:MM (e.g. 2026-12-01T18:30) or YYYYMMDDHHMM"
_SHOWN_CHARS = 24


def _shown(text: object) -> str:
    """The value for an error message: quoted, cut short."""
    value = text if isinstance(text, str) else repr(text)
    return repr(value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "...")


def parse_duration(text: str) -> int:
    """Seconds in a duration such as "90m", "8h", "30d" or "2w" (5 minutes to 366 days).

    Raises:
        ConfigError: anything else (zero, a sign, a fraction, an unknown unit, out of bounds).
    """
    match = re.fullmatch(r"([1-9][0-9]{0,8})([mhdw])", text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ConfigError(f"duration {_shown(text)} is not valid: expected {DURATION_FORM}",
                          hint="write it like 8h or 30d")
    seconds = int(match.group(1)) * UNITS[match.group(2)]
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise ConfigError(f"duration {_shown(text)} is out of bounds: expected {DURATION_FORM}",
                          hint="ask for at least 5m and at most 366d; renew a grant rather than asking for longer")
    return seconds


def format_duration(seconds: int) -> str:
    """The duration in its largest whole unit: 28800 -> "8h", 1209600 -> "2w", 5400 -> "90m".

    Raises:
        ConfigError: not a positive whole number of minutes.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0 or seconds % 60:
        raise ConfigError(f"duration of {_shown(seconds)} seconds cannot be written in whole minutes",
                          hint="give a positive multiple of 60 seconds")
    for unit, size in sorted(UNITS.items(), key=lambda item: -item[1]):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise AssertionError("unreachable: every multiple of 60 is whole minutes")


def parse_expiry_time(text: str) -> str:
    """An absolute expiry the admin gives, as OpenSSH writes it: "YYYYMMDDHHMM" (host's local time).

    Accepts "YYYY-MM-DDTHH:MM", "YYYY-MM-DD HH:MM" (as the key listing shows it) and "YYYYMMDDHHMM".
    The time must exist on the calendar (years 2000 to 9999); it may be in the past: a key granted
    already expired is suspended, which the caller should warn about.

    Raises:
        ConfigError: another form, or no such date or time.
    """
    stripped = text.strip() if isinstance(text, str) else ""
    match = (re.fullmatch(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2})", stripped)
             or re.fullmatch(r"([0-9]{4})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})", stripped))
    if match is None:
        raise ConfigError(f"expiry time {_shown(text)} is not valid: expected {EXPIRY_FORM}",
                          hint="write it like 2026-12-01T18:30 (the host's local time)")
    year, month, day, hour, minute = (int(part) for part in match.groups())
    try:
        moment = datetime.datetime(year, month, day, hour, minute)
    except ValueError:
        moment = None
    if moment is None or year < 2000:
        raise ConfigError(f"expiry time {_shown(text)} is not a time on the calendar: expected {EXPIRY_FORM}",
                          hint="check the month, day, hour and minute")
    return moment.strftime("%Y%m%d%H%M")
