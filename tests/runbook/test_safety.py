"""The safety net's own controls on the sandbox: the lock, the rollback runbook, image retention."""

from __future__ import annotations

import threading
import time

import pytest

from hermes_ops.runbook.hostlog import lock_status, read_host_log
from hermes_ops.runbook.audit import parse_audit_line
from hermes_ops.runbook.lock import DeployLock
from hermes_ops.params import DeployParameters
from hermes_ops.sandbox.host import http_get
from hermes_ops.ssh import connect
from tests.runbook.conftest import droplet_docker, hermes_ops_cli, record_of

pytestmark = pytest.mark.sandbox


def held_lock(sandbox, holder: str = "run=test operator=tester"):
    session = connect(DeployParameters(port=sandbox.port, key_path=sandbox.key_path,
                                       known_hosts=sandbox.known_hosts).resolved().ssh_target())
    runner = session.__enter__()
    lock = DeployLock(runner, host=sandbox.host)
    lock.acquire(holder)
    return session, lock


def test_a_held_lock_refuses_a_deploy_then_break_frees_it(deployable, sandbox, tmp_path):
    deployable.commit("lock test: pending")
    session, lock = held_lock(sandbox, "run=stuck-run operator=somebody")
    try:
        assert "held by run=stuck-run operator=somebody" in lock_status(sandbox.params_file)
        cli = hermes_ops_cli("deploy", "-f", str(sandbox.params_file), "--records-dir", str(tmp_path))
        assert cli.returncode == 3, "refused by the lock"
        _, record = record_of(cli)
        assert record["failed_step"] == "preflight" and "run=stuck-run" in record["failure"]
        broken = hermes_ops_cli("lock", "break", "-f", str(sandbox.params_file))
        assert broken.returncode == 0 and "lock broken: run=stuck-run" in broken.stdout
        assert lock_status(sandbox.params_file) == "free"
        lines = [parse_audit_line(line) for line in read_host_log(sandbox.params_file).splitlines()]
        assert any(line.get("kind") == "lock-broken" and line.get("holder", "").startswith("run=stuck-run ")
                   for line in lines)
    finally:
        lock.release()
        session.__exit__(None, None, None)


def test_lock_wait_takes_the_lock_once_the_holder_lets_go(deployable, sandbox, tmp_path):
    new_commit = deployable.commit("lock test: wait for it")
    session, lock = held_lock(sandbox)
    threading.Timer(5, lambda: (lock.release(), session.__exit__(None, None, None))).start()
    cli = hermes_ops_cli("deploy", "-f", str(sandbox.params_file), "-p", "lock_wait", "60",
                         "--records-dir", str(tmp_path))
    assert cli.returncode == 0, cli.stdout[-2000:]
    assert http_get(sandbox.version_url)[1].strip() == new_commit


def test_a_lost_session_frees_the_lock(sandbox):
    session, lock = held_lock(sandbox)
    assert lock_status(sandbox.params_file).startswith("held")
    session.__exit__(None, None, None)  # the connection goes away without releasing
    deadline = time.monotonic() + 15
    while lock_status(sandbox.params_file) != "free" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert lock_status(sandbox.params_file) == "free"


def test_rollback_runbook_restores_previous_then_a_named_image(deployable, sandbox, tmp_path):
    first = deployable.commit("rollback test: first")
    assert hermes_ops_cli("deploy", "-f", str(sandbox.params_file), "--records-dir", str(tmp_path)).returncode == 0
    second = deployable.commit("rollback test: second")
    assert hermes_ops_cli("deploy", "-f", str(sandbox.params_file), "--records-dir", str(tmp_path)).returncode == 0
    assert http_get(sandbox.version_url)[1].strip() == second

    cli = hermes_ops_cli("rollback", "-f", str(sandbox.params_file), "--records-dir", str(tmp_path))
    assert cli.returncode == 0, cli.stdout[-2000:]
    notebook, record = record_of(cli)
    assert record["kind"] == "rollback" and record["outcome"] == "rolled-back"
    assert notebook.name.endswith("_rolled-back.ipynb")
    assert http_get(sandbox.version_url)[1].strip() == first

    cli = hermes_ops_cli("rollback", "-f", str(sandbox.params_file), "--to", f"hermes/admin:{second[:12]}",
                         "--records-dir", str(tmp_path))
    assert cli.returncode == 0, cli.stdout[-2000:]
    assert http_get(sandbox.version_url)[1].strip() == second

    missing = hermes_ops_cli("rollback", "-f", str(sandbox.params_file), "--to", "hermes/admin:000000000000",
                             "--records-dir", str(tmp_path))
    assert missing.returncode == 1 and "there is no image hermes/admin:000000000000" in record_of(missing)[1]["failure"]
    assert http_get(sandbox.version_url)[1].strip() == second


def test_only_the_newest_deploy_images_are_kept(deployable, sandbox, tmp_path):
    for number in range(3):
        deployable.commit(f"retention test {number}")
        cli = hermes_ops_cli("deploy", "-f", str(sandbox.params_file), "-p", "keep_images", "2",
                             "--records-dir", str(tmp_path))
        assert cli.returncode == 0, cli.stdout[-2000:]
    tags = droplet_docker(deployable, "images", "--format", "{{.Tag}}", "hermes/admin").split()
    commit_tags = [tag for tag in tags if len(tag) == 12 and tag not in ("latest", "previous")]
    assert len(commit_tags) <= 3, tags  # the 2 newest, plus one that `previous` still points at
    assert "latest" in tags and "previous" in tags
