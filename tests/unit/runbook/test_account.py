"""The step account: what reaches the operator is neutralised and masked."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from hermes_ops.result import Result
from hermes_ops.runbook.account import Account

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def test_everything_written_is_neutralised_and_masked(secrets_registry):
    from hermes_ops.secrets import register_secret

    register_secret("s3cret-passphrase")
    lines: list[str] = []
    account = Account(lines.append, live_lines_limit=2)
    result = Result(host="h", command="git log -1 --format='\x1b]0;x\x07'", exit_code=0,
                    stdout="one\n\x1b[2Ktwo\nthree\n", stderr="", started_at=NOW, ended_at=NOW, duration=0.5)
    account.command(result)
    account.fact("changelog", "abc123 Fix \u202eexe.txt (Ada)")
    account.note("remote said s3cret-passphrase\x1b[1A")
    account.start_live()
    for line in ("\x1b[32mok\x1b[0m", "x\ry", "hidden 1", "hidden 2"):
        account.live("stdout", line)
    account.end_live(result)
    text = "\n".join(lines)
    assert not any(char in text for char in "\x1b\x07\r\u202e")
    assert "s3cret-passphrase" not in text and "remote said ****\\x1b[1A" in text
    assert "  $ git log -1 --format='\\x1b]0;x\\x07'   [exit 0, 0.50s]" in lines
    assert "  changelog: abc123 Fix \\u202eexe.txt (Ada)" in lines
    assert "    | ok" in lines and "    | x\\x0dy" in lines
    assert "    | \\x1b[2Ktwo" in lines


def test_a_silent_step_gets_heartbeat_lines_until_its_verdict():
    import threading

    lines: list[str] = []
    beat = threading.Event()

    def writer(text):
        lines.append(text)
        if "still running" in text:
            beat.set()

    account = Account(writer, live_lines_limit=1, heartbeat_seconds=0.05)
    account.heading(5, "Build")
    account.start_live()
    account.live("stdout", "shown")
    account.live("stdout", "counted, not shown")
    assert beat.wait(10), lines
    account.verdict("done", 1.0)
    after_verdict = len(lines)
    heartbeats = [line for line in lines if "still running" in line]
    assert heartbeats[0].startswith("  … step 5 Build still running after ")
    assert "1 lines of output so far not shown live" in heartbeats[0]
    threading.Event().wait(0.3)  # three heartbeat periods: none may come after the verdict
    assert len(lines) == after_verdict


def test_the_exit_step_has_no_heartbeat():
    lines: list[str] = []
    account = Account(lines.append, heartbeat_seconds=0.01)
    account.heading(8, "Exit")
    import threading

    threading.Event().wait(0.2)
    assert not [line for line in lines if "still running" in line]


@pytest.mark.parametrize(("value", "seconds"), [(None, 30.0), ("5", 5.0), ("0", 0.0), ("soon", 30.0), ("-1", 30.0)])
def test_the_heartbeat_interval_comes_from_the_environment_if_it_is_sane(monkeypatch, value, seconds):
    from hermes_ops.runbook.account import HEARTBEAT_ENV

    if value is None:
        monkeypatch.delenv(HEARTBEAT_ENV, raising=False)
    else:
        monkeypatch.setenv(HEARTBEAT_ENV, value)
    assert Account(lambda text: None).heartbeat_seconds == seconds
