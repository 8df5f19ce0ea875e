"""The host-side wait for the app, run for real by `sh` with stand-ins for `docker` and `curl` on PATH."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hermes_ops.commands.host import wait_for_app
from hermes_ops.facts.app import AppWait, parse_wait

IMAGE = "sha256:" + "a" * 64
OLD = "sha256:" + "b" * 64


def run_wait(tmp_path: Path, states: list[str], health: list[str], timeout: float = 5) -> subprocess.CompletedProcess:
    """`docker inspect` answers `states` one per call (then the last again); `curl` answers `health` likewise."""
    for name, answers in (("docker", states), ("curl", health)):
        (tmp_path / f"{name}.answers").write_text("\n".join(answers) + "\n")
        script = tmp_path / name
        script.write_text(f"""#!/bin/sh
count=$(cat {tmp_path}/{name}.count 2>/dev/null || echo 0); echo $((count + 1)) > {tmp_path}/{name}.count
line=$(sed -n "$((count + 1))p" {tmp_path}/{name}.answers); [ -n "$line" ] || line=$(tail -n 1 {tmp_path}/{name}.answers)
[ "$line" = missing ] && exit 1
printf '%s' "$line"
""")
        script.chmod(0o755)
    argv = wait_for_app("hermes-app", IMAGE, "http://127.0.0.1:8088/health; echo pwned", timeout, 0.01)
    return subprocess.run(argv, capture_output=True, text=True, timeout=30,
                          env={"PATH": f"{tmp_path}:/usr/bin:/bin"})


def test_it_waits_for_the_new_image_to_answer_health(tmp_path):
    done = run_wait(tmp_path, ["missing", f"{OLD} true c0", f"{IMAGE} true c1", f"{IMAGE} true c1"],
                    ["000", "200"])
    waited = parse_wait(done.stdout)
    assert done.returncode == 0 and waited.serving and waited.containers_seen == 1, done.stdout + done.stderr
    assert waited.seconds is not None and waited.seconds < 5
    assert "pwned" not in done.stdout


def test_a_crash_loop_is_counted_and_the_wait_gives_up(tmp_path):
    done = run_wait(tmp_path, [f"{IMAGE} false c1", f"{IMAGE} false c2", f"{IMAGE} false c3", f"{IMAGE} false c4"],
                    ["000"], timeout=0.5)
    waited = parse_wait(done.stdout)
    assert done.returncode == 1 and not waited.serving and waited.containers_seen == 4
    assert waited.last == f"not running on {IMAGE}" and waited.seconds >= 0.5


def test_an_unhealthy_app_on_the_old_image_is_never_taken_for_the_new_one(tmp_path):
    done = run_wait(tmp_path, [f"{OLD} true c0"], ["200"], timeout=0.3)
    waited = parse_wait(done.stdout)
    assert not waited.serving and waited.containers_seen == 0 and waited.last == f"running on {OLD}"


def test_a_cut_off_answer_is_a_wait_that_gave_up():
    assert parse_wait("seen c1\nseen c2\n") == AppWait(False, None, 2, "no answer from the wait")
    assert parse_wait("seen c1\nserving 812\n") == AppWait(True, 0.812, 1, "no answer from the wait")
