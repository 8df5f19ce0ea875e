"""Running commands on a real sshd: quoting, streaming, big output, failures, timeouts, secrets."""

from __future__ import annotations

import json
import logging
import os
import threading
import time

import pytest

from hermes_ops.errors import CommandFailed, CommandTimedOut
from hermes_ops.secrets import Secret
from hermes_ops.ssh import connect

from .conftest import user_processes

MIB = 1024 * 1024


@pytest.fixture
def runner(sshd, known_hosts, client_keys):
    with connect(sshd.target(client_keys["ed25519"], known_hosts)) as runner:
        yield runner


def test_arguments_reach_the_host_verbatim(runner):
    argv = ["printf", "%s|", "a b", "$HOME", "it's", "*", "`id`", "; rm -rf /", ""]
    assert runner.run(argv, timeout=20).stdout == "a b|$HOME|it's|*|`id`|; rm -rf /||"


def test_result_fields(runner):
    result = runner.run(["sh", "-c", "echo out; echo err >&2"], timeout=20)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "out\n", "err\n")
    assert result.command == "sh -c 'echo out; echo err >&2'"
    assert result.host == runner.target.display
    assert result.stdout_bytes == 4 and result.stderr_bytes == 4 and not result.truncated
    assert result.started_at <= result.ended_at and result.duration >= 0
    json.dumps(result.to_dict())


def test_run_shell_is_the_raw_shell_opt_in(runner):
    assert runner.run_shell("echo one two three | wc -w", timeout=20).stdout.strip() == "3"
    assert runner.run(["echo", "one | wc -w"], timeout=20).stdout == "one | wc -w\n"


def test_non_zero_exit_raises_with_output_tail(runner):
    with pytest.raises(CommandFailed) as caught:
        runner.run(["sh", "-c", "for i in 1 2 3; do echo line$i; done; echo broken >&2; exit 3"], timeout=20)
    error = caught.value
    assert error.result.exit_code == 3
    text = str(error)
    assert "exited 3" in text and "line3" in text and "broken" in text and runner.target.display in text


def test_probe_with_check_false_returns_the_result(runner):
    result = runner.run(["sh", "-c", "exit 7"], timeout=20, check=False)
    assert result.exit_code == 7 and not result.ok


def test_command_killed_by_a_signal_has_no_exit_code(runner):
    result = runner.run_shell("kill -KILL $$", timeout=20, check=False)
    assert result.exit_code is None
    with pytest.raises(CommandFailed, match="killed by a signal"):
        runner.run_shell("kill -KILL $$", timeout=20)
    assert runner.connected


def test_stdin_is_sent_then_closed(runner):
    assert runner.run(["cat"], timeout=20, stdin="hello\nworld\n").stdout == "hello\nworld\n"
    assert runner.run(["cat"], timeout=20).stdout == ""  # EOF at once: no hang waiting for input
    big = os.urandom(3 * MIB)
    result = runner.run(["sha256sum"], timeout=60, stdin=big)
    import hashlib

    assert result.stdout.split()[0] == hashlib.sha256(big).hexdigest()


def test_20_mib_stdout_and_20_mib_stderr_interleaved(runner, payloads):
    out_path, out_size, out_sha = payloads["out"]
    err_path, err_size, err_sha = payloads["err"]
    # Both streams written at the same time: a runner that reads them one after the other
    # would deadlock once the unread stream fills the SSH window.
    result = runner.run_shell(f"cat {out_path} & cat {err_path} >&2; wait", timeout=120)
    assert (result.stdout_bytes, result.stdout_sha256) == (out_size, out_sha)
    assert (result.stderr_bytes, result.stderr_sha256) == (err_size, err_sha)
    assert result.truncated
    assert len(result.stdout) < 200_000 and len(result.stderr) < 200_000


def test_every_line_of_both_streams_is_streamed_in_order(runner):
    lines = {"stdout": [], "stderr": []}
    result = runner.run_shell("seq 1 200000 & seq 200001 400000 >&2; wait", timeout=120,
                              stream=lambda name, line: lines[name].append(line))
    assert lines["stdout"] == [str(n) for n in range(1, 200001)]
    assert lines["stderr"] == [str(n) for n in range(200001, 400001)]
    assert result.truncated and result.stdout.endswith("199999\n200000\n")


def test_first_line_arrives_while_the_command_still_runs(runner, ssh_workdir):
    # The command cannot finish until the callback has seen its first line: if lines were
    # delivered only at the end, this would time out instead of passing.
    flag_dir = ssh_workdir / f"flag-{os.getpid()}-{time.monotonic_ns()}"
    flag_dir.mkdir(mode=0o777)
    flag_dir.chmod(0o777)
    flag = flag_dir / "seen"
    seen = []

    def on_line(stream, line):
        seen.append((stream, line))
        if line == "first":
            flag.touch()

    script = f"echo first; while [ ! -e {flag} ]; do sleep 0.05; done; echo second"
    result = runner.run_shell(script, timeout=30, stream=on_line)
    assert seen == [("stdout", "first"), ("stdout", "second")]
    assert result.ok


def test_timeout_kills_the_remote_process(runner):
    started = time.monotonic()
    with pytest.raises(CommandTimedOut) as caught:
        runner.run(["sleep", "299.5"], timeout=1)
    error = caught.value
    assert time.monotonic() - started < 30  # not a hang (generous bound)
    assert error.remote_stopped is True and error.result.exit_code is None
    assert user_processes("^sleep 299.5$") == []
    assert runner.run(["true"], timeout=20).ok  # the connection survives


def test_timeout_kills_the_whole_process_group(runner):
    with pytest.raises(CommandTimedOut) as caught:
        runner.run_shell("sleep 298.5 | sleep 297.5 & sleep 296.5; wait", timeout=1)
    assert caught.value.remote_stopped is True
    for pattern in ("^sleep 298.5$", "^sleep 297.5$", "^sleep 296.5$"):
        assert user_processes(pattern) == [], pattern


def test_timeout_kills_a_process_that_ignores_sigterm(runner):
    with pytest.raises(CommandTimedOut) as caught:
        runner.run_shell("trap '' TERM; sleep 295.25; echo not reached", timeout=1)
    assert caught.value.remote_stopped is True
    assert user_processes("^sleep 295.25$") == []


def test_output_before_a_timeout_is_kept(runner):
    with pytest.raises(CommandTimedOut) as caught:
        runner.run_shell("echo started; sleep 294.5", timeout=1)
    assert caught.value.result.stdout == "started\n"
    assert "started" in str(caught.value)


def test_large_output_keeps_memory_bounded_in_the_result(runner):
    result = runner.run(["head", "-c", str(5 * MIB), "/dev/zero"], timeout=60)
    assert result.stdout_bytes == 5 * MIB and result.truncated
    assert len(result.stdout) < 100_000


def test_a_failing_stream_callback_does_not_break_the_command(runner, caplog):
    def broken(stream, line):
        raise ValueError("widget gone")

    with caplog.at_level(logging.ERROR, logger="hermes_ops.ssh"):
        result = runner.run_shell("seq 1 1000", timeout=20, stream=broken)
    assert result.stdout_bytes == len("".join(f"{n}\n" for n in range(1, 1001)))
    assert "stream callback raised" in caplog.text


def test_concurrent_callers_are_serialised(runner):
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                results.append(runner.run(["echo", "x"], timeout=20).stdout)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and results == ["x\n"] * 20


def test_registered_secret_never_shows(sshd, known_hosts, client_keys, caplog):
    value = "Zq9-s3cr3t-VALUE-77"
    secret = Secret(value, name="registry token")
    streamed = []
    shown = []
    with caplog.at_level(logging.DEBUG):
        with connect(sshd.target(client_keys["ed25519"], known_hosts), secrets=[secret],
                     stream=lambda name, line: streamed.append(line)) as runner:
            # the host really receives the value...
            check = runner.run(["sh", "-c", f'[ "$1" = "{value}" ] && echo match', "sh", secret], timeout=20)
            assert check.stdout == "match\n"
            # ...but nothing we show contains it: results, streamed lines, errors, logs, reprs.
            results = [check,
                       runner.run(["echo", secret], timeout=20),
                       runner.run(["cat"], stdin=secret, timeout=20),
                       runner.run_shell(f"echo prefix-{value}-suffix; echo {value} >&2", timeout=20)]
            with pytest.raises(CommandFailed) as failed:
                runner.run_shell(f"echo {value}; echo {value} >&2; exit 9", timeout=20)
            with pytest.raises(CommandTimedOut) as timed_out:
                runner.run_shell(f"echo {value}; sleep 293.5", timeout=1)
            shown.append(repr(runner))
    assert results[1].stdout == "****\n" and results[2].stdout == "****"
    assert results[3].stdout == "prefix-****-suffix\n"
    for result in results + [failed.value.result, timed_out.value.result]:
        shown += [repr(result), str(result), json.dumps(result.to_dict()), result.command]
    shown += [str(failed.value), repr(failed.value), str(timed_out.value), repr(timed_out.value), repr(secret)]
    shown += streamed
    shown.append(caplog.text)
    assert "****" in caplog.text  # the commands were logged, masked
    leaks = [text for text in shown if value in text]
    assert leaks == []


def test_host_key_fingerprint_of_the_connected_host(runner, sshd):
    assert runner.host_key_fingerprint == sshd.fingerprint("ed25519")


def test_held_channel_lives_until_closed(runner, ssh_workdir):
    # What the deploy lock uses: a process tied to an open channel, freed when we close it.
    channel = runner.open_held_channel(["sh", "-c", "echo held; cat >/dev/null; echo released"])
    try:
        channel.settimeout(20)
        assert channel.recv(64) == b"held\n"
        assert not channel.exit_status_ready()
        channel.shutdown_write()
        assert channel.recv_exit_status() == 0
    finally:
        channel.close()
    assert runner.run(["true"], timeout=20).ok


def test_the_next_channel_waits_ready_yet_no_more_sessions_are_open_than_before(ssh_workdir, authorized_keys,
                                                                                client_keys):
    """sshd with MaxSessions 1: one session at a time. The spare channel opened between commands is the one
    the next command (or a held channel) starts on, so commands and a held channel still run one by one."""
    from .conftest import Sshd, free_port

    server = Sshd(ssh_workdir, f"one-session-{free_port()}", authorized_keys, extra="MaxSessions 1").start()
    try:
        target = server.target(client_keys["ed25519"], server.known_hosts(ssh_workdir / f"kh-{server.port}"))
        with connect(target) as runner:
            assert [runner.run(["echo", str(number)], timeout=20).stdout for number in range(3)] == ["0\n", "1\n", "2\n"]
            channel = runner.open_held_channel(["sh", "-c", "echo held; cat >/dev/null"])
            try:
                channel.settimeout(20)
                assert channel.recv(64) == b"held\n"
                channel.shutdown_write()
                assert channel.recv_exit_status() == 0
            finally:
                channel.close()
            assert runner.run(["echo", "after"], timeout=20).stdout == "after\n"
    finally:
        server.stop()


def test_a_guard_runs_first_on_the_host_and_is_not_what_the_result_shows(runner):
    guard = ["sh", "-c", 'echo guarded >&2; exec "$@"', "hermes-guard"]
    result = runner.run(["echo", "it ran"], guard=guard, timeout=20)
    assert (result.stdout, result.stderr, result.command) == ("it ran\n", "guarded\n", "echo 'it ran'")
