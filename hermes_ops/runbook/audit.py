"""The host audit log line (`~/.hermes/deploys.log`): one pure format/parse pair, no I/O.

A line is `<time> key=value key=value ...`. Each value is neutralised (`terminal_text`:
no escape sequence reaches whoever runs `tail` on the host) and quoted with
`shlex.quote`, so whatever an operator name or a reason holds (spaces, `=`, quotes,
newlines) it stays one value: `operator='alice outcome=success run=FAKE'` cannot fake
fields inside a real line. Reading back is `shlex` too.

Lines written before this format, `[time] [operator] kind run=... reason='...'`, are
still read, as well as they can be: their operator was not quoted, so a line's fields
are only as trustworthy as the operators who wrote it.
"""

from __future__ import annotations

import re
import shlex

from hermes_ops.errors import ConfigError
from hermes_ops.terminal_text import neutralise

KEY = re.compile(r"[a-z][a-z0-9_-]{0,31}")
TIME = re.compile(r"[0-9A-Za-z:.+-]{1,40}")
# A value longer than this is cut (marked with "..."), so one line stays one readable line.
MAX_VALUE_CHARS = 1024

_OLD_LINE = re.compile(r"\[(?P<time>[^\]\s]*)\] \[(?P<operator>.*?)\](?: (?P<rest>.*))?")
_PARENTHESISED = re.compile(r"(?:^|\s)(?P<key>[a-z][a-z0-9_-]*)=\((?P<value>[^()]*)\)")


def format_audit_line(time: str, fields: dict[str, str]) -> str:
    """`<time> key=value ...` with every value neutralised and shell-quoted; never contains a newline.

    Args:
        time: the UTC time, ISO 8601 (e.g. `2026-11-27T04:40:09Z`).
        fields: names (lower case, e.g. `run`, `operator`, `outcome`) to values, in the order
            they are to appear. None becomes ''; other non-strings are shown with str().

    Raises:
        ConfigError: `time` is not a time, or a field name is not a plain lower-case word
            (or is `time`, which the line's first word already is).
    """
    if not isinstance(time, str) or not TIME.fullmatch(time):
        raise ConfigError("audit line time must be an ISO 8601 time such as 2026-11-27T04:40:09Z",
                          step="host log", hint="pass utc_now().strftime('%Y-%m-%dT%H:%M:%SZ')")
    words = [time]
    for key, value in fields.items():
        if not isinstance(key, str) or not KEY.fullmatch(key) or key == "time":
            raise ConfigError(f"audit line field name {str(key)[:40]!r} is not allowed", step="host log",
                              hint="use a lower-case word of letters, digits, '_' and '-' (not 'time')")
        words.append(f"{key}={shlex.quote(_clean(value))}")
    return " ".join(words)


def _clean(value) -> str:
    text = "" if value is None else value if isinstance(value, str) else str(value)
    if len(text) > MAX_VALUE_CHARS:
        text = text[:MAX_VALUE_CHARS] + "..."
    return neutralise(text).replace("\n", "\\n")


def parse_audit_line(line: str) -> dict:
    """A host log line's fields as a dict of strings, the time under "time".

    Reads this module's format and the old one (`[time] [operator] kind key=value ...`,
    whose operator and kind come back under "operator" and "kind"). A damaged line
    (cut short, an unbalanced quote) gives the fields before the damage; a key given
    twice keeps its first value; words that are not `key=value` are ignored. A line that
    is neither format gives {}.
    """
    line = line.rstrip("\n")
    if line.startswith("["):
        return _parse_old(line)
    time, _, rest = line.partition(" ")
    if not TIME.fullmatch(time):
        return {}
    fields = {"time": time}
    _add_words(fields, _split(rest))
    return fields


def _parse_old(line: str) -> dict:
    match = _OLD_LINE.fullmatch(line)
    if not match:
        return {}
    fields = {"time": match["time"], "operator": match["operator"]}
    rest = match["rest"] or ""
    first, _, remainder = rest.partition(" ")
    if first and "=" not in first:
        fields["kind"], rest = first, remainder
    # `holder=(run=... operator=...)` (lock-broken lines): spaces and '=' inside the parentheses
    for found in _PARENTHESISED.finditer(rest):
        fields.setdefault(found["key"], found["value"])
    _add_words(fields, _split(_PARENTHESISED.sub(" ", rest)))
    return fields


def _split(text: str) -> list[str]:
    """shlex words of `text`; at an unbalanced quote, the words before it."""
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    words = []
    try:
        for word in lexer:
            words.append(word)
    except ValueError:
        pass
    return words


def _add_words(fields: dict, words: list[str]) -> None:
    for word in words:
        key, separator, value = word.partition("=")
        if separator and KEY.fullmatch(key):
            fields.setdefault(key, value)
