"""The authorized_keys file as sshd reads it (`man 8 sshd`, AUTHORIZED_KEYS FILE FORMAT): parse, list, grant, revoke.

Each line is blank, a `#` comment, or `[options] TYPE BASE64 [comment]`. sshd decides what a
line means, so this module reads lines the way sshd 9.2 does (auth2-pubkeyfile.c, sshkey_read,
auth-options.c): first it tries the line as a key; if that fails, the first field (up to an
unquoted space or tab, `\\"` escaping a quote) is options and the key follows. A line whose
options sshd refuses (an unknown option, a bad expiry-time, two command= ...) is ignored by
sshd, so it is not an entry here either; it still "holds" its key for `grant` and `revoke`.

Edits keep every line they do not concern byte for byte (comments, blank lines, lines we
cannot read, options we do not use, CRLF endings): the file is someone's, and sshd is strict.

Options: `expiry-time` is the only one `grant` writes. A key already present with any other
option (command=, from=, restrict...) was restricted on purpose; `grant` refuses to change
that line rather than silently widen or narrow what the key may do.

Expiry: sshd refuses a key once the current time is past its expiry-time (`valid_before <
now`: at the very second it is still accepted). Times without `Z`/`UTC` are the host's local
time, read with mktime and tm_isdst=0, so in summer time sshd's expiry falls an hour after
the written wall-clock time; this module compares wall-clock times and ignores that hour.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re
import string
import unicodedata
import urllib.parse
from dataclasses import dataclass

from hermes_ops.access.public_keys import KEY_TYPES, LINE_TYPE_ALIASES, KeyRefused, PublicKey, decode_blob
from hermes_ops.errors import ConfigError

EXPIRY_TIME = "expiry-time"
GRANT_TAG = "hermes-access:"

# sshd's options (auth-options.c, sshauthopt_parse): flags, flags that also take `no-`, options with a value.
FLAGS = ("restrict", "cert-authority")
NEGATABLE_FLAGS = ("port-forwarding", "agent-forwarding", "x11-forwarding", "touch-required", "verify-required",
                   "pty", "user-rc")
VALUE_OPTIONS = ("command", "principals", "from", EXPIRY_TIME, "environment", "permitopen", "permitlisten",
                 "tunnel")
_ONCE = ("command", "principals", "from")
_TUNNEL_MAX = 0x7FFFFFFF - 2  # SSH_TUNID_MAX

_C_SPACE = " \t\n\v\f\r"
_BASE64_ALPHABET = frozenset(string.ascii_letters + string.digits + "+/")
_COMMENT_SAFE = frozenset(string.ascii_letters + string.digits + "._@+-:")
_GRANT_FIELDS = {"operator": "operator", "request": "request", "by": "granted_by", "at": "granted_at"}
_FORBIDDEN_CATEGORIES = ("Cc", "Cf", "Zl", "Zp", "Cs")
_FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")
_HINT_BY_HAND = "revoke it first (that removes every line holding it), or edit authorized_keys by hand"

Options = tuple[tuple[str, "str | None"], ...]


@dataclass(frozen=True)
class Entry:
    """One key line sshd would use: its number (from 1), its text, its options and its key."""

    line_number: int
    raw: str
    options: Options
    key: PublicKey

    @property
    def expiry_time(self) -> str | None:
        """The expiry-time option's value as written (e.g. "202612011830"); the earliest if there are several."""
        times = []
        for name, value in self.options:
            read = _absolute_time(value) if name.lower() == EXPIRY_TIME and value is not None else None
            if read is not None:
                times.append((read[0], value))
        return min(times)[1] if times else None

    @property
    def fingerprint(self) -> str:
        return self.key.fingerprint

    @property
    def comment(self) -> str:
        return self.key.comment

    @property
    def option_names(self) -> list[str]:
        return [name for name, _ in self.options]


@dataclass(frozen=True)
class Grant:
    """What `grant` did: change is "added", "renewed" or "unchanged"; entry is the key's line now."""

    change: str
    entry: Entry
    previous: Entry | None = None


@dataclass(frozen=True)
class _KeyLine:
    """A line that holds a key, whether or not sshd would use it (refusal says why not)."""

    number: int
    raw: str
    key: PublicKey
    options: Options | None  # None: options that cannot be read at all
    refusal: str | None

    def entry(self) -> Entry:
        return Entry(self.number, self.raw, self.options or (), self.key)


def split_options(line: str) -> tuple[Options, str]:
    """The options at the start of `line` and the rest of it (leading spaces and tabs skipped).

    OpenSSH's rules: options end at the first space or tab outside double quotes; they are
    separated by commas (empty ones are skipped, as sshd skips them); each is `name` or
    `name="value"`, where `\\"` stands for a quote and any other backslash is itself.

    Raises:
        ConfigError: options sshd could not read either (a quote left open, a value without
            quotes, text after a closing quote). The option text is not shown.
    """
    options: list[tuple[str, str | None]] = []
    index, length = 0, len(line)

    def unreadable(reason: str) -> ConfigError:
        return ConfigError(f"authorized_keys options cannot be read: {reason} (at character {index + 1})",
                           hint="fix the line by hand: options are name or name=\"value\", separated by commas")

    while True:
        start = index
        while index < length and line[index] not in ', \t="':
            index += 1
        name = line[start:index]
        value = None
        if index < length and line[index] == "=":
            index += 1
            if index >= length or line[index] != '"':
                raise unreadable(f"the value of {_shown_name(name)} does not start with a double quote")
            index += 1
            characters = []
            while True:
                if index >= length:
                    raise unreadable(f"the value of {_shown_name(name)} has no closing quote")
                if line.startswith('\\"', index):
                    characters.append('"')
                    index += 2
                elif line[index] == '"':
                    index += 1
                    break
                else:
                    characters.append(line[index])
                    index += 1
            value = "".join(characters)
        elif index < length and line[index] == '"':
            raise unreadable("a double quote inside an option name")
        if name or value is not None:
            if not name:
                raise unreadable("an option with a value but no name")
            options.append((name, value))
        if index < length and line[index] == ",":
            index += 1
            continue
        if index < length and line[index] not in " \t":
            raise unreadable("text after a quoted value")
        return tuple(options), line[index:].lstrip(" \t")


def render_options(options: Options) -> str:
    """The options field for `options` (the inverse of `split_options`); empty for no options.

    Raises:
        ConfigError: a name that is not a word of letters, digits and dashes; a value with a
            line break or NUL, or ending in a backslash (which OpenSSH cannot read back).
    """
    parts = []
    for name, value in options:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", name or ""):
            raise ConfigError(f"option name {_shown_name(name)} is not valid",
                              hint="an option name is letters, digits and dashes")
        if value is None:
            parts.append(name)
            continue
        if any(char in value for char in "\r\n\0") or value.endswith("\\"):
            raise ConfigError(f"the value of option {name} cannot be written in authorized_keys "
                              "(a line break, a NUL, or a backslash at its end)",
                              hint="remove those characters from the value")
        parts.append(f'{name}="{value.replace(chr(34), chr(92) + chr(34))}"')
    return ",".join(parts)


class AuthorizedKeys:
    """An authorized_keys file's text, its entries, and the edits the access runbook makes.

    Made with `from_text`; `text()` is what to write back. Edits change the object in place.
    """

    def __init__(self, lines: list[str]):
        self._lines = list(lines)
        self._parsed: list[_KeyLine] | None = None

    @classmethod
    def from_text(cls, text: str) -> AuthorizedKeys:
        """Parse a file's text (decoded however the caller likes: `surrogateescape` is fine)."""
        if not isinstance(text, str):
            raise TypeError(f"authorized_keys text must be str, not {type(text).__name__}")
        lines = text.split("\n")  # sshd's getline splits at \n only; a \r stays in its line
        if text.endswith("\n"):
            lines.pop()
        return cls(lines if text else [])

    def text(self) -> str:
        """The file's text to write back: every untouched line as it was; a newline at the end unless empty."""
        return "\n".join(self._lines) + "\n" if self._lines else ""

    @property
    def entries(self) -> list[Entry]:
        """The key lines sshd would use, in order (a line with a bad key or options sshd refuses is not one)."""
        return [line.entry() for line in self._key_lines() if line.refusal is None]

    def grant(self, key: PublicKey, *, comment: str, expiry_time: str | None) -> Grant:
        """Let `key` log in until `expiry_time`, or for good if None.

        `expiry_time` is written as sshd reads it: "YYYYMMDDHHMM" in the host's local time (as
        `durations.parse_expiry_time` returns it), or any other form sshd accepts ("...Z" for UTC).

        - no line holds the key: `[expiry-time="..." ]TYPE BASE64 comment` is appended ("added");
        - one line holds it with exactly this expiry and comment: nothing changes ("unchanged"); two
          grant comments (`grant_comment`) count as the same when operator and request are: a
          repeated grant keeps the time and admin of the first, so re-running a grant is a no-op;
        - one line holds it with only an expiry-time option, or none: that line is replaced in
          place ("renewed": how an expiry is extended, shortened or removed).

        Raises:
            ConfigError: the key is held with any other option (command=, from=, restrict...) or
                on two or more lines: revoke it first or edit by hand, it is never widened or
                narrowed silently; a comment with control characters; an expiry sshd would refuse.
        """
        if not isinstance(key, PublicKey):
            raise TypeError(f"key must be a PublicKey, not {type(key).__name__}")
        comment = _checked_comment(comment)
        wanted: Options = ()
        if expiry_time is not None:
            if not isinstance(expiry_time, str) or _absolute_time(expiry_time) is None:
                raise ConfigError(f"expiry time {_shown(expiry_time)} is not one sshd accepts: expected "
                                  "YYYYMMDDHHMM (the host's local time)",
                                  hint="give the expiry as durations.parse_expiry_time returns it")
            wanted = ((EXPIRY_TIME, expiry_time),)
        line = " ".join(part for part in (render_options(wanted), key.line, comment) if part)
        holders = [held for held in self._key_lines() if held.key.blob == key.blob]
        if len(holders) > 1:
            numbers = ", ".join(str(held.number) for held in holders)
            raise ConfigError(f"the key {key.fingerprint} is already on lines {numbers} of authorized_keys: "
                              "refusing to pick one", hint=_HINT_BY_HAND)
        if not holders:
            self._lines.append(line)
            return Grant("added", self._written(len(self._lines), key))
        held = holders[0]
        if held.options is None:
            raise ConfigError(f"the key {key.fingerprint} is already granted on line {held.number} with options "
                              "that cannot be read", hint=_HINT_BY_HAND)
        others = [name for name, _ in held.options if name.lower() != EXPIRY_TIME]
        if others:
            raise ConfigError(f"the key {key.fingerprint} is already granted with options {', '.join(others)} "
                              f"on line {held.number}: refusing to change what it may do", hint=_HINT_BY_HAND)
        present = tuple((name.lower(), value) for name, value in held.options)
        if present == wanted and _same_comment(held.key.comment, comment) and held.refusal is None:
            return Grant("unchanged", held.entry())
        ending = "\r" if held.raw.endswith("\r") else ""
        self._lines[held.number - 1] = line + ending
        return Grant("renewed", self._written(held.number, key), previous=held.entry())

    def revoke(self, fingerprint: str) -> Entry:
        """Remove every line holding the key with this fingerprint (`SHA256:...`); the first one is returned.

        Raises:
            ConfigError: no line holds it; or no key entry would remain (nobody could log in
                any more; expired or not is not known here, so any entry counts).
        """
        if not isinstance(fingerprint, str) or not _FINGERPRINT.fullmatch(fingerprint):
            raise ConfigError(f"{_shown(fingerprint)} is not a key fingerprint: expected SHA256: and 43 base64 "
                              "characters, as the key listing shows them", hint="copy the fingerprint from the listing")
        lines = self._key_lines()
        holding = [line for line in lines if line.key.fingerprint == fingerprint]
        if not holding:
            raise ConfigError(f"no line of authorized_keys holds the key {fingerprint}",
                              hint="list the keys to see their fingerprints: it may be revoked already")
        if not any(line.refusal is None and line.key.fingerprint != fingerprint for line in lines):
            raise ConfigError(f"revoking {fingerprint} would leave no key in authorized_keys: nobody could log "
                              "in as this user any more", hint="grant another key first (an admin's), then revoke "
                                                                "this one")
        removed = {line.number for line in holding}
        self._lines = [text for number, text in enumerate(self._lines, start=1) if number not in removed]
        self._parsed = None
        return holding[0].entry()

    def listing(self, now_local: str, *, now_utc: str | None = None) -> list[dict]:
        """Every entry as a plain dict for a table or a record.

        `now_local` is the host's current local time "YYYYMMDDHHMMSS" (`date +%Y%m%d%H%M%S`);
        `now_utc` the same moment in UTC, needed only for expiry times written with `Z`/`UTC`
        (without it their "expired" is None: not known). Keys per entry: line, fingerprint, type,
        bits, comment, operator and request (from a grant comment, else None), expiry
        ("YYYY-MM-DD HH:MM", ":SS" and " UTC" added when written so; None if none), expired
        (as sshd decides: past the expiry), options (the option names).

        Raises:
            ConfigError: `now_local` or `now_utc` is not "YYYYMMDDHHMMSS".
        """
        local_now = _clock(now_local, "now_local")
        utc_now = _clock(now_utc, "now_utc") if now_utc is not None else None
        listed = []
        for entry in self.entries:
            granted = parse_grant_comment(entry.comment)
            expiry = _absolute_time(entry.expiry_time) if entry.expiry_time else None
            shown, expired = None, False
            if expiry is not None:
                moment, utc = expiry
                shown = (moment.strftime("%Y-%m-%d %H:%M") + (f":{moment.second:02d}" if moment.second else "")
                         + (" UTC" if utc else ""))
                reference = utc_now if utc else local_now
                expired = None if reference is None else reference > moment
            listed.append({
                "line": entry.line_number, "fingerprint": entry.fingerprint, "type": entry.key.key_type,
                "bits": entry.key.bits, "comment": entry.comment, "operator": granted.get("operator"),
                "request": granted.get("request"), "expiry": shown, "expired": expired,
                "options": entry.option_names,
            })
        return listed

    def _written(self, number: int, key: PublicKey) -> Entry:
        """The entry for a line just written; it must read back as an entry of `key` (a self-check)."""
        self._parsed = None
        line = _scan(number, self._lines[number - 1])
        if line is None or line.refusal is not None or line.key.blob != key.blob:
            raise AssertionError(f"line {number} written for {key.fingerprint} does not read back as its entry")
        return line.entry()

    def _key_lines(self) -> list[_KeyLine]:
        if self._parsed is None:
            self._parsed = [line for number, raw in enumerate(self._lines, start=1)
                            for line in [_scan(number, raw)] if line is not None]
        return self._parsed


def grant_comment(*, operator: str, request_id: str | None, granted_by: str, granted_at: str) -> str:
    """The comment `grant` writes after a key: one token that says whose key it is and who granted it when.

    `hermes-access:operator=Grace%20Hopper,request=20261127T172500Z-1a2b3c,by=admin,at=2026-11-27T18:00:00Z`:
    every character outside letters, digits and `._@+-:` is percent-encoded (UTF-8), so the
    comment has no spaces, commas or controls and survives sshd, ssh-keygen and any editor.

    Raises:
        ConfigError: an empty operator, granted_by or granted_at; a value with control characters
            or over 200 characters.
    """
    fields = [("operator", "operator", operator), ("request", "request_id", request_id),
              ("by", "granted_by", granted_by), ("at", "granted_at", granted_at)]
    for _, parameter, value in fields:
        if value is None and parameter == "request_id":
            continue
        if not isinstance(value, str) or not value or len(value) > 200 or any(
                unicodedata.category(char) in _FORBIDDEN_CATEGORIES for char in value):
            raise ConfigError(f"grant comment field {parameter} must be one line of 1 to 200 printable characters",
                              hint=f"fix the {parameter} given to the grant")
    return GRANT_TAG + ",".join(f"{name}={_percent_encode(value)}" for name, _, value in fields if value is not None)


def parse_grant_comment(comment: str) -> dict:
    """{"operator", "request", "granted_by", "granted_at"} from a comment `grant_comment` made, else {}.

    Only the comment's first word is read (anything after it is kept by sshd and ignored here);
    "request" is None when the grant had no request. A comment that is not ours, or is
    damaged, gives {}.
    """
    words = comment.split() if isinstance(comment, str) else []
    if not words or not words[0].startswith(GRANT_TAG):
        return {}
    found: dict[str, str] = {}
    for part in words[0][len(GRANT_TAG):].split(","):
        name, equals, value = part.partition("=")
        if not equals or name not in _GRANT_FIELDS or name in found or not re.fullmatch(
                r"(?:[A-Za-z0-9._@+\-:]|%[0-9A-Fa-f]{2})*", value):
            return {}
        try:
            found[name] = urllib.parse.unquote_to_bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return {}
    if not {"operator", "by", "at"} <= found.keys():
        return {}
    return {field: found.get(name) for name, field in _GRANT_FIELDS.items()}


# --- reading lines as sshd does -----------------------------------------------------------------------

def _scan(number: int, raw: str) -> _KeyLine | None:
    """The key a line holds and whether sshd would use it; None for blank, comment and keyless lines."""
    text = raw.lstrip(" \t")
    if not text or text[0] == "#":
        return None
    read = _read_key(text)
    options: Options | None = ()
    refusal = None
    if read is None:
        end = _options_end(text)
        if end is None:
            return None  # a quote left open: sshd gives up on the line
        read = _read_key(text[end:].lstrip(" \t"))
        if read is None:
            return None
        try:
            options, _ = split_options(text[:end])
        except ConfigError:
            options, refusal = None, "its options cannot be read"
        else:
            refusal = _options_refusal(options)
    return _KeyLine(number, raw, read, options, refusal)


def _read_key(text: str) -> PublicKey | None:
    """The key (with the rest of the line as its comment) if `text` starts with one sshd reads (sshkey_read)."""
    match = re.match(r"([^ \t]*)[ \t]+", text)
    if match is None:
        return None
    expected = match.group(1) if match.group(1) in KEY_TYPES else LINE_TYPE_ALIASES.get(match.group(1))
    rest = text[match.end():]
    token = re.match(r"[^ \t]*", rest).group()
    blob = _base64_like_openssh(token)
    if expected is None or not token or blob is None:
        return None
    try:
        key = decode_blob(blob, comment=rest[len(token):].strip(" \t\r"))
    except KeyRefused:
        return None
    return key if key.key_type == expected else None


def _base64_like_openssh(token: str) -> bytes | None:
    """The bytes of base64 as OpenSSH's b64_pton reads it (whitespace skipped, padding checked), else None."""
    body = []
    tail = None
    for index, char in enumerate(token):
        if char in _C_SPACE:
            continue
        if char == "=":
            tail = "".join(other for other in token[index + 1:] if other not in _C_SPACE)
            break
        if char not in _BASE64_ALPHABET:
            return None
        body.append(char)
    state = len(body) % 4
    if (tail is None and state) or (tail is not None and (state < 2 or tail != ("=" if state == 2 else ""))):
        return None
    text = "".join(body)
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if base64.b64encode(data).decode("ascii").rstrip("=") == text else None  # no stray bits


def _options_end(text: str) -> int | None:
    """Where the options field ends (sshkey_advance_past_options); None if a quote is left open."""
    quoted = False
    index = 0
    while index < len(text) and (quoted or text[index] not in " \t"):
        if text.startswith('\\"', index):
            index += 1
        elif text[index] == '"':
            quoted = not quoted
        index += 1
    return None if quoted else index


def _options_refusal(options: Options) -> str | None:
    """Why sshd refuses these options (sshauthopt_parse), or None if it accepts them."""
    seen = set()
    for name, value in options:
        lower = name.lower()
        if value is None:
            if lower in FLAGS or lower.removeprefix("no-") in NEGATABLE_FLAGS:
                continue
            return "an unknown option"
        if lower not in VALUE_OPTIONS:
            return "an unknown option"
        if lower in _ONCE and lower in seen:
            return f"more than one {lower} option"
        seen.add(lower)
        if lower == EXPIRY_TIME and _absolute_time(value) is None:
            return "an expiry-time sshd cannot read"
        if lower == "environment":
            variable, equals, _ = value.partition("=")
            if not equals or not re.fullmatch(r"[A-Za-z0-9_]+", variable):
                return "an environment option sshd cannot read"
        if lower in ("permitopen", "permitlisten") and not _permit_valid(value, bare_port=lower == "permitlisten"):
            return f"a {lower} option sshd cannot read"
        if lower == "tunnel" and not (value.lower() == "any" or _number(value, 0, _TUNNEL_MAX) is not None):
            return "a tunnel option sshd cannot read"
    return None


def _permit_valid(value: str, *, bare_port: bool) -> bool:
    """permitopen/permitlisten syntax as sshd checks it (handle_permit: hpdelim2, then the port)."""
    if bare_port and ":" not in value:
        value = "*:" + value
    if value.startswith("["):
        close = value.find("]")
        if close < 0:
            return False
        host_end = close + 1
    else:
        found = re.search(r"[:/]", value)
        host_end = found.start() if found else len(value)
    if host_end >= len(value) or value[host_end] not in ":/" or host_end >= 1025:
        return False
    port = value[host_end + 1:]
    # a2port also takes service names from the host's /etc/services: any such word is accepted here.
    return port == "*" or _number(port, 1, 65535) is not None or bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9_+.-]*",
                                                                                    port))


def _number(text: str, low: int, high: int) -> int | None:
    """strtonum: an optionally signed decimal number within [low, high], leading whitespace allowed."""
    if not re.fullmatch(r"[ \t\n\v\f\r]*[+-]?[0-9]+", text):
        return None
    number = int(text.strip(_C_SPACE))
    return number if low <= number <= high else None


def _absolute_time(value: str) -> tuple[datetime.datetime, bool] | None:
    """(the time, whether it is UTC) of an expiry-time value as sshd reads it (parse_absolute_time), else None.

    YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, optionally followed by Z or UTC (any case).
    Fields are checked as strptime checks them (day 1-31 for any month, seconds to 61) and
    the date normalised as mktime does (20260231 is March 3rd).
    """
    utc = False
    if len(value) > 1 and value[-1] in "Zz":
        utc, value = True, value[:-1]
    elif len(value) > 3 and value[-3:].lower() == "utc":
        utc, value = True, value[:-3]
    if len(value) not in (8, 12, 14) or not re.fullmatch(r"[0-9]+", value):
        return None
    parts = [int(value[index:index + 2]) for index in range(4, len(value), 2)]
    year, (month, day), (hour, minute, second) = int(value[:4]), parts[:2], (parts[2:] + [0, 0, 0])[:3]
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59 and second <= 61):
        return None
    if year < 1970 or (year, month, day, hour, minute, second) == (1970, 1, 1, 0, 0, 0):
        return None  # before (or at) the epoch: mktime's result is not a valid expiry
    try:
        moment = datetime.datetime(year, month, 1) + datetime.timedelta(
            days=day - 1, hours=hour, minutes=minute, seconds=second)
    except OverflowError:
        moment = datetime.datetime.max
    return moment, utc


def _clock(text: str, name: str) -> datetime.datetime:
    if not isinstance(text, str) or not re.fullmatch(r"[0-9]{14}", text):
        raise ConfigError(f"{name} {_shown(text)} is not a time as YYYYMMDDHHMMSS",
                          hint="read it on the host with: date +%Y%m%d%H%M%S")
    try:
        return datetime.datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError:
        raise ConfigError(f"{name} {_shown(text)} is not a time on the calendar",
                          hint="read it on the host with: date +%Y%m%d%H%M%S") from None


def _checked_comment(comment: str) -> str:
    if not isinstance(comment, str) or len(comment) > 4096 or any(
            unicodedata.category(char) in _FORBIDDEN_CATEGORIES for char in comment):
        raise ConfigError("the comment for the key line must be printable text without line breaks or control "
                          "characters (4096 characters at most)", hint="make it with grant_comment")
    return comment.strip()


def _same_comment(present: str, wanted: str) -> bool:
    """The same comment, or grant comments of the same operator and request (when and by whom aside)."""
    if present == wanted:
        return True
    before, after = parse_grant_comment(present), parse_grant_comment(wanted)
    return bool(before) and bool(after) and present.split()[1:] == wanted.split()[1:] and all(
        before[field] == after[field] for field in ("operator", "request"))


def _percent_encode(value: str) -> str:
    return "".join(char if char in _COMMENT_SAFE else "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))
                   for char in value)


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    return repr(text if len(text) <= 60 else text[:60] + "...")


def _shown_name(name: str) -> str:
    return repr(name) if re.fullmatch(r"[A-Za-z0-9-]{1,40}", name or "") else "an option"
