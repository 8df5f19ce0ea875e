"""The deploy runbook end to end on the sandbox host: real sshd, real dockerd, real papermill."""

from __future__ import annotations

import socket
import subprocess
import sys

import nbformat
import pytest

from hermes_ops.params import DeployParameters
from hermes_ops.runbook import Deploy, DeployFailed
from hermes_ops.sandbox.host import http_get
from tests.runbook.conftest import droplet_docker, hermes_ops_cli, host_facts, record_of

pytestmark = pytest.mark.sandbox


def test_deploy_end_to_end_then_nothing_new(deployable, sandbox, tmp_path):
    new_commit = deployable.commit("e2e: a change to deploy")
    cli = hermes_ops_cli("deploy", "-f", str(sandbox.params_file), "-p", "reason", "TICKET-42 e2e",
                         "--records-dir", str(tmp_path))
    assert cli.returncode == 0, cli.stderr[-3000:] + cli.stdout[-3000:]
    notebook, record = record_of(cli)
    assert notebook.name.endswith(f"_texasca2_{new_commit[:12]}_success.ipynb")
    assert notebook.exists() and notebook.with_suffix(".html").exists()
    assert "Step 7 · Replace the app container" in cli.stdout, "progress is streamed to the terminal"

    assert http_get(sandbox.version_url)[1].strip() == new_commit
    assert record["outcome"] == "success" and record["failed_step"] is None
    assert record["reason"] == "TICKET-42 e2e" and record["operator"]
    assert record["commit_after"] == new_commit and record["commit_before"] != new_commit
    assert record["image_before"].startswith("sha256:") and record["image_after"] != record["image_before"]
    assert record["facts"]["hostname"] == "texasca2"
    assert record["facts"]["host_key_fingerprint"].startswith("SHA256:")
    assert record["parameters"]["branch"] == "main"
    assert record["started_at"] and record["ended_at"] and record["duration"] > 0
    statuses = {step["name"]: step["status"] for step in record["steps"]}
    assert statuses["build"] == "done" and statuses["replace_app"] == "done"
    commands = [command for step in record["steps"] for command in step["commands"]]
    assert any(command["command"].startswith("docker commit") for command in commands)
    assert all({"exit_code", "duration", "stdout", "stderr"} <= command.keys() for command in commands)
    executed = nbformat.read(notebook, as_version=4)
    assert "Step 5 · Build" in str(executed.cells), "the notebook record carries the plain-text account"

    host_log = hermes_ops_cli("records", "--host-log", "-f", str(sandbox.params_file))
    assert host_log.returncode == 0, host_log.stderr
    assert f"run={record['run_id']}" in host_log.stdout and "outcome=success" in host_log.stdout
    on_host = hermes_ops_cli("records", "--host", "-f", str(sandbox.params_file))
    assert on_host.returncode == 0 and record["run_id"] in on_host.stdout, on_host.stderr
    listing = hermes_ops_cli("records", "--records-dir", str(tmp_path))
    assert "success" in listing.stdout and "texasca2" in listing.stdout

    before = host_facts(deployable)
    again = hermes_ops_cli("deploy", "-f", str(sandbox.params_file), "--records-dir", str(tmp_path))
    assert again.returncode == 0, again.stderr[-3000:]
    _, second = record_of(again)
    assert second["outcome"] == "nothing-new"
    assert {step["name"]: step["status"] for step in second["steps"]}["build"] == "skipped"
    assert "nothing new" in again.stdout
    assert host_facts(deployable) == before, "a deploy with nothing new changes nothing"


def test_wrong_expected_hostname_is_refused_at_step_2(deployable, sandbox, tmp_path):
    deployable.commit("e2e: pending change")
    before = host_facts(deployable)
    cli = hermes_ops_cli("deploy", "-f", str(sandbox.params_file), "-p", "expected_hostname", "texasca3",
                         "--records-dir", str(tmp_path))
    assert cli.returncode == 1
    notebook, record = record_of(cli)
    assert record["outcome"] == "failed" and record["failed_step"] == "2 Connect"
    assert "refusing to deploy here" in record["failure"]
    assert notebook.name.endswith("_failed.ipynb") and notebook.exists()
    assert host_facts(deployable) == before


def test_broken_build_stops_at_step_5_and_the_app_keeps_serving(deployable, sandbox, tmp_path):
    serving = http_get(sandbox.version_url)[1].strip()
    deployable.commit("e2e: this breaks the build", fault="break-build")
    cli = hermes_ops_cli("deploy", "-f", str(sandbox.params_file), "--records-dir", str(tmp_path))
    assert cli.returncode == 1
    _, record = record_of(cli)
    assert record["outcome"] == "failed" and record["failed_step"] == "5 Build"
    assert "SyntaxError" in record["failure"], "the record shows the build's failing lines"
    assert http_get(sandbox.version_url)[1].strip() == serving
    assert http_get(sandbox.health_url)[0] == 200


HOSTILE = [
    ("admin_container", "hermes-admin; touch /tmp/pwned"),
    ("branch", "$(touch /tmp/pwned)"),
    ("repo_dir", "../../tmp"),
    ("build_command", "make `touch /tmp/pwned`"),
    ("image", "hermes/admin:latest\ntouch /tmp/pwned"),
]


@pytest.mark.parametrize(("name", "value"), HOSTILE)
def test_hostile_parameters_never_reach_the_host(sandbox_host, sandbox, tmp_path, name, value):
    """The "host" is a listener of our own: had anything tried to connect, it would have seen it."""
    kernels_before = _kernel_processes()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        cli = hermes_ops_cli("deploy", "-f", str(sandbox.params_file), "-p", name, value,
                             "-p", "port", str(listener.getsockname()[1]), "--records-dir", str(tmp_path))
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert cli.returncode == 2, "refused before connecting"
    assert f"parameter {name}=" in cli.stderr and "nothing was run" in cli.stderr
    assert not list(tmp_path.iterdir()), "no record of a run that never started"
    assert not _kernel_processes() - kernels_before, "the kernel that booted while the parameters were checked is gone"
    assert droplet_docker(sandbox_host, "exec", sandbox_host.config.droplet_container,
                          "sh", "-c", "ls /tmp/pwned 2>/dev/null || echo absent") == "absent"


def _kernel_processes() -> set[str]:
    """The pids of the ipykernel processes running on this machine."""
    found = subprocess.run(["pgrep", "-f", "ipykernel_launcher"], capture_output=True, text=True)
    return set(found.stdout.split())


def test_plain_papermill_produces_the_same_notebook_record(deployable, sandbox, tmp_path):
    output = tmp_path / "out.ipynb"
    completed = subprocess.run([sys.executable, "-m", "papermill", "notebooks/deploy.ipynb", str(output),
                                "-f", str(sandbox.params_file), "-p", "records_dir", str(tmp_path)],
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    text = str(nbformat.read(output, as_version=4).cells)
    assert "Step 8 · Exit" in text and "outcome: nothing-new" in text


def test_steps_one_by_one_start_a_stopped_admin_container(deployable, tmp_path):
    droplet_docker(deployable, "stop", "--time", "1", deployable.config.admin_container)
    lines: list[str] = []
    deploy = Deploy(DeployParameters(records_dir=str(tmp_path)).resolved(), writer=lines.append)
    assert deploy.step1_ssh_key().status == "done"
    assert deploy.step2_connect().facts["hostname"] == "texasca2"
    started = deploy.step3_start_admin()
    assert started.status == "done" and "was exited" in started.summary
    assert deploy.step3_start_admin().status == "no-op", "a repeated step is a recorded no-op"
    assert deploy.step4_pull().status == "no-op"
    assert deploy.step5_build().status == "skipped"
    summary = deploy.step8_exit()
    assert summary["outcome"] == "nothing-new"
    assert any(line.startswith("Step 3 · Start the admin client") for line in lines)
    assert not deploy.runner.connected
    with pytest.raises(DeployFailed, match="already finished"):
        deploy.step6_commit_image()


def test_a_missing_admin_container_is_a_clear_error(deployable, tmp_path):
    deploy = Deploy(DeployParameters(admin_container="hermes-nonexistent", records_dir=str(tmp_path)).resolved(),
                    writer=lambda line: None)
    deploy.step1_ssh_key()
    deploy.step2_connect()
    with pytest.raises(DeployFailed, match="container hermes-nonexistent: missing") as failed:
        deploy.step3_start_admin()
    assert "preflight" in str(failed.value) and "nothing was changed" in str(failed.value)
    assert deploy.journal.data["outcome"] == "failed"
    assert deploy.journal.path.exists()
