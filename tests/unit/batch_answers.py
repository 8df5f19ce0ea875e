"""A unit test's stand-in runner answering a batch of facts (`facts.batch.together`) part by part."""

from __future__ import annotations

import shlex
from collections.abc import Callable

from hermes_ops.facts import batch

FRAME = 'printf "\\n%s %s\\n" "$1" "$?"'  # what `batch_command` puts after every part


def batch_parts(argv) -> list[list[str]] | None:
    """The argument lists of a batch command's parts, in order; None if `argv` is not a batch."""
    if list(argv[:2]) != ["sh", "-c"] or list(argv[3:4]) != [batch.PROGRAM_NAME]:
        return None
    _marker_line, _, body = argv[2].partition("\n")
    return [shlex.split(part) for part in body.split("\n" + FRAME) if part.strip()]


def answer_batch(argv, answer_part: Callable[[list[str]], tuple[int, str]]) -> tuple[int, str] | None:
    """A batch's (exit code, stdout) as the host's sh would print it, each part answered by `answer_part`;
    None if `argv` is not a batch."""
    parts = batch_parts(argv)
    if parts is None:
        return None
    marker, status, output = argv[4], 0, argv[4] + "\n"
    for part in parts:
        status, stdout = answer_part(part)
        output += f"{stdout}\n{marker} {status}\n"
    return status, output
