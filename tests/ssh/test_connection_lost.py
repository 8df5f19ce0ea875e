"""A connection that dies (sshd killed) or goes silent (sshd frozen) mid-command: ConnectionLost, not a hang."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from hermes_ops.errors import ConnectionLost
from hermes_ops.ssh import connect

from .conftest import user_processes


def sshd_session_processes(server) -> list[int]:
    """The per-connection sshd processes (not the listener, not the commands they run)."""
    found = []
    for pid in server.session_processes():
        try:
            with open(f"/proc/{pid}/comm") as handle:
                if handle.read().strip() == "sshd":
                    found.append(pid)
        except OSError:
            pass
    return found


def signal_sessions_later(server, sig: int, delay: float) -> threading.Thread:
    def act():
        time.sleep(delay)
        for pid in sshd_session_processes(server):
            os.kill(pid, sig)

    thread = threading.Thread(target=act, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def cleanup_sleeps():
    patterns = []
    yield patterns
    for pattern in patterns:
        for pid in user_processes(pattern):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_sshd_killed_mid_command(own_sshd, client_keys, tmp_path, cleanup_sleeps):
    cleanup_sleeps.append("^sleep 291.5$")
    known = own_sshd.known_hosts(tmp_path / "known_hosts")
    target = own_sshd.target(client_keys["ed25519"], known, keepalive_interval=1.0, keepalive_count_max=3)
    with connect(target) as runner:
        runner.run(["true"], timeout=20)
        signal_sessions_later(own_sshd, signal.SIGKILL, 1.0)
        started = time.monotonic()
        with pytest.raises(ConnectionLost) as caught:
            runner.run_shell("echo working; sleep 291.5", timeout=120)
        elapsed = time.monotonic() - started
        assert elapsed < target.dead_after + 10  # within the keepalive bound, with slack for a busy machine
        assert caught.value.result.stdout == "working\n"
        assert "reconnect" in str(caught.value)
        assert not runner.connected
        # The listener is still up: the same runner can reconnect.
        runner.connect()
        assert runner.run(["true"], timeout=20).ok


def test_sshd_frozen_mid_command_is_detected_by_keepalive(own_sshd, client_keys, tmp_path, cleanup_sleeps):
    cleanup_sleeps.append("^sleep 290.5$")
    known = own_sshd.known_hosts(tmp_path / "known_hosts")
    # SIGSTOP keeps the TCP connection open (the kernel still ACKs): only a keepalive that
    # expects an answer notices, as on a host that hangs or a network path that drops packets.
    target = own_sshd.target(client_keys["ed25519"], known, keepalive_interval=1.0, keepalive_count_max=2)
    runner = connect(target)
    try:
        runner.run(["true"], timeout=20)
        signal_sessions_later(own_sshd, signal.SIGSTOP, 0.5)
        started = time.monotonic()
        with pytest.raises(ConnectionLost):
            runner.run(["sleep", "290.5"], timeout=120)
        elapsed = time.monotonic() - started
        assert target.dead_after <= elapsed < target.dead_after + 10
    finally:
        close_started = time.monotonic()
        runner.close()
        assert time.monotonic() - close_started < 10  # closing a frozen connection does not hang either
        for pid in sshd_session_processes(own_sshd):
            os.kill(pid, signal.SIGCONT)


def test_connection_dropped_between_commands(own_sshd, client_keys, tmp_path):
    known = own_sshd.known_hosts(tmp_path / "known_hosts")
    with connect(own_sshd.target(client_keys["ed25519"], known)) as runner:
        runner.run(["true"], timeout=20)
        for pid in sshd_session_processes(own_sshd):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while runner.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(ConnectionLost, match="before the command could start"):
            runner.run(["true"], timeout=20)
        with pytest.raises(ConnectionLost):  # no silent reconnect...
            runner.run(["true"], timeout=20)
        runner.connect()  # ...until asked
        assert runner.run(["true"], timeout=20).ok


def test_a_long_silent_command_is_not_mistaken_for_a_lost_connection(sshd, known_hosts, client_keys):
    # Silent for twice the dead-after bound: the keepalive probes are answered, so it is alive.
    target = sshd.target(client_keys["ed25519"], known_hosts, keepalive_interval=0.5, keepalive_count_max=2)
    with connect(target) as runner:
        result = runner.run(["sh", "-c", "sleep 2.5; echo done"], timeout=30)
    assert result.stdout == "done\n"
