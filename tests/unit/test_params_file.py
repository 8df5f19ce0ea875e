"""load_parameters: a flat YAML mapping and -y/-p/-r overrides, each value read as its declared type, bounded."""

from __future__ import annotations

import time

import pytest

from hermes_ops.errors import ConfigError
from hermes_ops.params_file import MAX_FILE_BYTES, MAX_VALUE_CHARS, Raw, load_parameters, yaml_overrides


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
    ("port: " + "9" * 5000 + "\n", "is not a valid port"),
    ("reason: !!python/object:os.system x\n", "carries a YAML tag"),
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


README_EXAMPLE = "TICKET-123: what this ships"


def test_the_readme_example_keeps_its_text():
    """README: hermes-ops deploy -f production.yaml -p reason "TICKET-123: what this ships"."""
    assert load_parameters(None, [("reason", README_EXAMPLE)]) == {"reason": README_EXAMPLE}


@pytest.mark.parametrize("raw", ["[1, 2]", "{a: 1}", "fix: login", "- a", "22", "true", "0123", "2026-11-27",
                                 "~", "", "*urgent* fix", "&a [*a]", "@ops deploy", "it's", "no", " spaced "])
def test_a_str_parameter_keeps_the_text_exactly(raw):
    assert load_parameters(None, [("reason", raw)])["reason"] == raw
    assert load_parameters(None, [("branch", raw)])["branch"] == raw


@pytest.mark.parametrize(("name", "raw", "value"), [
    ("port", "2222", 2222), ("port", "+22", 22), ("keep_images", "0", 0), ("min_free_disk_mb", "-5", -5),
    ("build_timeout", "90", 90.0), ("build_timeout", "1.5", 1.5), ("build_timeout", "1e3", 1000.0),
    ("dry_run", "true", True), ("dry_run", "False", False), ("force", " true ", True),
])
def test_numbers_and_booleans_are_read_strictly(name, raw, value):
    read = load_parameters(None, [(name, raw)])[name]
    assert read == value and type(read) is type(value)


@pytest.mark.parametrize(("name", "raw", "rule"), [
    ("port", "0123", "without leading zeros"), ("port", "22.0", "whole number"), ("port", "0x16", "whole number"),
    ("port", "1_000", "whole number"), ("port", "", "whole number"), ("port", "9" * 500, "whole number"),
    ("build_timeout", "nan", "a number"), ("build_timeout", "inf", "a number"), ("build_timeout", "01.5", "a number"),
    ("dry_run", "yes", "true or false"), ("dry_run", "no", "true or false"), ("force", "1", "true or false"),
    ("force", "on", "true or false"), ("force", "TRUE", "true or false"),
])
def test_misreadable_numbers_and_booleans_are_refused_naming_the_rule(name, raw, rule):
    with pytest.raises(ConfigError) as caught:
        load_parameters(None, [(name, raw)])
    message = str(caught.value)
    assert f"-p {name}" in message and rule in message and caught.value.step == "parameters"
    assert len(message) < 600


def test_a_file_reads_values_by_declared_type_not_by_yaml_guess(tmp_path):
    path = write(tmp_path, "branch: no\nreason: 0123\noperator: 2026-11-27\nport: 2222\nforce: false\n"
                           "build_timeout: 90\nkey_path:\nhost: '10'\n")
    assert load_parameters(path) == {"branch": "no", "reason": "0123", "operator": "2026-11-27", "port": 2222,
                                     "force": False, "build_timeout": 90.0, "key_path": "", "host": "10"}
    message = refused(tmp_path, "force: yes\n")
    assert "line 1" in message and "true or false" in message


def test_yaml_text_raw_and_p_apply_in_papermills_order(tmp_path):
    path = write(tmp_path, "branch: main\nport: 22\nreason: from the file\n")
    overrides = [*yaml_overrides("branch: release\nport: 2022\nreason: yes"), ("port", "2222"),
                 ("reason", Raw("0123"))]
    assert load_parameters(path, overrides) == {"branch": "release", "port": 2222, "reason": "0123"}
    # -r keeps the text even for a typed parameter; validation then says what is wrong with it
    assert load_parameters(None, [("port", Raw("2222"))]) == {"port": "2222"}
    with pytest.raises(ConfigError, match="-y"):
        yaml_overrides("dry_run: yes")
    with pytest.raises(ConfigError, match="unknown parameter"):
        yaml_overrides("colour: blue")


def test_override_names_are_checked_before_values():
    with pytest.raises(ConfigError, match="unknown parameter.*password") as caught:
        load_parameters(None, [("password", "hunter2"), ("port", "x")])
    assert "hunter2" not in str(caught.value)
