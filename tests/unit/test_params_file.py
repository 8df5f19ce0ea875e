"""load_parameters: a flat YAML mapping of scalars and -p overrides, read with bounded work."""

from __future__ import annotations

import time

import pytest

from hermes_ops.errors import ConfigError
from hermes_ops.params_file import MAX_FILE_BYTES, MAX_VALUE_CHARS, load_parameters


def write(tmp_path, text: str):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def refused(tmp_path, text: str, overrides=()) -> str:
    with pytest.raises(ConfigError) as caught:
        load_parameters(write(tmp_path, text) if text is not None else None, overrides)
    assert caught.value.step == "parameters" and caught.value.hint
    return str(caught.value)


def alias_bomb() -> str:
    lines = ['reason: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [" + ",".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_good_file_and_overrides_as_before(tmp_path):
    path = write(tmp_path, "host: 203.0.113.7\nport: 22\nforce: true\nreason: 'JIRA-12: fix login'\n"
                           "build_timeout: 1.5\n")
    values = load_parameters(path, [("port", "2222"), ("dry_run", "true"), ("operator", "Ada Lovelace"),
                                    ("reason", "")])
    assert values == {"host": "203.0.113.7", "port": 2222, "force": True, "reason": "", "build_timeout": 1.5,
                      "dry_run": True, "operator": "Ada Lovelace"}


def test_no_file_and_empty_file(tmp_path):
    assert load_parameters(None, [("host", "h")]) == {"host": "h"}
    assert load_parameters(write(tmp_path, "# nothing\n"), ()) == {}


def test_alias_bomb_is_refused_at_once_without_building_it(tmp_path):
    bomb = alias_bomb()
    assert len(bomb) < 1000
    started = time.monotonic()
    message = refused(tmp_path, bomb)
    assert time.monotonic() - started < 0.5
    assert "anchor or alias" in message and "line 1" in message
    assert "lol" not in message


@pytest.mark.parametrize("text", ["a: &x 1\nhost: *x\n", "host: &x 127.0.0.1\n", "base: &b {port: 22}\n"])
def test_any_anchor_or_alias_is_refused(tmp_path, text):
    assert "anchor or alias" in refused(tmp_path, text)


def test_duplicate_keys_are_refused_naming_key_and_lines(tmp_path):
    message = refused(tmp_path, "host: a.example\nport: 22\nhost: b.example\n")
    assert "'host' is given twice (lines 1 and 3)" in message
    assert "a.example" not in message and "b.example" not in message


@pytest.mark.parametrize(("text", "expected"), [
    ("reason:\n  - one\n  - two\n", "parameter 'reason' (line 2) is a list"),
    ("reason: [a, b]\n", "parameter 'reason' (line 1) is a list"),
    ("reason: {a: b}\n", "parameter 'reason' (line 1) is a mapping"),
    ("reason: " + "[" * 5000 + "]" * 5000 + "\n", "parameter 'reason' (line 1) is a list"),
    ("- host\n- port\n", "not a mapping"),
    ("just text\n", "not a mapping"),
    ("? [a, b]\n: 1\n", "is not a parameter name"),
    ("1: x\n", "is not a parameter name"),
    ("yes: x\n", "is not a parameter name"),
    ("host: a\n---\nhost: b\n", "single document"),
    ("host: 'unclosed\n", "line"),
    ("port: " + "9" * 5000 + "\n", "cannot be read"),
    ("reason: !!python/object:os.system x\n", "constructor"),
])
def test_non_scalar_and_malformed_files_are_refused(tmp_path, text, expected):
    message = refused(tmp_path, text)
    assert expected in message
    assert len(message) < 800


def test_large_file_is_refused_unread(tmp_path):
    message = refused(tmp_path, "reason: x\n" + "#" * MAX_FILE_BYTES + "\n")
    assert "larger than 64 KiB" in message


def test_unreadable_and_non_utf8_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read parameters file"):
        load_parameters(tmp_path / "missing.yaml")
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"reason: caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_parameters(path)


def test_unknown_names_are_refused_bounded(tmp_path):
    message = refused(tmp_path, "password: hunter2\n" + "".join(f"x{n}: 1\n" for n in range(30)))
    assert "unknown parameter(s)" in message and "password" in message and "more" in message
    assert "hunter2" not in message
    long_name = "k" * 10_000
    assert len(refused(tmp_path, f"{long_name}: 1\n")) < 2000


def test_override_values_are_bounded(tmp_path):
    message = refused(None, None, [("reason", "r" * (MAX_VALUE_CHARS + 1))])
    assert "-p reason" in message and "more than 4096" in message and "rrrrrrrr" not in message


@pytest.mark.parametrize(("raw", "kind"), [("[1, 2]", "list"), ("{a: 1}", "mapping"), ("fix: login", "mapping"),
                                           ("- a", "list")])
def test_override_that_is_a_list_or_mapping_is_refused(raw, kind):
    with pytest.raises(ConfigError) as caught:
        load_parameters(None, [("reason", raw)])
    message = str(caught.value)
    assert f"-p reason: the value is a {kind}" in message and "'...'" in message


@pytest.mark.parametrize(("raw", "value"), [
    ("22", 22), ("true", True), ("1.5", 1.5), ("'fix: login'", "fix: login"), ("", ""), ("~", "~"),
    ("*urgent* fix", "*urgent* fix"),       # an alias: taken as text, never expanded
    ("&a [*a]", "&a [*a]"),
    ("@ops deploy", "@ops deploy"),         # not YAML: taken as text, as before
    ("it's", "it's"),
])
def test_override_scalars_and_plain_text(raw, value):
    assert load_parameters(None, [("reason", raw)])["reason"] == value


def test_override_alias_bombs_are_text_or_refused_at_once():
    bomb = alias_bomb().replace("\n", " ")
    started = time.monotonic()
    with pytest.raises(ConfigError, match="the value is a mapping"):
        load_parameters(None, [("reason", bomb)])
    values = bomb.split(": ", 1)[1].replace(" b: ", ", ").replace(" c: ", ", ")
    anchored = f"&top [{values}]"
    assert load_parameters(None, [("reason", anchored)])["reason"] == anchored
    assert time.monotonic() - started < 0.5
