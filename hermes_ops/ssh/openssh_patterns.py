"""Host patterns exactly as OpenSSH matches them (its match.c), on bytes.

known_hosts is read by OpenSSH, by `ssh-keygen -F` and by the people who audit it; a
pattern must mean here what it means there, byte for byte:

- `*` is any run of bytes, `?` any one byte; nothing else is special (`[` is literal);
- a comma-separated list matches if one sub-pattern matches and no `!`-negated one does;
  a negated match wins wherever it comes in the list;
- the host name and the patterns are lower-cased in ASCII only (`ſ` is not `s`, `İ` is
  not `i`): OpenSSH's `tolower` on single bytes;
- a sub-pattern of 1,023 bytes or more makes the whole list match nothing.
"""

from __future__ import annotations

# OpenSSH copies each sub-pattern into a 1,024-byte buffer; one that does not fit ends the list.
SUBPATTERN_LIMIT = 1023

POSITIVE, NO_MATCH, NEGATED = 1, 0, -1


def lowercase_ascii(text: bytes) -> bytes:
    """`text` with A-Z lowered and every other byte kept (bytes.lower is ASCII-only)."""
    return text.lower()


def match_pattern(text: bytes, pattern: bytes) -> bool:
    """Does `text` match the single pattern (`*` and `?` wildcards, no list, no negation)?"""
    # Iterative glob with one backtrack point: the same answers as match.c's recursion.
    position = star = -1
    index = cursor = 0
    while index < len(text):
        if cursor < len(pattern) and pattern[cursor] == ord("*"):
            star, position = cursor, index
            cursor += 1
        elif cursor < len(pattern) and pattern[cursor] in (ord("?"), text[index]):
            index += 1
            cursor += 1
        elif star >= 0:
            position += 1
            index, cursor = position, star + 1
        else:
            return False
    return all(byte == ord("*") for byte in pattern[cursor:])


def match_pattern_list(text: bytes, patterns: bytes, *, lowercase: bool = True) -> int:
    """OpenSSH's `match_pattern_list`: NEGATED (-1), POSITIVE (1) or NO_MATCH (0).

    Sub-patterns are taken in order; the first negated one that matches answers NEGATED at
    once, and an over-long one answers NO_MATCH at once (even after a positive match).
    """
    got_positive = False
    index = 0
    while index < len(patterns):
        negated = patterns[index] == ord("!")
        if negated:
            index += 1
        end = patterns.find(b",", index)
        end = len(patterns) if end < 0 else end
        sub = patterns[index:end]
        if len(sub) >= SUBPATTERN_LIMIT:
            return NO_MATCH
        index = end + 1 if end < len(patterns) else end
        if lowercase:
            sub = lowercase_ascii(sub)
        if match_pattern(text, sub):
            if negated:
                return NEGATED
            got_positive = True
    return POSITIVE if got_positive else NO_MATCH


def match_hostname(host: bytes, patterns: bytes) -> int:
    """OpenSSH's `match_hostname`: the host lower-cased (ASCII), then `match_pattern_list`."""
    return match_pattern_list(lowercase_ascii(host), patterns, lowercase=True)
