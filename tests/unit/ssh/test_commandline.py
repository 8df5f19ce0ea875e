"""Quoting in one place, and the remote wrapper: exact strings, and run for real under a local sh."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from hermes_ops.errors import ConfigError
from hermes_ops.secrets import Secret
from hermes_ops.ssh.commandline import join_argv, kill_command, marker, shell_command, wrap

NONCE = "0123456789abcdef"


def test_argv_is_quoted_with_shlex_join():
    assert join_argv(["docker", "ps", "--format", "{{.Names}}"], reveal=True) == "docker ps --format '{{.Names}}'"
    assert join_argv(["echo", "a b", "$HOME", "it's", 3], reveal=True) == "echo 'a b' '$HOME' 'it'\"'\"'s' 3"


def test_secret_arguments_are_masked_unless_revealed():
    argv = ["docker", "login", "-p", Secret("pa ss"), "registry"]
    assert join_argv(argv, reveal=False) == "docker login -p '****' registry"
    assert join_argv(argv, reveal=True) == "docker login -p 'pa ss' registry"


@pytest.mark.parametrize("argv", ["docker ps", b"ls", [], ["ls", None], ["ls", True]])
def test_bad_argv_is_a_config_error(argv):
    with pytest.raises(ConfigError):
        join_argv(argv, reveal=True)


def test_shell_command_is_one_quoted_word():
    assert shell_command("df -P / | tail -1") == "/bin/sh -c 'df -P / | tail -1'"
    with pytest.raises(ConfigError):
        shell_command("  ")


def test_wrap_exact_string():
    assert wrap("docker ps", NONCE) == (
        "exec /bin/sh -c 'printf \"\\036hermes-ops:0123456789abcdef:%s\\n\" \"$$\" >&2; exec docker ps'")


def test_wrapped_command_runs_under_sh_and_reports_its_pid():
    wire = wrap(join_argv(["sh", "-c", "echo out; echo err >&2; exit 3"], reveal=True), NONCE)
    completed = subprocess.run(["bash", "-c", wire], capture_output=True)
    assert completed.returncode == 3
    assert completed.stdout == b"out\n"
    assert completed.stderr.startswith(marker(NONCE))
    pid_line, rest = completed.stderr.split(b"\n", 1)
    assert pid_line[len(marker(NONCE)):].isdigit()
    assert rest == b"err\n"


def test_wrap_rejects_a_bad_nonce():
    with pytest.raises(ValueError):
        wrap("true", "not hex!")


def test_kill_command_targets_the_process_group():
    text = kill_command(4242)
    assert text.startswith("kill -TERM -4242 2>/dev/null;")
    assert "kill -KILL -4242" in text and text.endswith("then echo alive; else echo gone; fi")
    for pid in (0, 1, -5, "12"):
        with pytest.raises(ValueError):
            kill_command(pid)


def test_kill_command_stops_a_local_process_group():
    # A process group whose leader is not our child (so nothing here keeps a zombie around),
    # like a command under sshd: `setsid` in a background job makes the sleep a group leader.
    started = subprocess.run(["sh", "-c", "setsid sleep 60 >/dev/null 2>&1 & echo $!"], capture_output=True,
                             text=True, check=True)
    pid = int(started.stdout)
    _wait_until_group_leader(pid)  # `echo $!` can print before the child has called setsid()
    completed = subprocess.run(["sh", "-c", kill_command(pid)], capture_output=True, text=True, timeout=20)
    assert completed.stdout.strip() == "gone"
    assert not _running(pid)


def _wait_until_group_leader(pid: int) -> None:
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[2] != str(pid):
        assert time.monotonic() < deadline, f"{pid} never became a process group leader"
        time.sleep(0.01)


def _running(pid: int) -> bool:
    """Still running: a process that ended but waits for its reaper (a zombie, state Z) has stopped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"
