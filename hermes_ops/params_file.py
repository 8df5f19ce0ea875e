"""Reading deploy parameters as papermill's command line does: a YAML file (`-f`), YAML text (`-y`),
`-p NAME VALUE` and `-r NAME RAW`, later ones winning in that order, with bounded work.

Every value is read as the type its parameter declares (`param_types`), from the text as
written: YAML only finds the names and the text of each value, it never decides a type, so
`-p reason "TICKET-123: what this ships"` and `branch: no` keep their text. `-r` keeps the
text whatever the type says.

A parameters file (or `-y` text) is a flat mapping of name: value, so the reader accepts only
that and refuses, before building anything, what a hostile or careless file could use to
stall or mislead a deploy:

- anchors and aliases (`&a` / `*a`): a parameters file needs none, and an 800-byte
  "billion laughs" file built from them would expand to gigabytes;
- files over `MAX_FILE_BYTES`, and `-p` values over `MAX_VALUE_CHARS`;
- a key given twice (YAML would keep the last silently; which one did the author mean?);
- values that are lists or mappings (no parameter takes one).

Every refusal is a `ConfigError` naming the file or option, the parameter and the line;
a value is shown at most as a short, masked prefix.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from yaml.events import AliasEvent, CollectionStartEvent, MappingStartEvent
from yaml.nodes import MappingNode, ScalarNode

from hermes_ops.errors import ConfigError
from hermes_ops.param_types import convert, known_names
from hermes_ops.params import check_names

MAX_FILE_BYTES = 64 * 1024
MAX_VALUE_CHARS = 4 * 1024
NAME_CHARS = 40  # how much of an unexpected key is shown
DESCRIBE_CHARS = 200  # how much of a YAML error is shown (it can quote a tag from the file)
STR_TAG = "tag:yaml.org,2002:str"
NULL_TAG = "tag:yaml.org,2002:null"
# The tags YAML gives plain scalars by itself; any other tag was written into the file (`!!python/...`).
IMPLICIT_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null",
                                                                     "timestamp", "merge", "value"))


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
    """A SafeLoader that composes a flat mapping of scalars: no anchors, no aliases, no collections."""

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


def _describe(error: BaseException) -> str:
    """A YAML error without the snippet of the offending line (it may hold a value)."""
    if isinstance(error, Refused):
        return str(error)[:DESCRIBE_CHARS]
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        said = ", ".join(part for part in (error.context, error.problem) if part) or "not valid YAML"
        return f"{said[:DESCRIBE_CHARS]}{where}"
    return "not valid YAML"


def _compose(text: str) -> list[tuple[str, ScalarNode, int]]:
    """The (name, value node, line) pairs of a flat YAML mapping, composed but never constructed.

    Values stay YAML nodes, so each is read by its parameter's declared type from the text
    as written (`branch: no` is the branch "no"), not by YAML's guess.
    """
    loader = ParametersLoader(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    if node is None:
        return []
    if not isinstance(node, MappingNode):
        raise Refused(f"line {_line(node)}: the text is not a mapping of name: value")
    pairs, seen = [], {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode) or key_node.tag != STR_TAG:
            raise Refused(f"key {_shown_key(key_node)} (line {_line(key_node)}) is not a parameter name")
        name = key_node.value
        if name in seen:
            raise Refused(f"parameter {_shown_key(key_node)} is given twice (lines {seen[name]} and "
                          f"{_line(key_node)})")
        seen[name] = _line(key_node)
        if value_node.tag not in IMPLICIT_TAGS:
            raise Refused(f"parameter {_shown_key(key_node)} (line {_line(value_node)}) carries a YAML tag; "
                          "a parameter is plain text, a number, true or false")
        pairs.append((name, value_node, _line(key_node)))
    return pairs


def _read_mapping(text: str, where: str, hint: str, parameters: type | None = None) -> dict:
    """A flat YAML mapping's values, each read as its parameter's declared type."""
    try:
        pairs = _compose(text)
    except (yaml.YAMLError, ValueError, RecursionError) as error:
        raise ConfigError(f"{where}: {_describe(error)}", step="parameters", hint=hint) from None
    check_names((name for name, _, _ in pairs), known_names(parameters))
    values = {}
    for name, node, line in pairs:
        written = "" if node.tag == NULL_TAG else node.value
        values[name] = convert(name, written, source=f"{where}, line {line}", parameters=parameters)
    return values


def _read_file(params_file: Path, parameters: type | None = None) -> dict:
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
    return _read_mapping(text, f"parameters file {params_file}", hint, parameters)


def yaml_overrides(text: str, parameters: type | None = None) -> list[tuple[str, object]]:
    """papermill's `-y YAML`: a flat mapping of name: value, each read as its declared type."""
    hint = "give -y a YAML mapping of name: value, e.g. -y 'branch: main'"
    if len(text) > MAX_FILE_BYTES:
        raise ConfigError(f"-y: the YAML is longer than {MAX_FILE_BYTES // 1024} KiB: refused", step="parameters",
                          hint=hint)
    return list(_read_mapping(text, "-y", hint, parameters).items())


class Raw(str):
    """papermill's `-r NAME RAW`: the text exactly as given, never converted."""


def read_override(name: str, value, parameters: type | None = None):
    """One override: a `-p` text read as the parameter's declared type; a `Raw` text or a value
    already read (from `-y`) kept as it is.
    """
    shown = _shown_name(name)
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        raise ConfigError(f"-p {shown}: the value is {len(value)} characters long, more than {MAX_VALUE_CHARS}: "
                          "refused", step="parameters", hint=f"give a shorter {shown}")
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, str):
        return convert(name, value, source=f"-p {shown}", parameters=parameters)
    return value


def load_parameters(params_file: Path | None, overrides=(), parameters: type | None = None) -> dict:
    """The params file's values, then the overrides in order, with only known names.

    `parameters` is the runbook's parameters class (default: the deploy's); the deploy's names are
    known to every runbook, so one parameters file serves them all.

    `overrides` are (name, value) pairs: a `str` value is `-p` text, read as the parameter's
    declared type; a `Raw` value (`-r`) is kept as text; any other value (read from `-y`
    by `yaml_overrides`) is kept as it is. papermill applies `-f`, `-y`, `-p`, `-r` in that
    order; the CLI passes them so.

    Raises:
        ConfigError (step "parameters"): the file cannot be read, is too large, is not a
            flat mapping of name: value, uses anchors or aliases, repeats a key; a name is
            unknown; a value is too long or not of its parameter's type.
    """
    values: dict = _read_file(Path(params_file), parameters) if params_file else {}
    overrides = list(overrides)
    check_names((name for name, _ in overrides), known_names(parameters))
    for name, value in overrides:
        values[name] = read_override(name, value, parameters)
    return values
