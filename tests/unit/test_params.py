"""Parameter validation: every hostile value is refused with the parameter's name and rule."""

import dataclasses

import pytest

from hermes_ops.errors import ConfigError
from hermes_ops.params import PARAMETER_NAMES, DeployParameters, check_names

HOSTILE = [
    ("admin_container", "hermes-admin; touch /tmp/x"),
    ("app_container", "$(id)"),
    ("image", "hermes/admin:`id`"),
    ("branch", "main\ntouch /tmp/x"),
    ("branch", "../../etc"),
    ("branch", "-delete"),
    ("repo_dir", "../.."),
    ("repo_dir", "/srv/../etc"),
    ("repo_dir", "/srv/hermes; rm -rf /"),
    ("host", "127.0.0.1; id"),
    ("host", "x" * 10_000),
    ("user", "core$(id)"),
    ("build_command", "make; touch /tmp/x"),
    ("build_command", "make && curl evil"),
    ("build_command", "make `id`"),
    ("build_command", "make $(id)"),
    ("build_command", "make\nid"),
    ("build_command", "make " + "a" * 10_000),
    ("health_url", "http://127.0.0.1:8088/health?x=$(id)"),
    ("version_url", "http://user:pw@127.0.0.1/version"),
    ("reason", "line one\nline two"),
    ("reason", "r" * 10_000),
    ("operator", "ana\x1b[31m"),
    ("port", 0),
    ("port", "22; id"),
    ("build_timeout", -1),
    ("force", "yes"),
    ("key_passphrase_env", "$(id)"),
]


@pytest.mark.parametrize(("name", "value"), HOSTILE)
def test_hostile_values_are_refused_naming_the_parameter(name, value):
    with pytest.raises(ConfigError) as refused:
        DeployParameters(**{name: value}).resolved()
    message = str(refused.value)
    assert f"parameter {name}=" in message
    assert "expected" in message
    assert len(message) < 600, "a 10 kB value is not echoed back whole"


def test_defaults_are_safe_and_target_the_sandbox():
    params = DeployParameters().resolved()
    assert params.host == "127.0.0.1" and params.port == 2222
    assert params.key_path.endswith("keys/operator_ed25519")
    assert params.operator


def test_build_command_becomes_an_argument_list():
    assert DeployParameters(build_command="make -j2 all").resolved().build_argv == ["make", "-j2", "all"]


def test_config_errors_are_value_errors():
    with pytest.raises(ValueError):
        DeployParameters(branch="$(id)").resolved()


def test_unknown_parameter_names_are_refused():
    with pytest.raises(ConfigError, match="unknown parameter.*password"):
        check_names(["host", "password"])
    check_names(PARAMETER_NAMES)


def test_no_parameter_is_meant_for_a_secret():
    for field in dataclasses.fields(DeployParameters):
        assert not any(word in field.name for word in ("password", "passphrase", "token", "secret")) or \
            field.name == "key_passphrase_env", field.name
