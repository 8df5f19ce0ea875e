"""The lock's one answer format, as `hold`, `probe`, `fence` and `break_lock` print it."""

from __future__ import annotations

import pytest

from hermes_ops.commands import lock as lock_commands
from hermes_ops.facts import lock
from hermes_ops.facts.lock import LockAnswer, LockState

HOLDER = "run=20261127T044009Z-2eb4eb operator=ana commit=412353f2b94e since=2026-11-27T04:40:09Z pid=4242"


def test_commands_are_the_lock_builders():
    assert lock.probe.command() == lock_commands.probe()
    assert lock.fence.command("20261127T044009Z-2eb4eb") == lock_commands.fence("20261127T044009Z-2eb4eb")


@pytest.mark.parametrize("output, expected", [
    # hold
    ("LOCKED\n", LockAnswer(LockState.LOCKED, "", "LOCKED")),
    (f"BUSY\n{HOLDER}\n", LockAnswer(LockState.BUSY, HOLDER, "BUSY")),
    ("BUSY\n", LockAnswer(LockState.BUSY, "", "BUSY")),                     # a holder file already gone
    (f"BUSY\r\n{HOLDER}\r\n", LockAnswer(LockState.BUSY, HOLDER, "BUSY")),
    (f"BUSY  \n  {HOLDER}  \n", LockAnswer(LockState.BUSY, HOLDER, "BUSY")),
    # probe
    ("FREE\n", LockAnswer(LockState.FREE, "", "FREE")),
    ("FREE", LockAnswer(LockState.FREE, "", "FREE")),
    # fence
    ("HELD\n", LockAnswer(LockState.HELD, "", "HELD")),
    (f"LOST\n{HOLDER}\n", LockAnswer(LockState.LOST, HOLDER, "LOST")),
    ("LOST\nnobody holds it now\n", LockAnswer(LockState.LOST, "nobody holds it now", "LOST")),
    ("LOST\nour holder process 4242 is gone\n",
     LockAnswer(LockState.LOST, "our holder process 4242 is gone", "LOST")),
    # break_lock: the holder on the same line
    (f"BROKEN {HOLDER}\n", LockAnswer(LockState.BROKEN, HOLDER, f"BROKEN {HOLDER}")),
    ("NOHOLDER\n", LockAnswer(LockState.NOHOLDER, "", "NOHOLDER")),
    # odd ones
    ("", LockAnswer(None, "", "")),
    ("\n\n", LockAnswer(None, "", "")),
    ("sh: 1: flock: not found\n", LockAnswer(None, "", "sh: 1: flock: not found")),
    (f"\nBUSY\n{HOLDER}\n", LockAnswer(LockState.BUSY, HOLDER, "BUSY")),
    ("LOCKEDX\n", LockAnswer(None, "", "LOCKEDX")),
    ("locked\n", LockAnswer(None, "", "locked")),
])
def test_answers(output, expected):
    assert lock.parse_answer(output) == expected


def test_probe_and_fence_read_their_answer_whatever_the_exit_status():
    assert lock.probe.value("", ok=False) == LockAnswer(None, "", "")
    assert lock.fence.value("LOST\nnobody holds it now\n", ok=False).state is LockState.LOST


@pytest.mark.parametrize("output, ended, complete", [
    ("LOCKED\n", False, True),
    ("LOCKED", False, True),
    ("BUSY\n", False, False),                 # its holder line may still come
    ("BUSY\n", True, True),                   # ... unless the command has ended
    (f"BUSY\n{HOLDER}\n", False, True),
    ("", False, False),
    ("", True, False),                        # nothing at all: the caller reports the exit status
    ("LOC", False, False),
    ("sh: flock: not found\n", True, False),
])
def test_a_hold_answer_is_complete(output, ended, complete):
    assert lock.answer_complete(output, ended=ended) is complete


def test_a_state_prints_as_its_word():
    assert f"{LockState.BUSY}" == "BUSY"


@pytest.mark.parametrize("exit_code, stderr, refusal", [
    (76, "hermes-fence n0nce LOST run=20261127T050000Z-aaaaaa operator=Bob pid=42\n",
     "run=20261127T050000Z-aaaaaa operator=Bob pid=42"),
    (76, "hermes-fence n0nce LOST nobody holds it now\n", "nobody holds it now"),
    (0, "hermes-fence n0nce LOST nobody holds it now\n", None),       # it ran: the command printed that itself
    (76, "hermes-fence 0ther LOST nobody holds it now\n", None),      # another nonce: not this fence's line
    (76, "make: *** [all] Error 76\n", None),                         # the command's own exit status 76
    (1, "", None),
])
def test_a_fenced_commands_refusal_is_told_by_its_exit_status_and_its_nonce(exit_code, stderr, refusal):
    assert lock.fence_refusal(exit_code, stderr, "n0nce") == refusal
