"""neutralise: untrusted text shown with every terminal control as a visible escape."""

from __future__ import annotations

import pytest

from hermes_ops.terminal_text import neutralise

CASES = [
    ("plain text, tabs\tand\nnewlines", "plain text, tabs\tand\nnewlines"),
    ("\x1b[31mred\x1b[0m \x1b[1;4mbold\x1b[m", "red bold"),                      # SGR: dropped
    ("\x1b[8mhidden\x1b[28m", "hidden"),                                           # concealed text is revealed
    ("\x1b[2J\x1b[1;1Hclear", "\\x1b[2J\\x1b[1;1Hclear"),                          # other CSI: visible, inert
    ("\x1b[1A\x1b[2Kfake ok", "\\x1b[1A\\x1b[2Kfake ok"),                          # cursor up + erase line
    ("\x1b]0;pwned\x07title", "\\x1b]0;pwned\\x07title"),                         # OSC, BEL-terminated
    ("\x1b]52;c;ZWNobyBoaQ==\x1b\\clip", "\\x1b]52;c;ZWNobyBoaQ==\\x1b\\clip"),    # OSC 52, ST-terminated
    ("\x1bPq#0;2;0;0;0\x1b\\", "\\x1bPq#0;2;0;0;0\\x1b\\"),                         # DCS
    ("\x1bc reset", "\\x1bc reset"),                                                # other ESC sequence
    ("\x9b31mC1 CSI", "\\x9b31mC1 CSI"),
    ("\x9d0;t\x9c", "\\x9d0;t\\x9c"),                                               # C1 OSC and ST
    ("nul\x00bell\x07bs\x08del\x7f", "nul\\x00bell\\x07bs\\x08del\\x7f"),
    ("line\r\n", "line\n"),                                                         # CRLF is a line end
    ("ok\rFAILED", "ok\\x0dFAILED"),                                                  # a lone CR would overwrite
    ("vt\x0bff\x0c", "vt\\x0bff\\x0c"),
    ("abc\u202edcba", "abc\\u202edcba"),                                            # RLO
    ("\u202a\u202b\u202c\u202d", "\\u202a\\u202b\\u202c\\u202d"),
    ("\u2066\u2067\u2068\u2069", "\\u2066\\u2067\\u2068\\u2069"),
    ("\u200e\u200f\u061c", "\\u200e\\u200f\\u061c"),
    ("a\u2028b\u2029c", "a\\u2028b\\u2029c"),
    ("naïve café ✔ 日本 😀", "naïve café ✔ 日本 😀"),  # ordinary Unicode untouched
    ("", ""),
]


@pytest.mark.parametrize(("raw", "shown"), CASES)
def test_controls_are_shown_as_escapes(raw, shown):
    assert neutralise(raw) == shown


@pytest.mark.parametrize(("raw", "shown"), CASES)
def test_neutralise_is_idempotent(raw, shown):
    assert neutralise(neutralise(raw)) == neutralise(raw)


def test_nothing_dangerous_survives_any_code_point():
    everything = "".join(chr(code) for code in range(0x3000))
    shown = neutralise(everything)
    dangerous = set(range(0x00, 0x20)) - {0x09, 0x0A} | set(range(0x7F, 0xA0)) | set(range(0x202A, 0x202F)) \
        | set(range(0x2066, 0x206A)) | {0x2028, 0x2029}
    assert not any(ord(char) in dangerous for char in shown)


def test_large_text_is_fast():
    import time

    text = ("\x1b[31mbuild\x1b[0m step \x1b]0;x\x07 \u202e\r\n" * 20_000)
    started = time.monotonic()
    neutralise(text)
    assert time.monotonic() - started < 1.0
