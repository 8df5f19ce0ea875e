"""Reading deploy parameters from a YAML file and `-p NAME VALUE` options, with bounded work.

A parameters file is a flat mapping of name: value, so the loader accepts only that and
refuses, before building anything, what a hostile or careless file could use to stall
or mislead a deploy:

- anchors and aliases (`&a` / `*a`): a parameters file needs none, and an 800-byte
  "billion laughs" file built from them would expand to gigabytes (in a `-p` value
  they make the value plain text, which is never expanded);
- files over `MAX_FILE_BYTES`, and `-p` values over `MAX_VALUE_CHARS`;
- a key given twice (YAML would keep the last silently; which one did the author mean?);
- values that are lists or mappings (no parameter takes one).

Every refusal is a `ConfigError` naming the file or option, the parameter and the line,
and never echoing a value: values may be long, and may be secrets typed in the wrong place.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from yaml.events import AliasEvent, CollectionStartEvent, MappingStartEvent
from yaml.nodes import ScalarNode

from hermes_ops.errors import ConfigError
from hermes_ops.params import check_names

MAX_FILE_BYTES = 64 * 1024
MAX_VALUE_CHARS = 4 * 1024
NAME_CHARS = 40  # how much of an unexpected key is shown
DESCRIBE_CHARS = 200  # how much of a YAML error is shown (it can quote a tag from the file)


class Refused(yaml.YAMLError):
    """What the loader refuses; its message names the key and line, never a value."""


def _shown_key(node) -> str:
    if isinstance(node, ScalarNode):
        text = node.value
        return repr(text) if len(text) <= NAME_CHARS else repr(text[:NAME_CHARS]) + "..."
    return "(a key that is not a name)"


def _shown_name(name) -> str:
    if isinstance(name, str) and name.isidentifier() and len(name) <= NAME_CHARS:
        return name
    return repr(str(name)[:NAME_CHARS]) + ("..." if len(str(name)) > NAME_CHARS else "")


def _line(node_or_event) -> int:
    return node_or_event.start_mark.line + 1


class ParametersLoader(yaml.SafeLoader):
    """A SafeLoader for a flat mapping of scalars: no anchors, no aliases, no duplicate keys."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None) is not None:
            self.refuse_anchor(event)
        if isinstance(event, CollectionStartEvent):
            kind = "mapping" if isinstance(event, MappingStartEvent) else "list"
            self.refuse_collection(kind, parent, index, _line(event))
        return super().compose_node(parent, index)

    def refuse_anchor(self, event) -> None:
        raise Refused(f"line {_line(event)} uses a YAML anchor or alias ('&' / '*'); a parameters file needs none")

    def refuse_collection(self, kind: str, parent, index, line: int) -> None:
        if parent is None:
            if kind != "mapping":
                raise Refused(f"line {line}: the file is not a mapping of name: value")
        elif index is not None:
            raise Refused(f"parameter {_shown_key(index)} (line {line}) is a {kind}; "
                          "every parameter is a single value (text, number, true or false)")
        else:
            raise Refused(f"line {line}: a {kind} is not a parameter name")

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise Refused(f"key {_shown_key(key_node)} (line {_line(key_node)}) is not a parameter name")
            if key in seen:
                raise Refused(f"parameter {_shown_key(key_node)} is given twice (lines {seen[key]} and "
                              f"{_line(key_node)})")
            seen[key] = _line(key_node)
        return super().construct_mapping(node, deep=deep)


class NotYAML(yaml.YAMLError):
    """A `-p` value that is text, not YAML."""


class ValueLoader(ParametersLoader):
    """The loader for one `-p` VALUE: a single scalar.

    Anchors and aliases make the value plain text (`-p reason '*urgent* fix'`), never
    composed, so an alias bomb is just a string that validation then measures.
    """

    def refuse_anchor(self, event) -> None:
        raise NotYAML("anchor or alias")

    def refuse_collection(self, kind: str, parent, index, line: int) -> None:
        raise Refused(f"the value is a {kind}; every parameter is a single value (text, number, true or false)")


def _describe(error: BaseException) -> str:
    """A YAML error without the snippet of the offending line (it may hold a value)."""
    if isinstance(error, Refused):
        return str(error)[:DESCRIBE_CHARS]
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        said = ", ".join(part for part in (error.context, error.problem) if part) or "not valid YAML"
        return f"{said[:DESCRIBE_CHARS]}{where}"
    if isinstance(error, ValueError):  # e.g. an integer of more digits than Python converts
        return f"a value cannot be read ({type(error).__name__})"
    return "not valid YAML"


def _read_file(params_file: Path) -> dict:
    hint = "give a YAML file of name: value pairs, one per line (hermes-ops deploy --help lists the names)"
    try:
        with open(params_file, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ConfigError(f"cannot read parameters file {params_file}: {error.strerror or error}",
                          step="parameters", hint=hint) from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"parameters file {params_file} is larger than {MAX_FILE_BYTES // 1024} KiB: refused "
                          "unread", step="parameters", hint=hint)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"parameters file {params_file} is not UTF-8 text (byte {error.start})",
                          step="parameters", hint=hint) from None
    try:
        loaded = yaml.load(text, Loader=ParametersLoader)
    except (yaml.YAMLError, ValueError, RecursionError) as error:
        raise ConfigError(f"parameters file {params_file}: {_describe(error)}", step="parameters",
                          hint=hint) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"parameters file {params_file} is not a mapping of name: value", step="parameters",
                          hint=hint)
    return loaded


def read_override(name: str, raw: str):
    """One `-p NAME VALUE`: VALUE read as a YAML scalar (22 -> int, true -> bool).

    Text that is not YAML (including anything with an anchor or alias), or that YAML
    reads as nothing (`-p reason ''`), is taken as it is. A VALUE over `MAX_VALUE_CHARS`,
    or that YAML reads as a list or a mapping, is refused.
    """
    shown = _shown_name(name)
    hint = (f"give one value: -p {shown} VALUE; to pass text that YAML would read otherwise, quote it "
            f"for YAML: -p {shown} \"'...'\"")
    if not isinstance(raw, str):
        raise ConfigError(f"-p {shown}: the value must be text", step="parameters", hint=hint)
    if len(raw) > MAX_VALUE_CHARS:
        raise ConfigError(f"-p {shown}: the value is {len(raw)} characters long, more than {MAX_VALUE_CHARS}: "
                          "refused", step="parameters", hint=hint)
    try:
        value = yaml.load(raw, Loader=ValueLoader)
    except Refused as error:
        raise ConfigError(f"-p {shown}: {_describe(error)}", step="parameters", hint=hint) from None
    except (yaml.YAMLError, ValueError, RecursionError):
        return raw
    return raw if value is None else value


def load_parameters(params_file: Path | None, overrides=()) -> dict:
    """The params file's values, then `-p NAME VALUE` overrides, with only known names.

    Raises:
        ConfigError (step "parameters"): the file cannot be read, is too large, is not a
            flat mapping of name: value, uses anchors or aliases, repeats a key; an
            override is too long or not a single value; a name is unknown.
    """
    values: dict = _read_file(Path(params_file)) if params_file else {}
    for name, raw in overrides:
        values[name] = read_override(name, raw)
    check_names(values)
    return values
