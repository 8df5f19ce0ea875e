"""Several read-only facts in one command: one SSH round trip and one `docker exec` (~70 ms on a host) instead
of one per fact.

`together(*readings)` is itself a `Fact`. Its command runs the facts' commands one after another in
one `sh`, and after each it prints a frame line: a marker and that command's exit status. The
marker is random and printed first, before any command runs, so nothing a command prints (a commit
subject in `git log`, say) can forge a frame. Each fact then parses its own part exactly as if it
had run alone, with its own exit status: the batch changes how many processes start, not what any
fact says.

A part whose frame is missing (the batch stopped early, or a huge output was cut in the middle by
the runner's bounded capture) is answered as not run: `exit_status` None. Put the fact whose output
can be long last, and read a fact again alone when its failure must raise (`Answer.ok`).
"""

from __future__ import annotations

import secrets
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from hermes_ops.commands import docker
from hermes_ops.facts.fact import Fact

MARKER_PREFIX = "hermes-batch-"
PROGRAM_NAME = "hermes-batch"  # `$0` of the batch's shell, as `ps` shows it on the host


@dataclass(frozen=True)
class Reading:
    """One fact to read in a batch, with its arguments."""

    fact: Fact
    arguments: tuple = field(default_factory=tuple)


@dataclass(frozen=True)
class Answer:
    """One fact's answer in a batch: its value, and its command's exit status (None: it did not run)."""

    value: object
    exit_status: int | None

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


def new_marker() -> str:
    return MARKER_PREFIX + secrets.token_hex(16)


def batch_command(readings: Sequence[Reading], marker: str) -> list[str]:
    """`sh -c SCRIPT hermes-batch MARKER`: the marker first, then each command followed by its frame line.

    The commands are quoted by `shlex.join`; the marker travels as `$1`, never as shell code.
    """
    script = ['printf "%s\\n" "$1"']
    for reading in readings:
        script.append(shlex.join(reading.fact.command(*reading.arguments)))
        script.append('printf "\\n%s %s\\n" "$1" "$?"')
    return ["sh", "-c", "\n".join(script), PROGRAM_NAME, marker]


def split_parts(output: str) -> list[tuple[str, int]]:
    """The batch's output → (the command's own output, its exit status) per framed part, in order.

    Pure. The marker is the first line; every frame line is `\\n<marker> <status>`, so a part is
    what came before its frame, minus the newline the frame put in front of itself.
    """
    first, newline, rest = output.partition("\n")
    marker = first.strip()
    if not newline or not marker.startswith(MARKER_PREFIX) or len(marker) <= len(MARKER_PREFIX):
        return []
    parts: list[tuple[str, int]] = []
    current: list[str] = []
    for line in rest.splitlines(keepends=True):
        words = line.split()
        if len(words) == 2 and words[0] == marker and words[1].isdigit():
            text = "".join(current)
            parts.append((text[:-1] if text.endswith("\n") else text, int(words[1])))
            current = []
        else:
            current.append(line)
    return parts


def parse_answers(readings: Sequence[Reading], output: str) -> tuple[Answer, ...]:
    """Each reading's `Answer` from the batch's output; a part not found is answered as not run: the fact's
    value for a command that failed printing nothing, and no exit status."""
    parts = split_parts(output)
    answers = []
    for index, reading in enumerate(readings):
        if index < len(parts):
            text, status = parts[index]
            answers.append(Answer(reading.fact.value(text, ok=status == 0), status))
        else:
            answers.append(Answer(reading.fact.value("", ok=False), None))
    return tuple(answers)


def together(*readings: Reading, marker: str | None = None) -> Fact:
    """A fact whose value is one `Answer` per reading, read with one command (a fresh marker per read).

    The batch's own exit status is its last command's; each answer carries its own, so read it
    with `check=False` and judge each answer (`Answer.ok`).
    """
    names = ", ".join(reading.fact.name for reading in readings)
    return Fact(f"together: {names}", lambda: batch_command(readings, marker or new_marker()),
                lambda output: parse_answers(readings, output), parse_failures=True)


def in_container(fact: Fact, container: str, workdir: str | None = None) -> Fact:
    """`fact` read inside `container` (`docker exec`, in `workdir`): a checkout's batch can join a host's batch."""
    return replace(fact, name=f"{fact.name} (in {container})",
                   command=lambda *arguments: docker.exec_in(container, fact.command(*arguments), workdir=workdir))
