"""One parameter's text read as the type its declaration names, strictly and the same way from every source.

`-p NAME VALUE`, `-y YAML` and a parameters file all end here, so `branch: no`, `-p branch no`
and `-p reason "TICKET-123: what this ships"` mean the text the operator typed when the
parameter is declared `str` (YAML would have read `False` and a mapping). A number or a
boolean is read only in the one spelling nobody can misread; anything else is refused with
the rule named, before anything runs:

- `int`: decimal digits with an optional sign, no leading zeros (`0123` could be 123 or the
  octal 83, as YAML 1.1 reads it);
- `float`: a decimal number such as `90`, `1.5` or `1e3`, no leading zeros, no `nan`/`inf`;
- `bool`: `true` or `false` (also `True`/`False`, as papermill and Python spell them);
  `yes`, `no`, `on`, `off`, `1`, `0` are refused rather than guessed;
- `X | None`: also `none`, `null` or an empty value for None.

The declared types come from `DeployParameters`' annotations (and another runbook's parameters class):
one source of truth.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import types
import typing

from hermes_ops.errors import ConfigError
from hermes_ops.params import DeployParameters
from hermes_ops.secrets import mask

INTEGER = re.compile(r"[+-]?(?:0|[1-9][0-9]*)")
DECIMAL = re.compile(r"[+-]?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
BOOLEANS = {"true": True, "True": True, "false": False, "False": False}
NONE_WORDS = frozenset({"", "none", "None", "null"})
SHOWN_CHARS = 40
MAX_DIGITS = 40  # no parameter needs more; Python refuses to read ints of over 4300 digits anyway

RULES = {
    int: "a whole number in decimal digits without leading zeros, e.g. 2222",
    float: "a number such as 90 or 1.5 (decimal digits, no leading zeros)",
    bool: "true or false (yes/no/on/off/1/0 are refused: write true or false)",
}


@dataclasses.dataclass(frozen=True)
class Declared:
    """What a parameter's annotation says: its base type and whether None is allowed."""

    base: type
    optional: bool = False

    @property
    def rule(self) -> str:
        rule = RULES.get(self.base, "text")
        return f"{rule}, or none" if self.optional else rule


@functools.cache
def declared_types(parameters: type | None = None) -> dict[str, Declared]:
    """Each parameter's declared type, read from `DeployParameters`' annotations and, for another runbook's
    parameters class (`parameters`, e.g. the access runbooks'), from its own: a parameters file written for
    deploys also serves the other runbooks, which ignore the names they do not use."""
    declared = {}
    for source in (DeployParameters, parameters or DeployParameters):
        hints = typing.get_type_hints(source)
        declared.update({field.name: _declared(hints[field.name]) for field in dataclasses.fields(source)})
    return declared


def known_names(parameters: type | None = None) -> tuple[str, ...]:
    """The parameter names a runbook with `parameters` (default: the deploy's) accepts."""
    return tuple(declared_types(parameters))


def _declared(hint) -> Declared:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        members = [member for member in typing.get_args(hint) if member is not type(None)]
        if len(members) != 1:
            raise TypeError(f"parameter type {hint} is not X or X | None")
        return Declared(_declared(members[0]).base, optional=True)
    if hint not in (str, int, float, bool):
        raise TypeError(f"parameter type {hint} is not str, int, float or bool")
    return Declared(hint)


def convert(name: str, text: str, *, source: str, parameters: type | None = None):
    """`text` as the type parameter `name` is declared with.

    `source` says where the text came from (`-p port`, `parameters file x.yaml, line 3`) for
    the error. Names must already be known (`params.check_names`).

    Raises:
        ConfigError (step "parameters"): the text is not a value of the declared type; the
            message names the rule and shows at most a short prefix of the text.
    """
    declared = declared_types(parameters)[name]
    if declared.optional and text.strip() in NONE_WORDS:
        return None
    if declared.base is str:
        return text
    word = text.strip()
    if declared.base is bool and word in BOOLEANS:
        return BOOLEANS[word]
    if declared.base is int and INTEGER.fullmatch(word) and len(word) <= MAX_DIGITS:
        return int(word)
    if declared.base is float and DECIMAL.fullmatch(word) and len(word) <= MAX_DIGITS:
        return float(word)
    raise ConfigError(f"{source}: {_shown(text)} is not a valid {name}: expected {declared.rule}",
                      step="parameters", hint=f"fix {name} ({source}); nothing was run")


def _shown(text: str) -> str:
    """A short, masked prefix: a value in the wrong place may be long, or a secret."""
    if len(text) <= SHOWN_CHARS:
        return repr(mask(text))
    return f"{mask(text[:SHOWN_CHARS])!r}... ({len(text)} characters)"
