"""`Fact`: a read-only probe of the host, made of a command builder and a pure parser of what it prints.

The parser never sees a connection: it takes text and returns a typed value, so every format
the host may answer in is tested as plain data. `read` is the only I/O, and a thin one: it runs
the built command through whatever the caller runs commands with (`Deploy.run`, `Deploy.in_admin`,
`SSHRunner.run`), passing the caller's options (`check`, `quiet`, `timeout`) through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

Value = TypeVar("Value")


class Answer(Protocol):
    """What a command run returns, as far as a fact cares (`hermes_ops.result.Result` is one)."""

    @property
    def ok(self) -> bool: ...

    @property
    def stdout(self) -> str: ...


class RunsCommands(Protocol):
    """A callable that runs an argument list: `Deploy.run`, `Deploy.in_admin`, `SSHRunner.run`."""

    def __call__(self, argv: list[str], /, **options) -> Answer: ...


@dataclass(frozen=True)
class Fact(Generic[Value]):
    """A read-only probe: `command(*arguments)` builds the argument list, `parse(output)` reads the answer.

    Attributes:
        name: what the fact is, for people.
        command: a pure builder from `hermes_ops.commands` (or one composed of them).
        parse: a pure function of the command's standard output.
        when_failed: the value when the command exits non-zero (the thing is absent, or nobody answered).
        parse_failures: parse the output whatever the exit status (e.g. curl's `%{http_code}`
            prints 000 and exits non-zero when nothing answers).
    """

    name: str
    command: Callable[..., list[str]]
    parse: Callable[[str], Value]
    when_failed: Value | None = None
    parse_failures: bool = False

    def value(self, output: str, *, ok: bool = True) -> Value | None:
        """The fact's value from a command's standard output and whether it exited 0 (pure)."""
        if not ok and not self.parse_failures:
            return self.when_failed
        return self.parse(output)

    def read(self, run: RunsCommands, *arguments, **options) -> Value | None:
        """Run the command through `run` (with the caller's `options`) and parse what it printed."""
        answer = run(self.command(*arguments), **options)
        return self.value(answer.stdout, ok=answer.ok)


def first_line(output: str) -> str:
    """The first non-blank line, stripped (CRLF and trailing blanks included); "" if there is none."""
    for line in output.splitlines():
        if line.strip():
            return line.strip()
    return ""


def lines(output: str) -> tuple[str, ...]:
    """The non-blank lines, each with its trailing blanks (and a CR) removed; leading blanks kept."""
    return tuple(line.rstrip() for line in output.splitlines() if line.strip())
