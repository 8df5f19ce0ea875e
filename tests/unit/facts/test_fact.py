"""`Fact`: the command is built, run through the caller's runner with the caller's options, and parsed."""

from __future__ import annotations

from dataclasses import dataclass

from hermes_ops.facts import Fact


@dataclass(frozen=True)
class Answer:
    ok: bool
    stdout: str


class Runner:
    """Records what it was asked to run; answers with one canned `Answer`."""

    def __init__(self, answer: Answer):
        self.answer = answer
        self.calls: list[tuple[list[str], dict]] = []

    def run(self, argv, **options):
        self.calls.append((argv, options))
        return self.answer


def echo(word: str) -> list[str]:
    return ["echo", word]


WORD = Fact("word", echo, lambda output: output.strip() or None, when_failed="absent")


def test_read_runs_the_built_command_with_the_callers_options_and_parses_it():
    runner = Runner(Answer(ok=True, stdout="hello\r\n"))
    assert WORD.read(runner.run, "hello", check=False, quiet=True) == "hello"
    assert runner.calls == [(["echo", "hello"], {"check": False, "quiet": True})]


def test_a_failed_command_gives_the_failure_value_without_parsing():
    assert WORD.read(Runner(Answer(ok=False, stdout="some error text")).run, "x") == "absent"
    assert WORD.value("some error text", ok=False) == "absent"


def test_a_fact_that_reads_failures_parses_them():
    status = Fact("status", echo, lambda output: output.strip(), parse_failures=True)
    assert status.read(Runner(Answer(ok=False, stdout="000")).run, "x") == "000"


def test_value_defaults_to_a_successful_command():
    assert WORD.value("  word  ") == "word"
    assert WORD.value("") is None
