"""The SSH layer's errors: what failed, where, the output's last lines and what to do next."""

from __future__ import annotations

from datetime import datetime, timezone

from hermes_ops.errors import (
    AuthenticationFailed,
    CommandFailed,
    CommandTimedOut,
    ConfigError,
    ConnectionFailed,
    ConnectionRefused,
    HermesOpsError,
    SSHError,
)
from hermes_ops.result import Result


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
