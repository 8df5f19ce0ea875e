"""Reliability drills (issue 9): a deploy must never say "done" while production runs something else.

One test (or a few parametrised ones) per point of the issue. Each drill provokes the fault on the sandbox,
asserts what the fix must do, and ends with the same four checks (`checks.assert_four_checks`): what serves is
what the record says, the lock is free, the record's outcome is true, the host log has the run's line. A run
refused before any host contact ends with `checks.assert_refused_before_host` instead.
"""

from __future__ import annotations

import json
import os
import resource
import secrets as random_tokens
import shutil
import signal
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from hermes_ops.runbook.hostlog import lock_status
from tests.drills import checks
from tests.drills.checks import (
    app_image, assert_four_checks, assert_refused_before_host, build_processes, checkout_head, deploy,
    deploy_arguments, finish, host_log_entries, host_log_entry, host_log_length, host_log_lines, image_commit_label,
    image_id, origin_head, push_commit, push_slow_commit, record_of_run, record_printed_by, run_cli, served,
    serving_healthy, signal_group, start_deploy, text_of, wait_for_build_process, wait_for_journal, wait_for_step,
)

pytestmark = pytest.mark.sandbox


@pytest.fixture
def ready(sandbox_host, sandbox, tmp_path_factory):
    """Like `deployable`: the sandbox serving origin's head, healthy, no drill build left running in the admin
    container. Catches up through the CLI with the sandbox's own params file (any sandbox, any ports)."""
    checks.stop_drill_builds(sandbox_host)
    head = origin_head(sandbox_host)
    version, healthy = served(sandbox)
    if not healthy:  # a drill left the app crash-looping: restore `previous` by hand, as an operator would
        checks.docker(sandbox_host, "tag", f"{sandbox.image.rsplit(':', 1)[0]}:previous", sandbox.image)
        checks.docker(sandbox_host, "rm", "--force", sandbox_host.config.app_container, check=False)
        version, healthy = checks.wait_until_serving_healthy(sandbox, 60), True
    if healthy and version == head and checkout_head(sandbox_host) == head:
        return sandbox_host
    new_head = push_commit(sandbox_host, "Drill catch-up")
    cli, _ = deploy(sandbox, tmp_path_factory.mktemp("catch-up"), "reason", "drill catch-up", "lock_wait", "300")
    if cli.returncode != 0 or checks.wait_until_serving_healthy(sandbox) != new_head:
        raise RuntimeError(f"the sandbox could not be brought up to date:\n{cli.stdout[-4000:]}\n{cli.stderr[-2000:]}")
    return sandbox_host


def wait_for_lock_free(sandbox, timeout: float = 30) -> None:
    """A killed deploy's kernel goes when it notices its parent is gone; its lock goes with its connection."""
    deadline = time.monotonic() + timeout
    while lock_status(sandbox.params_file) != "free":
        assert time.monotonic() < deadline, f"the killed deploy's lock was not freed within {timeout}s"
        time.sleep(0.5)
    time.sleep(1)


def wait_for_writer_gone(records: Path, run_id: str, timeout: float = 20) -> None:
    """Until the killed run's journal writer (the papermill kernel, if the journal names its pid) has left the
    process table: a killed kernel lingers a moment, first noticing its parent is gone, then as a zombie."""
    pid = record_of_run(records, run_id)[1].get("pid")
    deadline = time.monotonic() + timeout
    while isinstance(pid, int) and Path(f"/proc/{pid}").exists():
        assert time.monotonic() < deadline, f"the killed run's process {pid} is still there after {timeout}s"
        time.sleep(0.2)


def assert_earlier_run_truthful(sandbox, record: dict, outcome: str, serving_then: str) -> None:
    """For a run that ended before the drill's last one: its outcome, its failure text, what served when it
    ended, and its host log line."""
    assert record.get("outcome") == outcome, f"the run {record.get('run_id')} is recorded as {record.get('outcome')!r}"
    if outcome in checks.OUTCOMES_WITH_FAILURE:
        assert isinstance(record.get("failure"), str) and record["failure"].strip(), "no failure text"
    after = record.get("serving_after")
    assert isinstance(after, dict), f"the record has no serving_after (keys: {sorted(record)})"
    assert after.get("commit") == serving_then and after.get("healthy") is True, after
    entry = host_log_entry(sandbox, record["run_id"])
    assert entry.get("outcome") == outcome, entry["_line"]


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(path.relative_to(directory)): path.read_bytes()
            for path in sorted(Path(directory).rglob("*")) if path.is_file()}


# -- point 1: "deployed" is what serves, not what the checkout holds ---------------------------------------------------
def test_point1_a_run_interrupted_after_the_pull_is_deployed_by_the_next_plain_run(ready, sandbox, tmp_path):
    good = serving_healthy(sandbox)
    commit, marker = push_slow_commit(ready, "point 1: interrupted after the pull", 8)
    process = start_deploy(sandbox, tmp_path)
    run_id = wait_for_step(tmp_path, "build")["run_id"]
    wait_for_build_process(ready, marker)
    signal_group(process, signal.SIGINT)
    finish(process)
    _, interrupted = record_of_run(tmp_path, run_id)
    assert interrupted["outcome"] == "interrupted" and interrupted["failed_step"] == "5 Build"
    assert checkout_head(ready) == commit and serving_healthy(sandbox) == good, \
        "precondition: the checkout is ahead of what serves"

    cli, record = deploy(sandbox, tmp_path)
    assert record is not None, cli.stderr[-3000:]
    assert record["outcome"] != "nothing-new", \
        f"the next plain deploy says nothing-new while {good[:12]} serves and origin is at {commit[:12]}"
    assert cli.returncode == 0 and record["outcome"] == "success", record.get("failure")
    assert serving_healthy(sandbox) == commit
    assert_four_checks(sandbox, record, "success", host=ready)
    assert_earlier_run_truthful(sandbox, interrupted, "interrupted", good)


def test_point1_after_a_killed_replace_with_a_bad_image_the_next_run_does_not_claim_success(ready, sandbox, tmp_path):
    good = serving_healthy(sandbox)
    good_image = app_image(ready)
    bad = ready.commit("point 1: crashes on start, killed during step 7", fault="crash-on-start")
    process = start_deploy(sandbox, tmp_path, "replace_timeout", "60")
    wait_for_step(tmp_path, "replace_app")
    deadline = time.monotonic() + 60
    while True:  # until the supervisor has started the app from the new (bad) image
        latest = image_id(ready, sandbox.image)
        if latest != good_image and app_image(ready) == latest:
            break
        assert time.monotonic() < deadline, "step 7 never started the new image"
        time.sleep(0.2)
    signal_group(process, signal.SIGKILL)
    process.communicate(timeout=60)
    wait_for_lock_free(sandbox)
    assert image_commit_label(ready, image_id(ready, sandbox.image)) == bad, "precondition: latest is the bad image"
    assert checkout_head(ready) == origin_head(ready) == bad

    cli, record = deploy(sandbox, tmp_path, "replace_timeout", "15")
    assert record is not None, cli.stderr[-3000:]
    assert record["outcome"] not in ("success", "nothing-new"), \
        f"the next plain deploy says {record['outcome']} (exit {cli.returncode}) while the app crash-loops " \
        f"on {bad[:12]}"
    assert cli.returncode != 0
    version, healthy = served(sandbox)
    assert healthy and version == good, \
        f"the next deploy ended {record['outcome']} ({(record.get('failure') or '').splitlines()[:1]}) and left " \
        f"the app {'serving ' + version[:12] if healthy else 'crash-looping'}, not the good {good[:12]}"
    assert_four_checks(sandbox, record, ("rolled-back", "failed"), host=ready)


# -- point 2: breaking the lock stops its holder -----------------------------------------------------------------------
def test_point2_a_broken_lock_stops_its_holder_before_it_changes_anything_more(ready, sandbox, tmp_path):
    good = serving_healthy(sandbox)
    _first, marker = push_slow_commit(ready, "point 2: the first deploy (slow build)", 25)
    records_a, records_b = tmp_path / "a", tmp_path / "b"
    first = start_deploy(sandbox, records_a, "operator", "alice")
    run_a = wait_for_step(records_a, "build")["run_id"]
    wait_for_build_process(ready, marker)
    second_commit = push_commit(ready, "point 2: the second deploy's change")
    second = start_deploy(sandbox, records_b, "operator", "bob", "lock_wait", "120")
    wait_for_journal(records_b, lambda journal: any(step.get("name") == "connect" and step.get("status") == "done"
                                                    for step in journal.get("steps", [])), "B connected")
    time.sleep(2)  # B is at its lock by now
    assert f"run={run_a}" in lock_status(sandbox.params_file), "precondition: A holds the lock"
    broken = run_cli("lock", "break", "-f", str(sandbox.params_file))
    assert broken.returncode == 0 and "lock broken" in broken.stdout, text_of(broken)

    out_b, err_b = finish(second, 240)
    out_a, err_a = finish(first, 240)
    record_a = record_printed_by(out_a) or record_of_run(records_a, run_a)[1]
    record_b = record_printed_by(out_b)
    assert record_b is not None, err_b[-3000:]
    assert record_a["outcome"] == "failed" and record_a.get("lock_lost") is True, \
        f"A lost its lock but ended {record_a['outcome']!r} (lock_lost={record_a.get('lock_lost')!r})"
    assert "lost the deploy lock" in (record_a.get("failure") or "")
    assert first.returncode != 0
    assert second.returncode == 0 and record_b["outcome"] == "success", record_b.get("failure")

    now = serving_healthy(sandbox)
    label = image_commit_label(ready, app_image(ready))
    assert (now, label, checkout_head(ready)) == (second_commit,) * 3, \
        f"/version {now[:12]}, image label {label and label[:12]}, checkout {checkout_head(ready)[:12]}: " \
        f"expected B's {second_commit[:12]} everywhere"
    assert_four_checks(sandbox, record_b, "success", host=ready)
    # A's record is truthful too: what served when A ended (B's commit if A ended after B)
    served_when_a_ended = second_commit if record_a["ended_at"] >= record_b["ended_at"] else None
    after_a = record_a.get("serving_after") or {}
    assert after_a.get("commit") in ((served_when_a_ended,) if served_when_a_ended else (good, second_commit)), after_a
    assert host_log_entry(sandbox, run_a).get("outcome") == "failed"


# -- point 3: a chosen run id destroys nothing -------------------------------------------------------------------------
EXISTING_STEM = "20260101T000000Z_texasca2_0123456789ab_success"


@pytest.mark.parametrize("given_by", ["-p", "params file"])
def test_point3_a_chosen_run_id_is_refused_and_an_existing_record_survives(ready, sandbox, tmp_path, given_by):
    good = serving_healthy(sandbox)
    records = tmp_path / "records"
    records.mkdir()
    (records / f"{EXISTING_STEM}.json").write_text(json.dumps(
        {"run_id": "20260101T000000Z-0a1b2c", "outcome": "success", "started_at": "2026-01-01T00:00:00+00:00"}))
    (records / f"{EXISTING_STEM}.ipynb").write_text("{}")
    (records / f"{EXISTING_STEM}.html").write_text("<html>an earlier deploy's record</html>")
    before = snapshot(records)
    log_before = host_log_length(sandbox)
    if given_by == "-p":
        cli = run_cli(*deploy_arguments(sandbox.params_file, records, "run_id", EXISTING_STEM))
    else:
        params = tmp_path / "params.yaml"
        params.write_text(Path(sandbox.params_file).read_text() + f"run_id: {EXISTING_STEM}\n")
        cli = run_cli(*deploy_arguments(params, records))
    assert snapshot(records) == before, \
        f"the records dir changed: {sorted(before)} -> {sorted(snapshot(records))} (exit {cli.returncode})"
    assert "run_id" in text_of(cli), f"the refusal names the parameter:\n{cli.stderr[-2000:]}"
    assert_refused_before_host(sandbox, cli, serving_before=good, log_length_before=log_before)


def test_point3_run_id_daemon_through_a_symlinked_records_dir_deletes_nothing(ready, sandbox, tmp_path):
    good = serving_healthy(sandbox)
    system_dir = tmp_path / "etc-docker"
    system_dir.mkdir()
    (system_dir / "daemon.json").write_text('{"data-root": "/var/lib/docker"}\n')
    (system_dir / "daemon").write_text("a system file\n")
    link = tmp_path / "records"
    link.symlink_to(system_dir, target_is_directory=True)
    before = snapshot(system_dir)
    log_before = host_log_length(sandbox)
    cli = run_cli(*deploy_arguments(sandbox.params_file, link, "run_id", "daemon"))
    assert snapshot(system_dir) == before, \
        f"files in the link's target changed: {sorted(before)} -> {sorted(snapshot(system_dir))}"
    assert link.is_symlink() and link.resolve() == system_dir.resolve()
    assert_refused_before_host(sandbox, cli, serving_before=good, log_length_before=log_before)


# -- point 4: a tiny parameters file cannot exhaust memory; duplicate keys are refused ---------------------------------
ALIAS_BOMB_LEVELS = "abcdefghi"


def alias_bomb_block() -> str:
    """About 800 bytes of YAML that expand to 9**9 strings, nested in `reason`."""
    lines = ["reason:", "  - &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for previous, name in zip(ALIAS_BOMB_LEVELS, ALIAS_BOMB_LEVELS[1:]):
        lines.append(f"  - &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def alias_bomb_flow() -> str:
    items = ["&a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for previous, name in zip(ALIAS_BOMB_LEVELS, ALIAS_BOMB_LEVELS[1:]):
        items.append(f"&{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "[" + ", ".join(items) + "]"


def limit_memory() -> None:
    """The refused CLI runs with 2 GiB of address space: a bomb that goes off fails, it does not swap the box."""
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def run_bounded(*args: str, timeout: float = 20) -> tuple[subprocess.CompletedProcess | None, float]:
    started = time.monotonic()
    try:
        cli = run_cli(*args, timeout=timeout, preexec_fn=limit_memory)
    except subprocess.TimeoutExpired:
        return None, time.monotonic() - started
    return cli, time.monotonic() - started


@pytest.mark.parametrize("given_by", ["params file", "-p"])
def test_point4_a_yaml_alias_bomb_in_reason_is_refused_fast(ready, sandbox, tmp_path, given_by):
    good = serving_healthy(sandbox)
    log_before = host_log_length(sandbox)
    if given_by == "params file":
        params = tmp_path / "params.yaml"
        params.write_text(Path(sandbox.params_file).read_text() + alias_bomb_block())
        assert params.stat().st_size < 1500
        cli, seconds = run_bounded(*deploy_arguments(params, tmp_path / "records"))
    else:
        cli, seconds = run_bounded(*deploy_arguments(sandbox.params_file, tmp_path / "records",
                                                     "reason", alias_bomb_flow()))
    assert cli is not None, f"not refused within {seconds:.0f}s (the bomb went off)"
    assert "MemoryError" not in text_of(cli), f"the bomb went off:\n{cli.stderr[-1500:]}"
    assert seconds < 15, f"took {seconds:.1f}s"
    assert "reason" in cli.stderr, f"the refusal names the parameter:\n{cli.stderr[-1500:]}"
    assert_refused_before_host(sandbox, cli, serving_before=good, log_length_before=log_before,
                               records=(tmp_path / "records",))


def test_point4_duplicate_keys_in_a_parameters_file_are_refused(ready, sandbox, tmp_path):
    good = serving_healthy(sandbox)
    log_before = host_log_length(sandbox)
    token = random_tokens.token_hex(4)
    params = tmp_path / "params.yaml"
    params.write_text(Path(sandbox.params_file).read_text() + f"reason: first-{token}\nreason: second-{token}\n")
    cli, seconds = run_bounded(*deploy_arguments(params, tmp_path / "records"), timeout=120)
    assert cli is not None and cli.returncode != 0, "a parameters file with a duplicate key was accepted"
    assert seconds < 15, f"took {seconds:.1f}s"
    assert "reason" in cli.stderr, f"the refusal names the key:\n{cli.stderr[-1500:]}"
    assert not any(token in line for line in host_log_lines(sandbox))
    assert_refused_before_host(sandbox, cli, serving_before=good, log_length_before=log_before,
                               records=(tmp_path / "records",))


# -- point 5: every attempt ends with a truthful outcome somewhere -----------------------------------------------------
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_point5_sigterm_and_sighup_during_the_build_end_as_interrupted(ready, sandbox, tmp_path, signum):
    name = signal.Signals(signum).name
    good = serving_healthy(sandbox)
    _, marker = push_slow_commit(ready, f"point 5: {name} during the build", 10)
    process = start_deploy(sandbox, tmp_path)
    run_id = wait_for_step(tmp_path, "build")["run_id"]
    wait_for_build_process(ready, marker)
    signal_group(process, signum)
    finish(process, 120)
    assert process.returncode == 130, "interrupted"
    _, record = record_of_run(tmp_path, run_id)
    assert record["outcome"] == "interrupted", f"after {name} the record says {record['outcome']!r}"
    assert record.get("interrupted_by") == name and record.get("failed_step") == "5 Build", \
        (record.get("interrupted_by"), record.get("failed_step"))
    assert serving_healthy(sandbox) == good
    assert_four_checks(sandbox, record, "interrupted", host=ready)


def sigkill_deploy_during_its_build(ready, sandbox, records: Path, marker: str) -> str:
    """Start a deploy, SIGKILL its process group once its build runs, wait until its lock is gone; its run id."""
    process = start_deploy(sandbox, records)
    run_id = wait_for_step(records, "build")["run_id"]
    wait_for_build_process(ready, marker)
    signal_group(process, signal.SIGKILL)
    process.communicate(timeout=60)
    wait_for_lock_free(sandbox)
    return run_id


@pytest.mark.parametrize("found_by", ["records listing", "next deploy"])
def test_point5_a_sigkilled_run_is_found_abandoned(ready, sandbox, tmp_path, found_by):
    commit, marker = push_slow_commit(ready, f"point 5: SIGKILL, found by the {found_by}", 8)
    run_id = sigkill_deploy_during_its_build(ready, sandbox, tmp_path, marker)
    wait_for_writer_gone(tmp_path, run_id)

    def listed_abandoned() -> bool:
        listing = run_cli("records", "--records-dir", str(tmp_path))
        assert listing.returncode == 0, text_of(listing)
        return any("abandoned" in line.split() for line in listing.stdout.splitlines()[1:])

    if found_by == "records listing":
        assert listed_abandoned(), "`hermes-ops records` does not list the killed run as abandoned"
        _, killed = record_of_run(tmp_path, run_id)
        assert killed["outcome"] == "abandoned" and killed.get("failure"), killed.get("outcome")
    cli, record = deploy(sandbox, tmp_path)
    assert record is not None, cli.stderr[-3000:]
    if found_by == "next deploy":
        assert run_id in (record.get("abandoned_runs") or []), \
            f"the next deploy did not report run {run_id} abandoned: {record.get('abandoned_runs')!r}"
        assert listed_abandoned()
    _, killed = record_of_run(tmp_path, run_id)
    assert killed["outcome"] == "abandoned" and killed.get("failure"), killed.get("outcome")
    entry = host_log_entry(sandbox, run_id, exactly_one=False)
    assert entry.get("outcome") == "abandoned", entry["_line"]
    assert cli.returncode == 0 and record["outcome"] == "success", record.get("failure")
    assert serving_healthy(sandbox) == commit
    assert_four_checks(sandbox, record, "success", host=ready)


def fill(directory: Path) -> None:
    """Write zeros until the file system says it is full."""
    descriptor = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(descriptor, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def test_point5_a_full_records_disk_is_a_clear_error_and_the_host_log_still_gets_the_line(ready, sandbox, tmp_path):
    good = serving_healthy(sandbox)
    commit = ready.commit("point 5: deployed with a full local records disk")
    reason = f"point5-full-records-disk-{random_tokens.token_hex(4)}"
    records = tmp_path / "full-disk"
    records.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(records)], check=True)
    try:
        fill(records)
        cli = run_cli(*deploy_arguments(sandbox.params_file, records, "reason", reason))
    finally:
        subprocess.run(["umount", "--lazy", str(records)], check=False)
    text = text_of(cli)
    assert "Traceback (most recent call last)" not in text, f"the run crashed:\n{cli.stderr[-3000:]}"
    assert cli.returncode > 0, f"exit {cli.returncode}: a run that could not keep its record must not exit 0"
    assert "no space" in text.lower() or str(records) in text, f"no clear error:\n{cli.stderr[-2000:]}"
    entries = [checks.parse_log_line(line) for line in host_log_lines(sandbox) if reason in line]
    assert len(entries) == 1, f"the host log has {len(entries)} lines for the run (exit {cli.returncode}):\n" \
        f"{cli.stderr[-1500:]}"
    entry = entries[0]
    now = serving_healthy(sandbox)
    assert now in (good, commit), f"{now[:12]} serves: neither the known good version nor the new commit"
    assert entry.get("outcome") in (("success",) if now == commit else ("failed", "interrupted", "rolled-back")), \
        f"{now[:12]} serves, the host log says {entry.get('outcome')!r}"
    assert lock_status(sandbox.params_file) == "free"


# -- point 6: a killed deploy's build is stopped by the next deploy ----------------------------------------------------
def test_point6_the_next_deploy_stops_a_killed_deploys_build(ready, sandbox, tmp_path):
    _, marker = push_slow_commit(ready, "point 6: a slow build whose deploy is killed", 45)
    run_id = sigkill_deploy_during_its_build(ready, sandbox, tmp_path, marker)
    assert build_processes(ready, marker), "precondition: the killed deploy's build still runs in the container"
    newer = ready.commit("point 6: the next change")

    cli, record = deploy(sandbox, tmp_path)
    assert record is not None, cli.stderr[-3000:]
    stopped = record.get("stopped_builds")
    assert stopped, f"the next deploy did not report stopping run {run_id}'s build: stopped_builds={stopped!r}"
    assert any(entry.get("run_id") == run_id and entry.get("pids")
               and all(isinstance(pid, int) for pid in entry["pids"]) for entry in stopped), stopped
    assert not build_processes(ready, marker), "the killed deploy's build still runs"
    assert cli.returncode == 0 and record["outcome"] == "success", record.get("failure")
    assert serving_healthy(sandbox) == newer
    assert_four_checks(sandbox, record, "success", host=ready)


# -- point 7: the smaller ones -----------------------------------------------------------------------------------------
def files_containing(directory: Path, needle: str) -> list[str]:
    return [str(path) for path in Path(directory).rglob("*")
            if path.is_file() and needle.encode() in path.read_bytes()]


@pytest.mark.parametrize("field", ["reason", "operator"])
def test_point7_a_parameter_equal_to_the_key_passphrase_is_refused_without_echoing_it(
        ready, sandbox, tmp_path, encrypted_key, field):
    key, passphrase, env = encrypted_key
    good = serving_healthy(sandbox)
    log_before = host_log_length(sandbox)
    records = tmp_path / "records"
    cli = run_cli(*deploy_arguments(sandbox.params_file, records, "key_path", str(key), field, passphrase), env=env)
    assert passphrase not in text_of(cli), f"the passphrase was echoed (exit {cli.returncode})"
    assert not (records.exists() and files_containing(records, passphrase)), "the passphrase is in the records"
    assert not any(passphrase in line for line in host_log_lines(sandbox)), "the passphrase is in the host log"
    assert_refused_before_host(sandbox, cli, serving_before=good, log_length_before=log_before, records=(records,))


def test_point7_the_loaded_passphrase_is_masked_in_remote_output(ready, sandbox, tmp_path, encrypted_key):
    key, passphrase, env = encrypted_key
    commit = ready.commit(f"point 7: a commit message that quotes {passphrase}")
    records = tmp_path / "records"
    cli, record = deploy(sandbox, records, "key_path", str(key), env=env)
    assert passphrase not in text_of(cli), "the passphrase reached the terminal from remote output"
    assert not files_containing(records, passphrase), "the passphrase is in the records"
    assert cli.returncode == 0 and record["outcome"] == "success", record and record.get("failure")
    assert serving_healthy(sandbox) == commit
    assert_four_checks(sandbox, record, "success", host=ready)


@pytest.mark.parametrize("loose", ["file", "directory"])
def test_point7_a_known_hosts_others_can_write_is_refused(ready, sandbox, tmp_path, loose):
    good = serving_healthy(sandbox)
    log_before = host_log_length(sandbox)
    directory = tmp_path / "pinned"
    directory.mkdir(mode=0o700)
    known = directory / "known_hosts"
    shutil.copyfile(sandbox.known_hosts, known)
    if loose == "file":
        known.chmod(0o664)
    else:
        known.chmod(0o644)
        directory.chmod(0o777)
    records = tmp_path / "records"
    cli, record = deploy(sandbox, records, "known_hosts", str(known))
    text = text_of(cli) + "\n" + ((record or {}).get("failure") or "")
    assert cli.returncode != 0, \
        f"a known_hosts {loose} writable by others was accepted ({(record or {}).get('outcome')})"
    assert str(known) in text or str(directory) in text, f"the refusal does not name the {loose}:\n{text[-2000:]}"
    if record is not None:
        assert record["outcome"] == "failed" and (record.get("failed_step") or "").startswith(("2 Connect", "param")), \
            (record["outcome"], record.get("failed_step"))
        assert not host_log_entries(sandbox, record["run_id"]), "refused before connecting, yet logged on the host"
    assert_refused_before_host(sandbox, cli, serving_before=good, log_length_before=log_before)


def test_point7_an_operator_name_cannot_fake_host_log_fields(ready, sandbox, tmp_path):
    operator = "eve outcome=success run=FAKE"
    cli, record = deploy(sandbox, tmp_path, "operator", operator)
    assert record is not None, cli.stderr[-3000:]
    assert cli.returncode == 0 and record["outcome"] == "nothing-new", record.get("failure")
    entry = host_log_entry(sandbox, record["run_id"])
    assert (entry.get("run"), entry.get("outcome"), entry["_duplicates"]) == (record["run_id"], "nothing-new", []), \
        f"the operator name faked fields in the host log line: {entry['_line']}"
    assert entry.get("operator") == operator, entry["_line"]
    assert_four_checks(sandbox, record, "nothing-new", host=ready)


ESCAPES = "\x1b]0;pwned\x07\x1b[2J"


def test_point7_terminal_escapes_from_commits_and_builds_are_neutralised(ready, sandbox, tmp_path):
    commit = push_commit(ready, f"point 7: {ESCAPES}a commit message with terminal escapes", recipe=(
        r"@printf '\033]0;pwned-by-the-build\007\033[2J\033[31mbuild line in red\033[0m\n'",
        r"@printf '\033[1mbuild stderr in bold\033[0m\a\n' >&2",
    ))
    cli, record = deploy(sandbox, tmp_path)
    assert record is not None, cli.stderr[-3000:]
    for stream, text in (("stdout", cli.stdout), ("stderr", cli.stderr)):
        raw = [line for line in text.splitlines() if "\x1b" in line or "\x07" in line]
        assert not raw, f"raw terminal escapes on the CLI's {stream}: {raw[:3]!r}"
    outputs = [command.get(stream) or "" for step in record["steps"] for command in step.get("commands", [])
               for stream in ("stdout", "stderr")]
    raw = [value for value in outputs if "\x1b" in value or "\x07" in value]
    assert not raw, f"raw terminal escapes in the record's command output: {raw[:3]!r}"
    notebook = Path(cli.stdout.strip().splitlines()[-1])
    outputs = json.dumps([cell.get("outputs", []) for cell in nbformat.read(notebook, as_version=4).cells])
    assert "\\u001b" not in outputs and "\\u0007" not in outputs, "raw terminal escapes in the record notebook"
    assert cli.returncode == 0 and record["outcome"] == "success", record.get("failure")
    assert serving_healthy(sandbox) == commit
    assert_four_checks(sandbox, record, "success", host=ready)


def test_point7_a_symlinked_records_dir_is_refused(ready, sandbox, tmp_path):
    good = serving_healthy(sandbox)
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / "records"
    link.symlink_to(target, target_is_directory=True)
    log_before = host_log_length(sandbox)
    cli = run_cli(*deploy_arguments(sandbox.params_file, link))
    assert not list(target.iterdir()), f"the run wrote through the symlink: {sorted(p.name for p in target.iterdir())}"
    assert "symlink" in cli.stderr.lower() or "symbolic link" in cli.stderr.lower(), \
        f"no clear error about the symlink (exit {cli.returncode}):\n{cli.stderr[-1500:]}"
    assert_refused_before_host(sandbox, cli, serving_before=good, log_length_before=log_before)


@pytest.mark.parametrize("which", ["unknown", "finished"])
def test_point7_resume_of_an_unknown_or_finished_run_says_why(ready, sandbox, tmp_path, which):
    good = serving_healthy(sandbox)
    if which == "finished":
        _, finished = deploy(sandbox, tmp_path)
        assert finished["outcome"] == "nothing-new"
        run_id = finished["run_id"]
    else:
        run_id = "20250101T000000Z-0badc0"
    cli, record = deploy(sandbox, tmp_path, extra=("--resume", run_id))
    assert cli.returncode != 0
    if record is not None:
        assert record["outcome"] == "failed" and isinstance(record.get("failure"), str) \
            and run_id in record["failure"], f"resume of the {which} run {run_id}: failure {record.get('failure')!r}"
        entries = host_log_entries(sandbox, record["run_id"])
        assert all(entry.get("outcome") == "failed" for entry in entries), [entry["_line"] for entry in entries]
    else:
        assert run_id in cli.stderr, f"the parameters error names the run id:\n{cli.stderr[-1500:]}"
    assert "Traceback (most recent call last)" not in text_of(cli)
    assert serving_healthy(sandbox) == good
    assert lock_status(sandbox.params_file) == "free"


def test_point7_a_rewritten_origin_is_refused_with_gits_reason(ready, sandbox, tmp_path):
    good = serving_healthy(sandbox)
    work, branch = ready.state_dir / "work", ready.config.branch
    git = lambda *args: checks._git(*args, cwd=work)  # noqa: E731
    git("pull", "--quiet", "--ff-only", "origin", branch)
    assert git("rev-parse", "HEAD") == good
    try:
        git("reset", "--quiet", "--hard", "HEAD~1")
        (work / "src" / "greeting.txt").write_text(f"Hello from a rewritten history ({random_tokens.token_hex(4)})\n")
        git("commit", "--quiet", "--all", "--message", "point 7: history rewritten on origin")
        git("push", "--quiet", "--force", "origin", f"HEAD:refs/heads/{branch}")
        cli, record = deploy(sandbox, tmp_path)
        assert record is not None, cli.stderr[-3000:]
        assert cli.returncode != 0 and record["outcome"] == "failed" and record["failed_step"] == "4 Pull", \
            (record["outcome"], record["failed_step"])
        text = text_of(cli)
        assert "Not possible to fast-forward" in text or "fatal:" in text, \
            f"the terminal does not show git's reason:\n{text[-2500:]}"
        assert checkout_head(ready) == good
        assert_four_checks(sandbox, record, "failed", host=ready)
    finally:  # origin back where the checkout is, so later drills deploy normally
        git("push", "--quiet", "--force", "origin", f"{good}:refs/heads/{branch}")
        git("reset", "--quiet", "--hard", good)
