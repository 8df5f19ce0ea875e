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


# --- bounded refusals, run ids, the key's passphrase ---------------------------------------------

def test_refusing_a_huge_nested_value_is_bounded_work():
    import time

    nested: list = ["lol"] * 9
    for _ in range(8):
        nested = [nested] * 9  # 9**9 leaves if anyone formatted it
    huge_int = int("9" * 4000) ** 30  # str() of it raises ValueError (Python's digit limit)
    started = time.monotonic()
    for name, value in (("reason", nested), ("port", huge_int), ("reason", {"a": nested}), ("reason", b"x" * 10**6)):
        with pytest.raises(ConfigError) as refused:
            DeployParameters(**{name: value}).resolved()
        assert len(str(refused.value)) < 600
    assert time.monotonic() - started < 1.0
    with pytest.raises(ConfigError, match=r"reason=<list of length 9>"):
        DeployParameters(reason=nested).resolved()
    with pytest.raises(ConfigError, match=r"port=<an int of \d+ bits>"):
        DeployParameters(port=huge_int).resolved()


def test_a_long_string_shows_a_prefix_and_its_length():
    with pytest.raises(ConfigError) as refused:
        DeployParameters(reason="r" * 10_000).resolved()
    message = str(refused.value)
    assert "r" * 77 + "'... (10000 characters)" in message and "r" * 81 not in message


def test_run_id_pattern_is_exactly_what_new_run_id_makes():
    from hermes_ops.params import RUN_ID
    from hermes_ops.runbook.journal import new_run_id

    assert all(RUN_ID.fullmatch(new_run_id()) for _ in range(20))
    assert RUN_ID.fullmatch("20261127T044009Z-2eb4eb")
    for name in ("run_id", "resume"):
        assert getattr(DeployParameters(**{name: "20261127T044009Z-2eb4eb"}).resolved(), name)
        assert getattr(DeployParameters(**{name: ""}).resolved(), name) == ""


@pytest.mark.parametrize("value", ["daemon", "20261127T044009Z-2eb4eb.json", "20261127T044009Z-2EB4EB",
                                   "../20261127T044009Z-2eb4eb", "20261127T044009Z-2eb4eb\n", "20261127T044009Z",
                                   "2026112T044009Z-2eb4eb", "20261127T044009Z-2eb4eb0", " 20261127T044009Z-2eb4eb"])
@pytest.mark.parametrize("name", ["run_id", "resume"])
def test_run_ids_other_than_generated_ones_are_refused(name, value):
    with pytest.raises(ConfigError, match=f"parameter {name}=.*20261127T044009Z-2eb4eb"):
        DeployParameters(**{name: value}).resolved()


PASSPHRASE = "correct horse battery staple"


@pytest.mark.parametrize("name", ["reason", "operator", "branch", "build_command", "records_dir", "host"])
def test_a_parameter_holding_the_passphrase_is_refused_without_showing_it(name, monkeypatch, secrets_registry):
    monkeypatch.setenv("HERMES_OPS_SSH_PASSPHRASE", PASSPHRASE)
    with pytest.raises(ConfigError) as refused:
        DeployParameters(**{name: f"x {PASSPHRASE} y"}).resolved()
    message = str(refused.value)
    assert f"parameter {name} contains the SSH key's passphrase: refused" in message
    assert "correct horse" not in message and "staple" not in message


def test_passphrase_from_another_variable_and_registered_for_masking(monkeypatch, secrets_registry):
    from hermes_ops.secrets import mask

    monkeypatch.setenv("DEPLOY_KEY_PASS", PASSPHRASE)
    with pytest.raises(ConfigError, match="parameter reason contains"):
        DeployParameters(reason=PASSPHRASE, key_passphrase_env="DEPLOY_KEY_PASS").resolved()
    assert mask(f"said {PASSPHRASE}") == "said ****"


def test_no_passphrase_set_means_nothing_to_refuse(monkeypatch, secrets_registry):
    monkeypatch.delenv("HERMES_OPS_SSH_PASSPHRASE", raising=False)
    assert DeployParameters(reason=PASSPHRASE).resolved().reason == PASSPHRASE
    monkeypatch.setenv("HERMES_OPS_SSH_PASSPHRASE", "")
    assert DeployParameters(reason=PASSPHRASE).resolved().reason == PASSPHRASE


# --- where to connect: host aliases, the sandbox key only for the sandbox (hermes_ops.ssh.resolution) -----------

@pytest.fixture
def operator_ssh(tmp_path, monkeypatch):
    """An operator's ~/.ssh (HOME in tmp_path) with `Host prod` naming a key, and no ssh-agent."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    ssh = tmp_path / ".ssh"
    ssh.mkdir(mode=0o700)
    (ssh / "id_prod").write_text("a key file\n")
    (ssh / "config").write_text(f"""\
Host prod
    HostName 203.0.113.7
    User deployer
    IdentityFile {ssh / "id_prod"}
    UserKnownHostsFile {ssh / "known_hosts_prod"}
Host prod-no-key
    HostName 203.0.113.8
""")
    return ssh


def test_a_parameters_file_naming_only_an_alias_takes_the_rest_from_the_ssh_config(operator_ssh):
    params = DeployParameters(host="prod").resolved()
    assert (params.host, params.port, params.user) == ("prod", 22, "deployer")
    assert params.key_path == str(operator_ssh / "id_prod")
    assert params.known_hosts == str(operator_ssh / "known_hosts_prod")
    assert params.ssh_target().host == "203.0.113.7"
    assert params.resolved() == params, "resolving what was resolved changes nothing (the CLI, then the kernel)"


def test_explicit_means_different_from_the_default(operator_ssh):
    params = DeployParameters(host="prod", port=2200, user="core").resolved()
    # port 2200 is not the default: it wins; user core is the default: the config's User wins.
    assert (params.port, params.user) == (2200, "deployer")


def test_an_unknown_alias_is_refused_before_anything_runs(operator_ssh):
    with pytest.raises(ConfigError) as refused:
        DeployParameters(host="prdo").resolved()
    assert str(refused.value).splitlines()[0] == (
        "[step parameters] unknown host alias 'prdo' in ~/.ssh/config, and it is not a host name that resolves")
    assert refused.value.hint.startswith("did you mean prod?") and "nothing was run" in refused.value.hint


def test_a_production_host_never_gets_the_sandbox_key(operator_ssh, tmp_path):
    for values in ({"host": "prod-no-key"}, {"host": "203.0.113.9"},
                   {"host": "127.0.0.1", "known_hosts": str(tmp_path / "kh")}):
        with pytest.raises(ConfigError) as refused:
            DeployParameters(**values).resolved()
        assert "no key for core@" in str(refused.value) and "ssh-agent is not running (SSH_AUTH_SOCK unset)" \
            in str(refused.value), values
        assert "sandbox" not in str(refused.value)


def test_an_explicit_ssh_config_must_exist_and_the_default_need_not(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert DeployParameters().resolved().ssh_config == "~/.ssh/config"
    with pytest.raises(ConfigError, match="ssh config file .*nope does not exist"):
        DeployParameters(ssh_config=str(tmp_path / "nope")).resolved()


@pytest.mark.parametrize(("name", "value"), [("use_agent", "yes"), ("use_agent", 1), ("ssh_config", ""),
                                             ("ssh_config", "a\nb"), ("host", "user@prod"), ("host", "prod*")])
def test_connection_parameters_keep_their_rules(name, value):
    with pytest.raises(ConfigError, match=f"parameter {name}="):
        DeployParameters(**{name: value}).resolved()


def test_a_hostname_in_the_config_must_be_a_host_name(operator_ssh):
    (operator_ssh / "config").write_text("Host odd\n    HostName bad_name;id\n    IdentityFile /dev/null\n")
    with pytest.raises(ConfigError, match="Host odd in .* has HostName 'bad_name;id'"):
        DeployParameters(host="odd").resolved()


def test_the_sandbox_resolves_without_agent_and_records_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    params = DeployParameters().resolved()
    assert params.use_agent is False and params.ssh_resolution().sandbox


def test_the_production_example_resolves_with_an_operator_ssh_config(tmp_path, monkeypatch):
    """config/production.example.yaml as the README tells an operator to use it: an alias, a key in ssh-agent."""
    from pathlib import Path

    from hermes_ops.params_file import load_parameters

    example = Path(__file__).resolve().parents[2] / "config" / "production.example.yaml"
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    ssh = tmp_path / ".ssh"
    ssh.mkdir(mode=0o700)
    (ssh / "id_ed25519").write_text("a key file\n")
    (ssh / "config").write_text("Host hermes-prod\n    HostName 203.0.113.7\n    User core\n"
                                "    UserKnownHostsFile ~/.ssh/hermes_known_hosts\n    IdentityFile ~/.ssh/id_ed25519\n")
    params = DeployParameters(**load_parameters(example, [])).resolved()
    target = params.ssh_target()
    assert (target.host, target.port, target.user) == ("203.0.113.7", 22, "core")
    assert target.known_hosts == str(ssh / "hermes_known_hosts") and params.key_path == str(ssh / "id_ed25519")
    (ssh / "config").write_text("Host hermes-prod\n    HostName 203.0.113.7\n")
    with pytest.raises(ConfigError, match="no key for core@hermes-prod: key_path is empty, ~/.ssh/config names no "
                                          r"IdentityFile, ssh-agent is not running \(SSH_AUTH_SOCK unset\)"):
        DeployParameters(**load_parameters(example, [])).resolved()


def test_an_alias_behind_an_include_is_refused_saying_include_is_not_followed(operator_ssh):
    (operator_ssh / "config").write_text("Include ~/.ssh/config.d/*\n")
    with pytest.raises(ConfigError) as refused:
        DeployParameters(host="hermes-prod").resolved()
    assert "unknown host alias 'hermes-prod' in ~/.ssh/config" in str(refused.value)
    assert "itself (Include lines are not followed)" in refused.value.hint
