"""The deploy lock's scripts: values pass as "$1", and the scripts run for real (sh + flock) against a temporary HOME.

Each lock command answers with a word first: LOCKED or BUSY (hold), FREE or BUSY (probe), HELD or
LOST (fence), BROKEN or NOHOLDER (break), and the holder line after it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hermes_ops.commands import lock

needs_flock = pytest.mark.skipif(shutil.which("flock") is None, reason="needs flock (util-linux)")
RUN = "20261127T044009Z-2eb4eb"
HOLDER = f"run={RUN} operator='Ada Lovelace' commit=790ec6b4a36e since=2026-11-27T04:40:09Z"


def environment(home: Path) -> dict[str, str]:
    return {**os.environ, "HOME": str(home)}


def run_here(argv: list[str], home: Path) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, env=environment(home), timeout=30)


class Holder:
    """A `hold` running as it does on the host: alive as long as its stdin (our SSH channel) stays open."""

    def __init__(self, holder: str, home: Path):
        self.process = subprocess.Popen(lock.hold(holder), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, env=environment(home))
        self.first_line = self.process.stdout.readline().strip()

    def release(self) -> int:
        self.process.stdin.close()
        return self.process.wait(timeout=30)


class LockHost:
    """A temporary HOME standing in for the host's, and the `hold`s started against it."""

    def __init__(self, home: Path):
        self.home = home
        self.holders: list[Holder] = []

    def run(self, argv: list[str]) -> subprocess.CompletedProcess:
        return run_here(argv, self.home)

    def take(self, holder: str) -> Holder:
        taken = Holder(holder, self.home)
        self.holders.append(taken)
        return taken

    def holder_file(self) -> Path:
        return self.home / lock.HOLDER_FILE

    def close(self) -> None:
        for holder in self.holders:
            if holder.process.poll() is None:
                holder.process.kill()
                holder.process.wait()
            for stream in (holder.process.stdin, holder.process.stdout, holder.process.stderr):
                stream.close()


@pytest.fixture
def host(tmp_path):
    lock_host = LockHost(tmp_path)
    yield lock_host
    lock_host.close()


def test_values_are_passed_as_arguments_never_as_code():
    hostile = "run=x $(touch PWNED) `id`"
    for argv, name in ((lock.hold(hostile), "hermes-lock"), (lock.fence(hostile), "hermes-fence")):
        assert argv[:2] == ["sh", "-c"] and argv[3:] == [name, hostile]  # $0, then the value as $1
        assert hostile not in argv[2] and "$1" in argv[2]  # the script reads "$1"; the value is never part of it
    for argv in (lock.probe(), lock.break_lock()):  # they take no value at all
        assert argv[:2] == ["sh", "-c"] and argv[3:] == ["hermes-lock"]
    for argv in (lock.hold(RUN), lock.probe(), lock.break_lock(), lock.fence(RUN)):
        assert f'"$HOME/{lock.HOLDER_FILE}"' in argv[2]


@needs_flock
def test_a_free_lock_is_taken_held_fenced_and_released(host):
    assert host.run(lock.probe()).stdout == "FREE\n"
    holder = host.take(HOLDER)
    assert holder.first_line == "LOCKED"
    pid = holder.process.pid
    assert host.holder_file().read_text() == f"{HOLDER} pid={pid}\n"
    assert host.run(lock.probe()).stdout == f"BUSY\n{HOLDER} pid={pid}\n"
    assert host.run(lock.fence(RUN)).stdout == "HELD\n"
    assert holder.release() == 0
    assert not host.holder_file().exists()
    assert host.run(lock.probe()).stdout == "FREE\n"
    assert host.run(lock.fence(RUN)).stdout == "LOST\nnobody holds it now\n"


@needs_flock
def test_a_holder_ending_has_removed_its_line_yet_the_probe_still_answers_busy(host):
    """The holder removes its line before its flock goes: the probe says BUSY (and exits 0) in between."""
    holder = host.take(HOLDER)
    host.holder_file().unlink()
    probed = host.run(lock.probe())
    assert (probed.returncode, probed.stdout) == (0, "BUSY\n")
    assert holder.release() == 0


@needs_flock
def test_a_second_holder_is_told_busy_and_who_holds_it(host):
    first = host.take(HOLDER)
    assert first.first_line == "LOCKED"
    second = host.run(lock.hold("run=20261127T050000Z-aaaaaa operator=Bob"))
    assert second.returncode == lock.BUSY_EXIT
    assert second.stdout == f"BUSY\n{HOLDER} pid={first.process.pid}\n"
    assert host.run(lock.fence("20261127T050000Z-aaaaaa")).stdout == f"LOST\n{HOLDER} pid={first.process.pid}\n"


@needs_flock
def test_a_broken_lock_is_lost_to_its_holder_and_free_for_the_next(host):
    holder = host.take(HOLDER)
    pid = holder.process.pid
    assert host.run(lock.break_lock()).stdout == f"BROKEN {HOLDER} pid={pid}\n"
    holder.process.wait(timeout=30)
    assert host.run(lock.fence(RUN)).stdout == "LOST\nnobody holds it now\n"
    assert host.run(lock.probe()).stdout == "FREE\n"
    assert host.run(lock.break_lock()).stdout == "NOHOLDER\n"


@needs_flock
def test_a_fence_whose_holder_process_is_gone_is_lost(host):
    (host.home / ".hermes").mkdir()
    host.holder_file().write_text(f"{HOLDER} pid=999999999\n")
    assert host.run(lock.fence(RUN)).stdout == "LOST\nour holder process 999999999 is gone\n"


@needs_flock
def test_a_run_id_that_is_a_prefix_or_a_pattern_does_not_hold_anothers_lock(host):
    host.take(HOLDER)
    for impostor in (RUN[:-1], "*", f"{RUN}*", "20261127T044009Z-2eb4e?"):
        assert host.run(lock.fence(impostor)).stdout.startswith("LOST\n"), impostor


@needs_flock
def test_a_hostile_holder_line_is_stored_as_data(host):
    hostile = f"run={RUN} operator='$(touch {host.home}/PWNED)' `touch {host.home}/PWNED` %s"
    holder = host.take(hostile)
    assert holder.first_line == "LOCKED"
    assert host.holder_file().read_text() == f"{hostile} pid={holder.process.pid}\n"
    assert host.run(lock.fence(RUN)).stdout == "HELD\n"
    assert holder.release() == 0
    assert not (host.home / "PWNED").exists()


# -- fenced: the fencing check and the command in one round trip ----------------------------------------------

def _fenced_marker_run(host, run_id: str, tmp_path):
    """A fenced command that leaves a file behind if it ran, and exits 3 (its own status, not the fence's)."""
    ran = tmp_path / "ran"
    return host.run(lock.fenced(run_id, "n0nce", ["sh", "-c", 'echo ran; touch "$1"; exit 3', "cmd", str(ran)])), ran


@needs_flock
def test_a_fenced_command_runs_while_our_run_holds_the_lock_with_its_own_exit_status(host, tmp_path):
    holder = host.take(HOLDER)
    finished, ran = _fenced_marker_run(host, RUN, tmp_path)
    assert (finished.returncode, finished.stdout, finished.stderr) == (3, "ran\n", "") and ran.exists()
    assert holder.release() == 0


@needs_flock
def test_a_fenced_command_is_not_run_once_the_lock_is_someone_elses(host, tmp_path):
    other = host.take(HOLDER)
    finished, ran = _fenced_marker_run(host, "20261127T050000Z-aaaaaa", tmp_path)
    assert finished.returncode == lock.FENCE_REFUSED_EXIT and not ran.exists()
    assert finished.stderr == f"hermes-fence n0nce LOST {HOLDER} pid={other.process.pid}\n"
    other.release()
    finished, ran = _fenced_marker_run(host, RUN, tmp_path)
    assert (finished.returncode, finished.stderr) == (lock.FENCE_REFUSED_EXIT, "hermes-fence n0nce LOST nobody holds it now\n")
    assert not ran.exists()


def test_a_fenced_command_whose_holder_process_is_gone_is_not_run(host, tmp_path):
    (host.home / ".hermes").mkdir()
    host.holder_file().write_text(f"{HOLDER} pid=999999999\n")
    finished, ran = _fenced_marker_run(host, RUN, tmp_path)
    assert finished.returncode == lock.FENCE_REFUSED_EXIT and not ran.exists()
    assert finished.stderr == "hermes-fence n0nce LOST our holder process 999999999 is gone\n"


def test_fenced_passes_everything_as_arguments():
    argv = lock.fenced("run=x; touch /tmp/pwned", "n0nce", ["docker", "tag", "a; b", "c"])
    assert argv == [*lock.fence_guard("run=x; touch /tmp/pwned", "n0nce"), "docker", "tag", "a; b", "c"]
    assert argv[:2] == ["sh", "-c"] and "touch" not in argv[2] and argv[3] == "hermes-fenced"
