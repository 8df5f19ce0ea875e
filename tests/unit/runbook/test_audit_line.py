"""The host audit log line: quoted values that read back exactly, and old lines still readable."""

from __future__ import annotations

import shlex

import pytest

from hermes_ops.errors import ConfigError
from hermes_ops.runbook.audit import MAX_VALUE_CHARS, format_audit_line, parse_audit_line

TIME = "2026-11-27T04:40:09Z"


def deploy_fields(**changes) -> dict:
    fields = {"kind": "deploy", "run": "20261127T044009Z-2eb4eb", "operator": "Ada Lovelace", "host": "texasca2",
              "commit": "1111111111->790ec6b4a36e", "image": "sha256:ab12", "outcome": "success",
              "reason": "JIRA-12: fix login"}
    fields.update(changes)
    return fields


def test_a_line_reads_back_exactly():
    fields = deploy_fields()
    line = format_audit_line(TIME, fields)
    assert line == (f"{TIME} kind=deploy run=20261127T044009Z-2eb4eb operator='Ada Lovelace' host=texasca2 "
                    "commit='1111111111->790ec6b4a36e' image=sha256:ab12 outcome=success "
                    "reason='JIRA-12: fix login'")
    assert parse_audit_line(line) == {"time": TIME, **fields}


@pytest.mark.parametrize("operator", [
    "alice outcome=success run=FAKE",
    "alice' outcome=success run='FAKE",
    'alice" outcome=success',
    "alice\noutcome=success run=FAKE",
    "$(id) `id` ; | & \\ ' \"",
    "",
    "=",
    "run=FAKE",
])
def test_an_operator_name_cannot_fake_fields(operator):
    line = format_audit_line(TIME, deploy_fields(operator=operator, outcome="failed"))
    assert "\n" not in line
    parsed = parse_audit_line(line)
    assert parsed["outcome"] == "failed" and parsed["run"] == "20261127T044009Z-2eb4eb"
    assert parsed["operator"] == operator.replace("\n", "\\n")
    assert set(parsed) == {"time", *deploy_fields()}


def test_values_are_neutralised_and_one_line():
    line = format_audit_line(TIME, {"reason": "a\x1b[2Jb\r\nc\u202ed\x07", "operator": "x\ty"})
    assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\u202e" not in line
    assert parse_audit_line(line)["reason"] == "a\\x1b[2Jb\\nc\\u202ed\\x07"
    assert parse_audit_line(line)["operator"] == "x\ty"
    assert len(line.splitlines()) == 1


def test_non_string_values_and_long_values():
    line = format_audit_line(TIME, {"count": 3, "none": None, "long": "x" * (MAX_VALUE_CHARS + 50)})
    parsed = parse_audit_line(line)
    assert parsed["count"] == "3" and parsed["none"] == "" and parsed["long"] == "x" * MAX_VALUE_CHARS + "..."


@pytest.mark.parametrize(("time", "fields"), [
    ("2026-11-27 04:40:09", {}), ("", {}), ("[x]", {}), (TIME, {"Bad": "x"}), (TIME, {"a b": "x"}),
    (TIME, {"time": "x"}), (TIME, {"": "x"}), (TIME, {"k=v": "x"}),
])
def test_bad_time_or_field_names_are_refused(time, fields):
    with pytest.raises(ConfigError):
        format_audit_line(time, fields)


def test_lock_broken_holder_is_one_value():
    holder = "run=20261127T044009Z-2eb4eb operator='Ada' commit=790ec6b4a36e since=2026-11-27T04:40:09Z"
    line = format_audit_line(TIME, {"kind": "lock-broken", "operator": "Bob", "holder": holder})
    assert parse_audit_line(line) == {"time": TIME, "kind": "lock-broken", "operator": "Bob", "holder": holder}


OLD_LINES = [
    ("[2026-11-27T04:40:09Z] [Ada Lovelace] deploy run=20261127T044009Z-2eb4eb host=texasca2 "
     "commit=1111111111->790ec6b4a36e image=ab12 outcome=success reason='sandbox rehearsal'",
     {"time": TIME, "operator": "Ada Lovelace", "kind": "deploy", "run": "20261127T044009Z-2eb4eb",
      "host": "texasca2", "commit": "1111111111->790ec6b4a36e", "image": "ab12", "outcome": "success",
      "reason": "sandbox rehearsal"}),
    ("[2026-11-27T04:40:09Z] [Ada] deploy run=r1 outcome=failed reason='it'\"'\"'s broken'",
     {"time": TIME, "operator": "Ada", "kind": "deploy", "run": "r1", "outcome": "failed", "reason": "it's broken"}),
    ("[2026-11-27T04:40:09Z] [Bob] lock-broken holder=(run=r1 operator=Ada commit=790ec6b4a36e "
     "since=2026-11-27T04:39:00Z)",
     {"time": TIME, "operator": "Bob", "kind": "lock-broken",
      "holder": "run=r1 operator=Ada commit=790ec6b4a36e since=2026-11-27T04:39:00Z"}),
    ("[2026-11-27T04:40:09Z] [alice outcome=success run=FAKE] deploy run=r2 outcome=failed reason='x'",
     {"time": TIME, "operator": "alice outcome=success run=FAKE", "kind": "deploy", "run": "r2",
      "outcome": "failed", "reason": "x"}),
    ("[2026-11-27T04:40:09Z] [Ada] deploy run=r3 outcome=failed reason='cut sho",
     {"time": TIME, "operator": "Ada", "kind": "deploy", "run": "r3", "outcome": "failed"}),
]


@pytest.mark.parametrize(("line", "expected"), OLD_LINES)
def test_old_lines_are_read_as_well_as_they_can_be(line, expected):
    assert parse_audit_line(line) == expected


@pytest.mark.parametrize("line", ["", "garbage", "[unterminated", "   ", "2026 x=1"])
def test_unreadable_lines_give_nothing_or_little(line):
    parsed = parse_audit_line(line)
    assert isinstance(parsed, dict)


def test_a_damaged_new_line_gives_the_fields_before_the_damage():
    line = format_audit_line(TIME, {"run": "r1", "outcome": "failed", "reason": "it's long"})
    parsed = parse_audit_line(line[:-4])
    assert parsed["run"] == "r1" and parsed["outcome"] == "failed"


def test_a_line_is_valid_shell_words():
    line = format_audit_line(TIME, deploy_fields(operator="a'b c"))
    assert shlex.split(line)[0] == TIME
