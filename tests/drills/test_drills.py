"""Fault drills on the sandbox: each ends with a good version serving, the lock free, and a truthful record."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from hermes_ops.runbook.hostlog import lock_status
from hermes_ops.sandbox.host import http_get
from tests.runbook.conftest import droplet_docker, hermes_ops_cli, host_facts, record_of

pytestmark = pytest.mark.sandbox


def serving(sandbox) -> str:
    status, body = http_get(sandbox.version_url)
    assert status == 200 and http_get(sandbox.health_url)[0] == 200, "the app is not serving"
    return body.strip()


def deploy_cli(sandbox, records: Path, *parameters: str, extra: tuple[str, ...] = ()):
    arguments = ["deploy", "-f", str(sandbox.params_file), "--records-dir", str(records), *extra]
    for name, value in zip(parameters[::2], parameters[1::2]):
        arguments += ["-p", name, value]
    cli = hermes_ops_cli(*arguments)
    return cli, record_of(cli)[1]


def assert_safe(sandbox, good_version: str) -> None:
    """What every drill must leave behind: the known-good version serving, healthy, and the lock free."""
    assert serving(sandbox) == good_version
    assert lock_status(sandbox.params_file) == "free"


def start_deploy(sandbox, records: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "hermes_ops.cli", "deploy", "-f", str(sandbox.params_file),
                             "--records-dir", str(records), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def wait_for_step(records: Path, step_name: str, timeout: float = 120) -> dict:
    """Until some run's journal in `records` shows `step_name` running; returns that journal."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in records.glob("*.json"):
            try:
                journal = json.loads(path.read_text())
            except ValueError:
                continue
            if any(step["name"] == step_name and step["status"] == "running" for step in journal.get("steps", [])):
                return journal
        time.sleep(0.2)
    raise AssertionError(f"no run reached step {step_name} within {timeout}s")


def test_drill_1_the_build_fails(deployable, sandbox, tmp_path):
    good = serving(sandbox)
    deployable.commit("drill 1: broken build", fault="break-build")
    cli, record = deploy_cli(sandbox, tmp_path)
    assert cli.returncode == 1
    assert record["outcome"] == "failed" and record["failed_step"] == "5 Build"
    assert "SyntaxError" in record["failure"]
    assert record["lock_released"] and record["session_closed"]
    assert_safe(sandbox, good)


def test_drill_2_the_build_hangs_past_its_timeout(deployable, sandbox, tmp_path):
    good = serving(sandbox)
    deployable.commit("drill 2: hanging build", fault="hang-build")
    cli, record = deploy_cli(sandbox, tmp_path, "build_timeout", "5")
    assert cli.returncode == 1
    assert record["failed_step"] == "5 Build" and "did not finish within 5s" in record["failure"]
    leftovers = droplet_docker(deployable, "exec", deployable.config.admin_container, "sh", "-c",
                               "ps -eo args | grep -c '^sleep 3600' || true")
    assert leftovers == "0", "the hung build was stopped inside the container"
    assert_safe(sandbox, good)


@pytest.mark.parametrize(("fault", "why"), [("crash-on-start", "crash-looping"), ("unhealthy", "not healthy within")])
def test_drills_3_and_4_a_bad_image_is_rolled_back(deployable, sandbox, tmp_path, fault, why):
    good = serving(sandbox)
    good_image = host_facts(deployable)["image"]
    deployable.commit(f"drill: {fault}", fault=fault)
    cli, record = deploy_cli(sandbox, tmp_path, "replace_timeout", "15")
    assert cli.returncode == 4, "rolled back"
    assert record["outcome"] == "rolled-back" and record["failed_step"] == "7 Replace the app container"
    assert why in record["rollback"]["reason"]
    assert record["rollback"]["restored_image"] == good_image
    assert record["rollback"]["app_log_tail"], "the record keeps the failed app's last log lines"
    if fault == "crash-on-start":
        assert any("crashed on start" in line for line in record["rollback"]["app_log_tail"])
    assert host_facts(deployable)["image"] == good_image
    assert_safe(sandbox, good)


def test_drill_5_sshd_killed_during_the_build_then_resume(deployable, sandbox, tmp_path):
    good = serving(sandbox)
    new_commit = deployable.commit("drill 5: slow build", fault="slow-build")
    process = start_deploy(sandbox, tmp_path)
    journal = wait_for_step(tmp_path, "build")
    time.sleep(2)
    droplet_docker(deployable, "exec", deployable.config.droplet_container, "pkill", "-f", "sshd: core")
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 1
    record = json.loads(Path(stdout.strip().splitlines()[-1]).with_suffix(".json").read_text())
    assert record["failed_step"] == "5 Build" and "connection" in record["failure"].lower()
    assert_safe(sandbox, good)

    # The orphaned build still runs in the admin container: the resumed deploy stops it before building.
    cli, resumed = deploy_cli(sandbox, tmp_path, extra=("--resume", journal["run_id"]))
    assert cli.returncode == 0, cli.stdout[-2000:]
    statuses = {step["name"]: step["status"] for step in resumed["steps"]}
    assert statuses["start_admin"] == "resumed" and statuses["pull"] == "resumed"
    assert statuses["build"] == "done" and statuses["replace_app"] == "done"
    assert resumed["resumed_from"]["run_id"] == journal["run_id"]
    assert [stopped["run_id"] for stopped in resumed.get("stopped_builds", [])] in ([journal["run_id"]], [])
    assert_safe(sandbox, new_commit)


def test_resume_refuses_a_host_that_drifted(deployable, sandbox, tmp_path):
    good = serving(sandbox)
    deployable.commit("drill: broken build", fault="break-build")
    _, failed = deploy_cli(sandbox, tmp_path)
    assert failed["failed_step"] == "5 Build"
    droplet_docker(deployable, "exec", deployable.config.admin_container, "git", "-C", deployable.config.repo_dir,
                   "reset", "--hard", "HEAD~1")
    cli, refused = deploy_cli(sandbox, tmp_path, extra=("--resume", failed["run_id"]))
    assert cli.returncode == 1
    assert refused["failed_step"] == "2 Connect" and "has changed since run" in refused["failure"]
    assert_safe(sandbox, good)


def test_drill_6_two_deploys_at_the_same_moment(deployable, sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("HERMES_OPS_HEARTBEAT_SECONDS", "4")  # 30 s by default; the kernels inherit it
    new_commit = deployable.commit("drill 6: two operators", fault="slow-build")
    first, second = start_deploy(sandbox, tmp_path / "a"), start_deploy(sandbox, tmp_path / "b")
    outputs = [process.communicate(timeout=300) for process in (first, second)]
    codes = sorted([first.returncode, second.returncode])
    assert codes == [0, 3], outputs  # 3: refused by the lock, nothing changed
    loser = outputs[[first.returncode, second.returncode].index(3)]
    record = json.loads(Path(loser[0].strip().splitlines()[-1]).with_suffix(".json").read_text())
    assert "lock" in record["failure"] and "run=" in record["failure"], "the refusal names the holder"
    assert record["failed_step"] in ("preflight", "3 Start the admin client")
    winner = outputs[[first.returncode, second.returncode].index(0)][0]
    beats = [line for line in winner.splitlines() if "still running after" in line]
    assert beats and all(line.startswith("  … step 5 Build still running after ") for line in beats), \
        "the silent build (one line, then 20 s of nothing) shows heartbeat lines"
    assert "nothing shown for" in beats[0]
    assert_safe(sandbox, new_commit)


def test_drill_7_interrupted_during_the_build(deployable, sandbox, tmp_path):
    good = serving(sandbox)
    deployable.commit("drill 7: interrupted", fault="slow-build")
    process = start_deploy(sandbox, tmp_path)
    wait_for_step(tmp_path, "build")
    time.sleep(2)
    os.killpg(process.pid, signal.SIGINT)
    process.communicate(timeout=120)
    assert process.returncode == 130, "interrupted"
    records = [json.loads(path.read_text()) for path in tmp_path.glob("*_*_*_*.json")]
    assert len(records) == 1, "the interrupted run still has its record"
    assert records[0]["outcome"] == "interrupted"
    assert records[0]["steps"][-1]["name"] == "build"
    assert_safe(sandbox, good)


def test_drill_8_too_little_disk_space(deployable, sandbox, tmp_path):
    good = serving(sandbox)
    deployable.commit("drill 8: pending change")
    before = host_facts(deployable)
    cli, record = deploy_cli(sandbox, tmp_path, "min_free_disk_mb", "100000000")
    assert cli.returncode == 3, "refused by preflight"
    assert record["failed_step"] == "preflight" and "free disk" in record["failure"]
    assert host_facts(deployable) == before, "preflight changed nothing"
    assert_safe(sandbox, good)


def test_drill_9_the_host_key_changed(deployable, sandbox, tmp_path):
    good = serving(sandbox)
    key = deployable.state_dir / "droplet" / "ssh_host_ed25519_key"
    backup = tmp_path / "original_host_key"
    shutil.copy2(key, backup)
    shutil.copy2(f"{key}.pub", f"{backup}.pub")
    try:
        key.unlink()
        Path(f"{key}.pub").unlink()
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        droplet_docker(deployable, "exec", deployable.config.droplet_container, "kill", "-HUP", "1")
        time.sleep(1)
        cli, record = deploy_cli(sandbox, tmp_path / "records")
        assert cli.returncode == 1
        assert record["failed_step"] == "2 Connect"
        assert "changed" in record["failure"].lower() and "SHA256:" in record["failure"]
    finally:
        shutil.copy2(backup, key)
        shutil.copy2(f"{backup}.pub", f"{key}.pub")
        droplet_docker(deployable, "exec", deployable.config.droplet_container, "kill", "-HUP", "1")
        time.sleep(1)
    assert_safe(sandbox, good)


def test_drill_10_the_build_writes_20_megabytes(deployable, sandbox, tmp_path):
    new_commit = deployable.commit("drill 10: noisy build", fault="noisy-build")
    cli, record = deploy_cli(sandbox, tmp_path)
    assert cli.returncode == 0, cli.stdout[-2000:]
    build = next(step for step in record["steps"] if step["name"] == "build")
    command = next(command for command in build["commands"] if "make" in command["command"])
    assert command["stdout_bytes"] > 20_000_000 and command["truncated"]
    assert len(command["stdout"]) < 200_000, "the record keeps head and tail, not 20 MB"
    notebook = Path(cli.stdout.strip().splitlines()[-1])
    assert notebook.stat().st_size < 2_000_000
    assert "more lines not shown live" in str(nbformat.read(notebook, as_version=4).cells)
    assert_safe(sandbox, new_commit)


def test_dry_run_changes_nothing(deployable, sandbox, tmp_path):
    good = serving(sandbox)
    deployable.commit("dry run: pending change")
    before = host_facts(deployable)
    cli, record = deploy_cli(sandbox, tmp_path, extra=("--dry-run",))
    assert cli.returncode == 0, cli.stdout[-2000:]
    assert record["outcome"] == "dry-run"
    assert "would run: $ docker exec --workdir /srv/hermes hermes-admin git pull" in cli.stdout
    assert "would run: $ docker commit" in cli.stdout and "would run: $ docker rm --force hermes-app" in cli.stdout
    assert host_facts(deployable) == before
    assert_safe(sandbox, good)
