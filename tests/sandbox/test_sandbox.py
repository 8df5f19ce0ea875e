"""The sandbox host behaves like the production droplet wherever the runbook can look (real sshd, dockerd)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import paramiko
import pytest

from hermes_ops.sandbox import SandboxConfig, SandboxError, SandboxHost
from hermes_ops.sandbox.host import http_get
from tests.conftest import REPO_ROOT, ssh_command

pytestmark = pytest.mark.sandbox


def ssh(sandbox, *remote, key_path=None, check=True):
    return subprocess.run(ssh_command(sandbox, *remote, key_path=key_path), capture_output=True, text=True,
                          timeout=60, check=check)


def test_operator_key_logs_in_as_core_on_texasca2(sandbox):
    assert ssh(sandbox, "hostname").stdout.strip() == "texasca2"
    assert ssh(sandbox, "whoami").stdout.strip() == "core"


def test_password_login_is_refused(sandbox):
    transport = paramiko.Transport((sandbox.host, sandbox.port))
    try:
        transport.start_client(timeout=10)
        with pytest.raises(paramiko.BadAuthenticationType) as refused:
            transport.auth_password("core", "hunter2")
        assert refused.value.allowed_types == ["publickey"]
    finally:
        transport.close()


def test_unknown_key_is_refused(sandbox, tmp_path):
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    refused = ssh(sandbox, "true", key_path=str(stranger), check=False)
    assert refused.returncode == 255
    assert "Permission denied" in refused.stderr


def test_known_hosts_pins_the_key_the_droplet_serves(sandbox):
    scanned = subprocess.run(["ssh-keyscan", "-t", "ed25519", "-p", str(sandbox.port), sandbox.host],
                             capture_output=True, text=True, timeout=30, check=True).stdout.split()
    pinned = Path(sandbox.known_hosts).read_text().split()
    assert pinned[0] == f"[{sandbox.host}]:{sandbox.port}"
    assert scanned[-2:] == pinned[1:3]


def test_core_runs_docker_and_sees_the_hermes_containers(sandbox):
    names = ssh(sandbox, "docker", "ps", "--format", "{{.Names}}").stdout.split()
    assert {sandbox.admin_container, sandbox.app_container} <= set(names)
    checkout = ssh(sandbox, "docker", "exec", sandbox.admin_container, "git", "-C", sandbox.repo_dir,
                   "rev-parse", "--abbrev-ref", "HEAD").stdout.strip()
    assert checkout == sandbox.branch


def test_app_serves_the_commit_it_was_built_from(sandbox_host, sandbox):
    image_built_from = ssh(sandbox, "docker", "exec", sandbox.admin_container, "cat",
                           f"{sandbox.repo_dir}/build/VERSION").stdout.strip()
    status, version = http_get(sandbox.version_url)
    assert status == 200
    assert version.strip() == image_built_from
    assert http_get(sandbox.health_url)[0] == 200


def _app_container_id(sandbox) -> str | None:
    result = ssh(sandbox, "docker", "inspect", "--format", "{{.Id}} {{.Image}} {{.State.Running}}",
                 sandbox.app_container, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def test_supervisor_respawns_the_app_from_latest(sandbox):
    latest = ssh(sandbox, "docker", "image", "inspect", "--format", "{{.Id}}", sandbox.image).stdout.strip()
    before = _app_container_id(sandbox)
    ssh(sandbox, "docker", "rm", "--force", sandbox.app_container)
    deadline = time.monotonic() + 30
    after = None
    while time.monotonic() < deadline:
        after = _app_container_id(sandbox)
        if after and after != before and after.endswith("true") and http_get(sandbox.health_url)[0] == 200:
            break
        time.sleep(0.25)
    assert after and after != before, "hermes-app was not respawned"
    assert after.split()[1] == latest
    assert http_get(sandbox.health_url)[0] == 200


def test_commit_advances_origin_head(sandbox_host):
    before = sandbox_host.status()["origin_head"]
    cli = subprocess.run([sys.executable, "-m", "hermes_ops.cli", "sandbox", "commit", "--state-dir",
                          str(sandbox_host.state_dir), "--message", "test: a visible change"],
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    new_head = cli.stdout.strip().splitlines()[-1]
    assert new_head != before
    assert sandbox_host.status()["origin_head"] == new_head


def test_second_up_reuses_everything_and_status_reports_it(sandbox_host):
    sandbox_host.up()
    cli = subprocess.run([sys.executable, "-m", "hermes_ops.cli", "sandbox", "status", "--json", "--state-dir",
                          str(sandbox_host.state_dir)], capture_output=True, text=True, timeout=60)
    facts = json.loads(cli.stdout)
    assert cli.returncode == 0
    assert facts["up"] and facts["healthy"]
    assert all(facts["reused"].values()), facts["reused"]
    assert facts["origin"].endswith("origin.git")
    for key in ("host", "port", "user", "key_path", "known_hosts", "expected_hostname", "admin_container",
                "app_container", "image", "repo_dir", "branch", "build_command", "health_url", "version_url"):
        assert key in facts


def test_up_prints_the_params_file_last(sandbox_host):
    cli = subprocess.run([sys.executable, "-m", "hermes_ops.cli", "sandbox", "up", "--state-dir",
                          str(sandbox_host.state_dir)], capture_output=True, text=True, timeout=300, check=True)
    last_line = cli.stdout.strip().splitlines()[-1]
    assert last_line == str(sandbox_host.params_path)
    import yaml
    assert yaml.safe_load(Path(last_line).read_text())["expected_hostname"] == "texasca2"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_taken_port_is_refused_before_building(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        host = SandboxHost(SandboxConfig(state_dir=tmp_path / "sb", ssh_port=port, app_port=_free_port()))
        with pytest.raises(SandboxError, match=f"port {port} on 127.0.0.1 .* already taken") as refused:
            host.up()
    assert "ss -ltnp" in str(refused.value)
    assert not (tmp_path / "sb" / "docker").exists(), "nothing was built"


def test_a_foreign_state_directory_is_refused(tmp_path):
    foreign = tmp_path / "not-a-sandbox"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep me")
    with pytest.raises(SandboxError, match="was not made by"):
        SandboxHost(SandboxConfig(state_dir=foreign)).up()
    with pytest.raises(SandboxError, match="refusing to delete"):
        SandboxHost(SandboxConfig(state_dir=foreign)).down()
    assert (foreign / "precious.txt").read_text() == "keep me"


def test_no_engine_and_not_root_is_a_clear_error(tmp_path):
    from hermes_ops.sandbox import engine

    with pytest.raises(SandboxError, match="no Docker engine is reachable and this user cannot start one") as refused:
        engine.find_or_start(tmp_path / "sb", external_socket=tmp_path / "no.sock", euid=65534)
    assert "run as root" in str(refused.value)
    assert not (tmp_path / "sb").exists()


def test_down_leaves_nothing_behind(tmp_path_factory):
    """A second, separate sandbox (own dockerd, own ports) goes up and comes down without a trace."""
    state = tmp_path_factory.mktemp("down") / "sb"
    config = SandboxConfig(state_dir=state, ssh_port=_free_port(), app_port=_free_port())
    host = SandboxHost(config)
    host.up()
    engine = host.engine
    assert engine.owned, "the test needs the sandbox's own engine (no shared engine in CI)"
    assert http_get(config.health_url)[0] == 200
    host.down()

    assert not state.exists()
    assert subprocess.run(["pgrep", "-f", str(state)], capture_output=True).returncode == 1, "a process survived"
    assert str(state) not in Path("/proc/mounts").read_text()
    assert http_get(config.health_url)[0] is None
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", config.ssh_port)) != 0, "the droplet's sshd still answers"
