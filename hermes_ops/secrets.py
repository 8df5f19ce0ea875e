"""Secret values that cannot leak by accident, and a redactor that masks them in text.

A `Secret` prints as `****` however it is shown (`str`, `repr`, f-strings, logging,
notebook output); the real value comes out only through `.reveal()`, so every place
that handles the plain text is greppable. A `Redactor` holds the values registered
for a run and replaces them with `****` in any text before it is streamed, stored
in a `Result`, logged or put into an error message.

Some secrets outlive any one redactor: the SSH key's passphrase, once loaded, must be
masked whatever field or output it turns up in. `register_secret` adds a value to one
process-wide registry; every `Redactor` masks the registered values too (including ones
registered after it was made), and `mask` / `mask_data` apply the registry alone, for
error messages and records.
"""

from __future__ import annotations

import hmac
import re
import threading
from typing import Iterable

MASK = "****"

# Lines of a multi-line secret (a PEM key, a kubeconfig) shorter than this are not
# redacted on their own: they are things like "-----END KEY-----" or blank lines.
_MIN_LINE_FRAGMENT = 8


class Secret:
    """A string that is masked everywhere except through `.reveal()`.

    Args:
        value: the secret text.
        name: an optional label that is safe to show (e.g. "registry token").
    """

    __slots__ = ("_value", "name")

    def __init__(self, value: str, name: str | None = None):
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"Secret value must be str, not {type(value).__name__}")
        self._value = value
        self.name = name

    def reveal(self) -> str:
        """The plain value. Call it only where the value is handed to the thing that needs it."""
        return self._value

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Secret({self.name!r}, {MASK!r})" if self.name else f"Secret({MASK!r})"

    def __format__(self, spec: str) -> str:
        return format(MASK, spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self):
        # Pickling would write the plain value to wherever the pickle goes; refuse.
        raise TypeError("a Secret cannot be pickled")

    def __copy__(self) -> Secret:
        return self  # immutable, and copying must not go through __reduce__

    def __deepcopy__(self, memo: dict) -> Secret:
        return self


class Redactor:
    """Replaces registered secret values with `****` in text.

    Secrets are matched longest first, so a secret containing another is masked whole.
    Each line of a multi-line secret is also registered, because output is redacted
    line by line while it streams. Values given to `register_secret` are masked as well,
    unless `include_registered=False`.
    """

    def __init__(self, secrets: Iterable[Secret | str] = (), *, include_registered: bool = True):
        self._values: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None
        self._include_registered = include_registered
        self._registry_version = -1
        for secret in secrets:
            self.add(secret)

    def add(self, secret: Secret | str) -> None:
        """Register a secret (a `Secret` or a plain string); empty values are ignored."""
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if not value:
            return
        fragments = {value}
        if "\n" in value:
            fragments.update(line.strip() for line in value.splitlines()
                             if len(line.strip()) >= _MIN_LINE_FRAGMENT)
        self._merge(fragments)

    def _merge(self, fragments) -> None:
        # Rebinding (never mutating) the set keeps concurrent readers (the two stream threads) safe.
        if not set(fragments) <= self._values:
            values = self._values | frozenset(fragments)
            ordered = sorted(values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(value) for value in ordered))
            self._values = values

    def _sync(self) -> None:
        """Take in values registered process-wide since the last call."""
        if self._include_registered and self._registry_version != _registry.version:
            self._registry_version = _registry.version
            self._merge(_registry.values)

    def extend(self, secrets: Iterable[Secret | str]) -> None:
        for secret in secrets:
            self.add(secret)

    def __bool__(self) -> bool:
        self._sync()
        return bool(self._values)

    def __repr__(self) -> str:
        return f"Redactor({len(self._values)} values)"

    def redact(self, text: str) -> str:
        """`text` with every registered value replaced by `****`."""
        self._sync()
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def redact_cut(self, text: str, *, cut_at_start: bool = False, cut_at_end: bool = False) -> str:
        """Redact a fragment cut out of a longer text (the kept head or tail of big output).

        A secret that straddles a cut would survive as a partial value, so besides the
        usual redaction, a leading suffix / trailing prefix of any secret at a cut edge
        is masked as well.
        """
        text = self.redact(text)
        values = self._values
        if not values:
            return text
        if cut_at_end:
            longest = max((length for value in values
                           for length in range(min(len(value) - 1, len(text)), 0, -1)
                           if text.endswith(value[:length])), default=0)
            if longest:
                text = text[:-longest] + MASK
        if cut_at_start:
            longest = max((length for value in values
                           for length in range(min(len(value) - 1, len(text)), 0, -1)
                           if text.startswith(value[-length:])), default=0)
            if longest:
                text = MASK + text[longest:]
        return text


class _Registry:
    """The process-wide secrets: a set that only grows, and a version that says when it did."""

    def __init__(self):
        self._lock = threading.Lock()
        self.values: frozenset[str] = frozenset()
        self.version = 0
        self.redactor = Redactor(include_registered=False)

    def add(self, secret: Secret | str) -> None:
        with self._lock:
            self.redactor.add(secret)
            if self.redactor._values != self.values:
                self.values = self.redactor._values
                self.version += 1


_registry = _Registry()


def register_secret(secret: Secret | str) -> None:
    """Mask `secret` process-wide from now on: in every `Redactor`, in `mask`, in error messages.

    For values that must never be shown whatever field they turn up in, such as the SSH
    key's passphrase once it is loaded. Empty values are ignored; nothing is ever removed.
    """
    _registry.add(secret)


def mask(text: str) -> str:
    """`text` with every value given to `register_secret` replaced by `****`."""
    return _registry.redactor.redact(text) if isinstance(text, str) else text


def mask_data(value):
    """A copy of JSON-like data with registered secrets masked in every string (keys too; tuples become lists).

    Prefer it to `mask(json.dumps(data))`: JSON escapes quotes, backslashes, control and
    non-ASCII characters, so a secret holding any of them would not match in JSON text.
    """
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {mask_data(key): mask_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_data(item) for item in value]
    return value
