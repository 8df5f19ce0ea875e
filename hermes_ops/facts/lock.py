"""The deploy lock's answers, one format for all four lock commands (`hermes_ops.commands.lock`).

The first line is a word: LOCKED or BUSY (`hold`), FREE or BUSY (`probe`), HELD or LOST (`fence`),
BROKEN or NOHOLDER (`break_lock`). The holder line (`run=<id> operator=… commit=… since=… pid=<n>`,
or why the lock is lost) follows on the next line, or for BROKEN on the same line.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from enum import Enum

from hermes_ops.commands import lock as lock_commands
from hermes_ops.facts.fact import Fact


class LockState(str, Enum):
    LOCKED = "LOCKED"      # hold: the lock is ours now
    BUSY = "BUSY"          # hold, probe: another deploy holds it
    FREE = "FREE"          # probe: nobody holds it
    HELD = "HELD"          # fence: our run still holds it
    LOST = "LOST"          # fence: it is not ours any more
    BROKEN = "BROKEN"      # break: the holder was ended
    NOHOLDER = "NOHOLDER"  # break: there was nobody to end

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class LockAnswer:
    """What a lock command said: its word (None if unknown), the holder line, and its first line as printed."""

    state: LockState | None
    holder: str = ""
    first_line: str = ""


def parse_answer(output: str) -> LockAnswer:
    """Any lock command's output → its answer. Blank lines and trailing blanks (CRLF) are ignored."""
    rows = [line.strip() for line in output.splitlines()]
    rows = [row for row in rows if row]
    first = rows[0] if rows else ""
    word, _, rest = first.partition(" ")
    state = LockState(word) if word in LockState._value2member_map_ else None
    holder = rest.strip() if state is not None and rest.strip() else (rows[1] if len(rows) > 1 else "")
    return LockAnswer(state=state, holder=holder, first_line=first)


def parse_holder(holder: str) -> dict[str, str]:
    """A holder line's `key=value` words (`run`, `operator`, `commit`, `since`, `pid`); {} if it has none.

    The operator is shell-quoted in the line (`operator='Ann Smith'`), so the words are read as a
    shell would; a line with an unbalanced quote gives {} (the line itself still says who holds it).
    """
    try:
        words = shlex.split(holder)
    except ValueError:
        return {}
    fields: dict[str, str] = {}
    for word in words:
        key, separator, value = word.partition("=")
        if separator and key.isidentifier():
            fields.setdefault(key, value)
    return fields


def answer_complete(output: str, *, ended: bool) -> bool:
    """While `hold`'s answer arrives: True once it is whole (LOCKED; BUSY with its holder line, or the command ended)."""
    answer = parse_answer(output)
    if answer.state is LockState.LOCKED:
        return True
    return answer.state is LockState.BUSY and (ended or bool(answer.holder))


probe = Fact("deploy lock", lock_commands.probe, parse_answer, parse_failures=True)
fence = Fact("deploy lock fence", lock_commands.fence, parse_answer, parse_failures=True)


def fence_refusal(exit_code: int | None, stderr: str, nonce: str) -> str | None:
    """Why a `fenced` command did not run (who holds the lock now, as its refusal line says), or None if the
    fence let it run. The nonce keeps a command's own output from passing for a refusal."""
    if exit_code != lock_commands.FENCE_REFUSED_EXIT:
        return None
    prefix = f"{lock_commands.FENCE_REFUSAL} {nonce} LOST "
    return next((line[len(prefix):] for line in stderr.splitlines() if line.startswith(prefix)), None)
