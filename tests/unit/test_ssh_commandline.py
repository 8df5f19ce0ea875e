"""The SSH layer's pure parts: quoting and the remote wrapper, line splitting, dry run, error text."""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone

import pytest

from hermes_ops.errors import (
    AuthenticationFailed,
    CommandFailed,
    CommandTimedOut,
    ConfigError,
    ConnectionFailed,
    ConnectionRefused,
    HermesOpsError,
    NameNotResolved,
    SSHError,
)
from hermes_ops.result import Result
from hermes_ops.secrets import Redactor, Secret
from hermes_ops.ssh import DryRunRunner, SSHTarget
from hermes_ops.ssh.commandline import join_argv, kill_command, marker, shell_command, wrap
from hermes_ops.ssh.sockets import open_socket
from hermes_ops.ssh.streams import LineSplitter, PidMarkerFilter

NONCE = "0123456789abcdef"
TARGET = SSHTarget(host="203.0.113.7", port=22, user="core")


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
    completed = subprocess.run(["sh", "-c", kill_command(pid)], capture_output=True, text=True, timeout=20)
    assert completed.stdout.strip() == "gone"
    assert subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode != 0


def test_line_splitter_handles_partial_lines_crlf_and_long_lines():
    lines = []
    splitter = LineSplitter(lines.append, Redactor(["s3cret"]), max_line=10)
    for chunk in (b"one\ntw", b"o\r\nthree s3", b"cret\n", b"x" * 25, b"\nlast"):
        splitter.feed(chunk)
    splitter.close()
    assert lines == ["one", "two", "three ****", "xxxxxxxxxx", "xxxxxxxxxx", "xxxxx", "last"]


def test_pid_marker_is_removed_and_surrounding_output_kept():
    data = b"motd noise\n" + marker(NONCE) + b"4242\nreal stderr\n"
    for size in (1, 3, len(data)):
        filter_ = PidMarkerFilter(marker(NONCE))
        output = b"".join(filter_.feed(data[i:i + size]) for i in range(0, len(data), size)) + filter_.flush()
        assert output == b"motd noise\nreal stderr\n"
        assert filter_.pid == 4242


def test_missing_pid_marker_passes_everything_through():
    filter_ = PidMarkerFilter(marker(NONCE))
    assert filter_.feed(b"no marker here") == b""
    assert filter_.flush() == b"no marker here"
    assert filter_.pid is None


def test_dry_run_records_and_prints_without_a_host():
    printed = []
    runner = DryRunRunner(TARGET, secrets=["tok3n"], echo=printed.append)
    with runner:
        result = runner.run(["docker", "login", "-p", Secret("pw"), "--token", "tok3n"])
        runner.run_shell("df -P / | tail -1", timeout=5)
    assert result.ok and result.dry_run and result.stdout == ""
    assert runner.commands == ["docker login -p '****' --token ****", "/bin/sh -c 'df -P / | tail -1'"]
    assert printed[0] == "[dry-run] core@203.0.113.7:22 $ docker login -p '****' --token ****"
    assert not runner.connected


def make_result(**changes) -> Result:
    now = datetime.now(timezone.utc)
    fields = dict(host="core@203.0.113.7:22", command="make build", exit_code=2,
                  stdout="".join(f"step {n}\n" for n in range(30)), stderr="make: *** [all] Error 2\n",
                  started_at=now, ended_at=now, duration=1.5)
    fields.update(changes)
    return Result(**fields)


def test_command_failed_shows_command_host_tail_and_hint():
    error = CommandFailed("command exited 2: make build", result=make_result(), step="build", hint="fix the build")
    text = str(error)
    assert text.startswith("[host core@203.0.113.7:22] [step build] command exited 2: make build")
    assert "step 29" in text and "step 19" not in text  # the last 10 lines only
    assert "make: *** [all] Error 2" in text
    assert text.endswith("what to do: fix the build")
    assert isinstance(error, HermesOpsError) and error.result.exit_code == 2


def test_error_tails_are_cut_and_printable():
    error = CommandFailed("failed", result=make_result(stdout="\x00" * 100_000 + "\n", stderr="bell\x07\n"))
    text = str(error)
    assert len(text) < 2000
    # control characters are shown as visible escapes (hermes_ops.terminal_text), not as '?'
    assert "\\x00" * 240 + "... [99760 more characters]" in text and "bell\\x07" in text


def test_command_timed_out_carries_the_result():
    error = CommandTimedOut("timed out", result=make_result(exit_code=None), timeout=5, remote_stopped=True)
    assert error.result.exit_code is None and error.remote_stopped is True and error.timeout == 5


def test_connection_errors_name_user_host_and_port():
    error = ConnectionRefused("refused", reason=ConnectionFailed.REFUSED, hostname="h", port=2222, user="core",
                              hint="start sshd")
    assert isinstance(error, ConnectionFailed) and isinstance(error, SSHError)
    assert str(error) == "[host core@h:2222] refused\n  what to do: start sshd"
    auth = AuthenticationFailed("no", offered=["/k (ssh-ed25519 SHA256:abc)"], hostname="h", port=22, user="u")
    assert "keys offered:\n    /k (ssh-ed25519 SHA256:abc)" in str(auth)


def test_config_error_is_a_value_error():
    assert isinstance(ConfigError("bad"), ValueError)


def test_unresolvable_name_maps_to_name_not_resolved(monkeypatch):
    import socket

    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(NameNotResolved) as caught:
        open_socket("no-such-host.invalid", 22, 1.0, user="core")
    assert caught.value.reason == ConnectionFailed.NAME_NOT_RESOLVED
    assert "no-such-host.invalid" in str(caught.value)
