"""Untrusted text made safe for a terminal and a record: nothing in it is interpreted, nothing is hidden.

Commit messages, build output and remote stderr are written by whoever can push to origin
or run something on the host. Shown raw, an escape sequence can recolour or erase the
lines above it (hiding a failure), move the cursor, set the window title or write the
clipboard (OSC 52); a bidi override makes text read differently from what it is.

`neutralise` shows every such character as a visible Python-style escape, so the
operator sees that it was there and the terminal never acts on it:

- C0 controls except newline and tab, DEL, C1 controls (U+0080-U+009F): `\\x1b`, `\\x7f`, `\\x9b`;
- bidi overrides, embeddings, isolates and marks (U+202A-U+202E, U+2066-U+2069, U+200E,
  U+200F, U+061C) and the Unicode line/paragraph separators (U+2028, U+2029): `\\u202e`;
- escape sequences (CSI, OSC whether BEL- or ST-terminated, any other ESC sequence) are
  inert once their ESC (or C1 introducer) is escaped, and stay readable as
  `\\x1b]0;title\\x07`; only colour/style sequences (SGR, `ESC [ ... m`) are dropped
  outright, because build tools print them everywhere and dropping them can only reveal
  text (e.g. text made invisible with SGR 8), never hide it;
- a CRLF line ending becomes a plain newline; a lone carriage return (which would
  overwrite the line) is shown as `\\x0d`.

Backslashes in the input are left alone, so a literal `\\x1b` in the text and an escaped
ESC look the same; the record keeps the sha256 and byte count of the raw bytes, which
settle any doubt. The result is idempotent: neutralising twice changes nothing more.
"""

from __future__ import annotations

import re

__all__ = ["neutralise"]

# Colour and style only: digits, ';' and ':' parameters, final 'm'.
_SGR = re.compile(r"\x1b\[[0-9;:]*m")
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def neutralise(text: str) -> str:
    """`text` with every terminal control shown as a visible escape (see the module docstring)."""
    if not text:
        return text
    text = _SGR.sub("", text)
    text = text.replace("\r\n", "\n")
    return _UNSAFE.sub(_escape, text)
