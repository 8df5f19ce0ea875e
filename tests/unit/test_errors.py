"""Error messages: a failed command says why in one line, and nothing in a message drives the terminal."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from hermes_ops.errors import CommandFailed, HermesOpsError, failed_command_message, failure_reason
from hermes_ops.result import Result

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
GIT_PULL = "docker exec -w /srv/hermes hermes-admin git pull --ff-only origin main"
NOT_FAST_FORWARD = ("hint: Diverging branches can't be fast-forwarded, you need to either:\nhint:\n"
                    "hint: \tgit merge --no-ff\nhint:\nhint: or:\nhint:\nhint: \tgit rebase\nhint:\n"
                    "hint: Disable this message with \"git config advice.diverging false\"\n"
                    "fatal: Not possible to fast-forward, aborting.\n")


def result(stdout: str = "", stderr: str = "", exit_code: int | None = 128, command: str = GIT_PULL) -> Result:
    return Result(host="core@203.0.113.7:22", command=command, exit_code=exit_code, stdout=stdout, stderr=stderr,
                  started_at=NOW, ended_at=NOW, duration=0.1)


@pytest.mark.parametrize(("stdout", "stderr", "reason"), [
    ("", NOT_FAST_FORWARD, "fatal: Not possible to fast-forward, aborting."),
    ("", "error: pathspec 'x' did not match\n\n  \n---\n", "error: pathspec 'x' did not match"),
    ("compiling\nmake: *** [all] Error 2\n", "", "make: *** [all] Error 2"),
    ("out\n", "real reason\n[... 10 bytes omitted by hermes-ops; 99 bytes in all, sha256 ab ...]\n", "real reason"),
    ("", "\x1b[31mfatal:\x1b[0m \x1b]0;owned\x07bad\n", "fatal: \\x1b]0;owned\\x07bad"),
    ("", "", ""),
    ("\n\n", "hint: only hints\n", ""),
])
def test_failure_reason_is_the_last_meaningful_line(stdout, stderr, reason):
    assert failure_reason(result(stdout, stderr)) == reason


def test_failure_reason_is_bounded():
    reason = failure_reason(result(stderr="fatal: " + "x" * 10_000 + "\n"))
    assert reason.startswith("fatal: xxx") and reason.endswith("... [9847 more characters]") and len(reason) < 200


def test_a_rewritten_origin_says_gits_reason_in_one_line():
    failed = result(stderr=NOT_FAST_FORWARD)
    error = CommandFailed(failed_command_message(failed, "exited 128"), result=failed, step="4 Pull")
    first_line = str(error).splitlines()[0]
    assert first_line == (f"[host core@203.0.113.7:22] [step 4 Pull] command exited 128: "
                          f"fatal: Not possible to fast-forward, aborting. ({GIT_PULL})")
    assert error.message.splitlines()[0].startswith("command exited 128: fatal: Not possible to fast-forward")


def test_without_output_the_message_is_as_before():
    assert failed_command_message(result(), "exited 1") == f"command exited 1: {GIT_PULL}"
    killed = failed_command_message(result(exit_code=None), "was killed by a signal (no exit status)")
    assert killed == f"command was killed by a signal (no exit status): {GIT_PULL}"


def test_error_text_never_carries_terminal_controls():
    failed = result(stderr="\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2Kok\r\n", command="echo '\x1b[2J'")
    text = str(CommandFailed(failed_command_message(failed, "exited 1"), result=failed, hint="\u202efix"))
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text and "\r" not in text
    assert "\\x1b]52;c;cm0gLXJmIH4=\\x07" in text and "\\u202efix" in text
    assert str(HermesOpsError("a\x1b[2Jb\x1b[31mc")) == "a\\x1b[2Jbc"
