"""`hermes-ops status` and `images` on the sandbox: they say what the deploy did, and they change nothing."""

from __future__ import annotations

import argparse
import io
import json
import socket
from pathlib import Path

import pytest

from hermes_ops import glance
from hermes_ops.cli import glance as glance_cli
from hermes_ops.cli.main import _overrides as cli_overrides  # -y, -p, -r as `deploy` reads them
from hermes_ops.records import headless
from hermes_ops.runbook.hostlog import lock_status
from tests.runbook.conftest import droplet_docker
from tests.runbook.test_safety import held_lock

pytestmark = pytest.mark.sandbox

STATUS_KEYS = {"host", "hostname", "expected_hostname", "checked_at", "healthy", "serving", "lock", "last_deploy",
               "last_success", "problems"}
SERVING_KEYS = {"commit", "version", "label_commit", "image", "image_tags", "running", "healthy", "health_url",
                "version_url"}
LOCK_KEYS = {"state", "holder", "run", "operator", "commit", "since", "pid"}
LAST_DEPLOY_KEYS = {"time", "kind", "run", "operator", "host", "commit", "image", "outcome", "reason", "line"}
IMAGES_KEYS = {"host", "repository", "keep_images", "images"}
IMAGE_KEYS = {"reference", "image_id", "tags", "created", "commit", "operator", "deployed_at", "reason", "run_id",
              "roles"}


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    """The two commands as `hermes-ops` registers them (the lead's main.py calls the same `add_commands`)."""
    parser = argparse.ArgumentParser(prog="hermes-ops")
    params = argparse.ArgumentParser(add_help=False)
    params.add_argument("-f", "--params-file", type=Path, default=None)
    params.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"))
    glance_cli.add_commands(parser.add_subparsers(dest="command", required=True), params, overrides=cli_overrides)
    args = parser.parse_args(argv)
    code = args.handler(args)
    out, err = capsys.readouterr()
    return code, out, err


def host_state(sandbox_host) -> dict:
    """Everything a read-only command could change: containers, images, the host log and the lock's files."""
    config = sandbox_host.config
    home = ["exec", "--user", config.user, config.droplet_container, "sh", "-c"]
    return {
        "containers": droplet_docker(sandbox_host, "ps", "--all", "--no-trunc",
                                     "--format", "{{.ID}} {{.Image}} {{.State}} {{.Names}}"),
        "images": droplet_docker(sandbox_host, "images", "--all", "--no-trunc",
                                 "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"),
        "head": droplet_docker(sandbox_host, "exec", config.admin_container, "git", "-C", config.repo_dir,
                               "rev-parse", "HEAD"),
        "hermes_dir": droplet_docker(sandbox_host, *home, 'cd "$HOME/.hermes" && stat -c "%n %s %Y" * | sort'),
        "host_log": droplet_docker(sandbox_host, *home, 'cat "$HOME/.hermes/deploys.log"'),
    }


@pytest.fixture
def deployed(deployable, sandbox, tmp_path):
    """A fresh commit deployed through the runbook; its record."""
    commit = deployable.commit("glance: a change to look at")
    run = headless.deploy(sandbox.params_file, [("reason", "TICKET-11 at a glance")], records_dir=tmp_path,
                          stream=io.StringIO())
    assert run.succeeded, run.outcome
    record = json.loads(run.record.with_suffix(".json").read_text())
    assert record["commit_after"] == commit
    return record


def test_status_and_images_show_the_deploy_and_change_nothing(deployed, deployable, sandbox, capsys):
    before = host_state(deployable)

    status = glance.status(sandbox.params_file)
    assert status.serving.commit == deployed["commit_after"]
    assert status.serving.image == deployed["image_after"]
    assert f"hermes/admin:{deployed['commit_after'][:12]}" in status.image_tags
    assert "hermes/admin:latest" in status.image_tags
    assert status.healthy and status.problems == ()
    assert status.lock.state == "free"
    assert status.last_deploy.fields["run"] == deployed["run_id"]
    assert status.last_deploy.fields["outcome"] == "success"
    assert status.last_deploy.fields["reason"] == "TICKET-11 at a glance"
    assert status.last_success == status.last_deploy
    assert status.host == f"core@127.0.0.1:{sandbox.port}" and status.hostname == "texasca2"

    kept = glance.kept_images(sandbox.params_file)
    newest = kept.images[0]
    assert newest.reference == f"hermes/admin:{deployed['commit_after'][:12]}"
    assert newest.image_id == deployed["image_after"]
    assert newest.commit == deployed["commit_after"] and newest.run_id == deployed["run_id"]
    assert newest.operator == deployed["operator"] and newest.reason == "TICKET-11 at a glance"
    assert newest.deployed_at and newest.roles == ("serving", "latest")
    previous = [image for image in kept if "previous" in image.tags]
    assert len(previous) == 1 and previous[0].image_id == deployed["image_before"]

    code, out, err = cli(capsys, "status", "--json", "-f", str(sandbox.params_file))
    assert code == 0 and err == ""
    shown = json.loads(out)
    assert set(shown) == STATUS_KEYS and set(shown["serving"]) == SERVING_KEYS
    assert set(shown["lock"]) == LOCK_KEYS
    assert set(shown["last_deploy"]) == set(shown["last_success"]) == LAST_DEPLOY_KEYS
    assert shown["serving"]["commit"] == deployed["commit_after"] and shown["healthy"] is True
    assert shown["last_deploy"]["run"] == deployed["run_id"] and shown["lock"]["state"] == "free"

    code, out, err = cli(capsys, "images", "--json", "-f", str(sandbox.params_file))
    assert code == 0 and err == ""
    shown = json.loads(out)
    assert set(shown) == IMAGES_KEYS and all(set(image) == IMAGE_KEYS for image in shown["images"])
    assert shown["images"][0]["commit"] == deployed["commit_after"]
    assert shown["images"][0]["roles"] == ["serving", "latest"]

    code, out, _ = cli(capsys, "status", "-f", str(sandbox.params_file))
    assert code == 0 and deployed["commit_after"] in out and f"core@127.0.0.1:{sandbox.port}" in out
    assert f"run {deployed['run_id']}" in out and "\nlock         free\n" in out
    code, out, _ = cli(capsys, "images", "-f", str(sandbox.params_file))
    assert code == 0 and "TICKET-11 at a glance" in out and deployed["run_id"] not in out

    assert host_state(deployable) == before, "status and images changed the host"


def test_status_names_the_lock_holder_and_leaves_it_held(sandbox_host, sandbox, capsys):
    session, lock = held_lock(sandbox, "run=glance-holder operator='Ann Smith' commit=0123456789ab "
                                       "since=2026-11-27T12:00:00Z")
    try:
        status = glance.status(sandbox.params_file)
        assert status.lock.state == "held"
        assert status.lock.holder.startswith("run=glance-holder operator='Ann Smith' ")
        assert status.lock.holder_fields["run"] == "glance-holder"
        assert status.lock.holder_fields["operator"] == "Ann Smith"
        assert status.lock.holder_fields["pid"].isdigit()

        code, out, _ = cli(capsys, "status", "-f", str(sandbox.params_file))
        assert code == 0 and "lock         held by run=glance-holder operator='Ann Smith'" in out
        code, out, _ = cli(capsys, "status", "--json", "-f", str(sandbox.params_file))
        assert code == 0 and json.loads(out)["lock"]["operator"] == "Ann Smith"

        assert lock_status(sandbox.params_file).startswith("held by run=glance-holder "), "the probe took the lock"
        assert lock.held and not lock.lost, "the holder is still alive"
    finally:
        lock.release()
        session.__exit__(None, None, None)


def free_port() -> int:
    """A port nothing listens on once this returns."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unhealthy_app_is_reported_with_exit_0(sandbox, capsys):
    """Unhealthy is a finding, not a failure to read: exit 0, `healthy: false`, the problem named (stderr too)."""
    nothing = f"http://127.0.0.1:{free_port()}/health"
    code, out, err = cli(capsys, "status", "--json", "-f", str(sandbox.params_file), "-p", "health_url", nothing)
    shown = json.loads(out)
    assert code == 0 and shown["healthy"] is False and shown["serving"]["commit"]
    assert f"{nothing} did not answer 200" in shown["problems"]
    assert f"hermes-ops: warning: {nothing} did not answer 200" in err
    code, out, _ = cli(capsys, "status", "-f", str(sandbox.params_file), "-p", "health_url", nothing)
    assert code == 0 and f"health       NOT healthy: {nothing} did not answer 200" in out


def test_refused_parameters_exit_2_and_an_unreachable_host_exits_1(sandbox, capsys):
    code, out, err = cli(capsys, "status", "-f", str(sandbox.params_file), "-p", "port", "99999")
    assert (code, out) == (2, "") and "[step parameters]" in err and "port" in err
    code, out, err = cli(capsys, "images", "--json", "-f", str(sandbox.params_file), "-p", "host", "bad host")
    assert (code, out) == (2, "") and "host" in err

    port = free_port()
    code, out, err = cli(capsys, "status", "--json", "-f", str(sandbox.params_file), "-p", "port", str(port))
    assert (code, out) == (1, "") and f"127.0.0.1:{port}" in err and "refused" in err
