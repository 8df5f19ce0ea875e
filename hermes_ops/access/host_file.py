"""Read and edit the host's ~/.ssh/authorized_keys by compare-and-swap, so concurrent edits are never lost.

`read` parses what `commands.authorized_keys.read_state` prints into a `HostKeysFile`.
`edit` reads, asks a `transform` for the new text, and writes it with
`replace_if_unchanged`: if someone else changed the file in between (exit 75), it reads
again and re-applies the transform to the fresh text, so their change is kept. What the
transform does to the text (parsing keys, options) is not this module's business.

The text is decoded as UTF-8 with `surrogateescape`, and encoded back the same way, so
bytes that are not UTF-8 (an old comment in Latin-1) and CRLF line ends survive unchanged.
The new content travels on stdin, never in argv (argv shows up in `ps` and in records).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Callable

from hermes_ops.commands import authorized_keys as commands
from hermes_ops.errors import CommandFailed, ConfigError, failed_command_message
from hermes_ops.result import Result

Run = Callable[..., Result]  # called as run(argv, timeout=..., check=..., stdin=...), like SSHRunner.run
Transform = Callable[["HostKeysFile"], "str | None"]

TIMEOUT_SECONDS = 60.0  # the write waits up to 30 s for the lock, then moves a few kilobytes
READ_ATTEMPTS = 3  # a writer that edits in place (not by rename) can change the file between two reads
ENCODING = "utf-8"
ERRORS = "surrogateescape"


class EditConflict(CommandFailed):
    """The file changed between our read and our write on every attempt; nothing of ours was written."""


@dataclass(frozen=True)
class HostKeysFile:
    """~/.ssh/authorized_keys as the host has it now, and the host's clock.

    Attributes:
        text: the file's content (empty if there is no file), byte-exact (see the module docstring).
        sha256: hex sha256 of the file's bytes; None if there is no file.
        exists: whether the file exists.
        owner: `user:group` ("" if no file).
        mode: octal permissions as `stat -c %a` prints them, e.g. "600" ("" if no file).
        now_epoch: the host's clock, seconds since the epoch.
        now_local: the same moment in the host's local time, "YYYYMMDDHHMMSS".
        expiry_local: now + expiry_seconds in the host's local time, "YYYYMMDDHHMM" (sshd's
            expiry-time form); None when no expiry was asked for.
        timezone: the host's time zone abbreviation (e.g. "UTC", "CET"), which expiry_local is in.
    """

    text: str
    sha256: str | None
    exists: bool
    owner: str
    mode: str
    now_epoch: int
    now_local: str
    expiry_local: str | None
    timezone: str


@dataclass(frozen=True)
class Edit:
    """What `edit` did.

    Attributes:
        before: the state the transform was last applied to (the file as it was when the
            edit that landed, or the no-op, was decided).
        after_text: the file's text now (equal to `before.text` when nothing changed).
        changed: True if new content was written.
        attempts: how many times the file was read and the transform applied (1 without contention).
    """

    before: HostKeysFile
    after_text: str
    changed: bool
    attempts: int


def encode(text: str) -> bytes:
    """The file's bytes for `text`: the inverse of how `read` decoded them."""
    return text.encode(ENCODING, ERRORS)


def read(run: Run, *, expiry_seconds: int | None = None) -> HostKeysFile:
    """Read the host's authorized_keys and clock (a read-only command).

    Args:
        run: runs an argument list on the host (`SSHRunner.run`).
        expiry_seconds: if given, `expiry_local` is now + this many seconds in the host's time zone.

    Raises:
        ConfigError: `expiry_seconds` is invalid.
        CommandFailed: the command failed, its output was cut or garbled, or the file kept
            changing while it was read.
    """
    argv = commands.read_state(expiry_seconds)
    for _ in range(READ_ATTEMPTS):
        result = run(argv, timeout=TIMEOUT_SECONDS, check=False)
        if not result.ok:
            raise CommandFailed(failed_command_message(result, _status(result)), result=result,
                                hint="read the error above; check that ~/.ssh/authorized_keys is readable by the "
                                     "login user and that the host has GNU coreutils (date -d, stat -c, base64)")
        state = parse_state(result)
        if state is not None:
            return state
    raise CommandFailed(f"~/.ssh/authorized_keys on {result.host} changed while it was being read, "
                        f"{READ_ATTEMPTS} times in a row", result=result,
                        hint="something rewrites the file in place right now (config management?); "
                             "find it and stop it, then try again")


def parse_state(result: Result) -> HostKeysFile | None:
    """The `HostKeysFile` that `read_state` printed; None if the file changed between its digest and its read.

    Raises:
        CommandFailed: the output is cut (too big for the result) or not what read_state prints.
    """
    if result.truncated:
        raise CommandFailed(f"~/.ssh/authorized_keys on {result.host} is too big to read in one result "
                            f"({result.stdout_bytes} bytes of output)", result=result,
                            hint="raise the runner's capture_head_bytes/capture_tail_bytes, or prune the file")
    header, marker, body = result.stdout.partition(f"\n{commands.CONTENT_MARKER}\n")
    fields = dict(line.split("=", 1) for line in header.splitlines() if "=" in line)
    try:
        exists = {"yes": True, "no": False}[fields["exists"]]
        clock = dict(now_epoch=int(fields["now_epoch"]), now_local=fields["now_local"],
                     expiry_local=fields.get("expiry_local"), timezone=fields["timezone"])
        if not exists:
            return HostKeysFile(text="", sha256=None, exists=False, owner="", mode="", **clock)
        *encoded, end, rest = body.split("\n")
        if not marker or end != "end" or rest:
            raise ValueError("the content is not framed by its marker and `end`")
        content = base64.b64decode("".join(encoded), validate=True)
    except (KeyError, ValueError, binascii.Error) as error:
        raise CommandFailed(f"unexpected answer from the authorized_keys read on {result.host} "
                            f"({type(error).__name__}: {str(error)[:80]})", result=result,
                            hint="check that the host has GNU coreutils (date -d, stat -c, base64)") from None
    if hashlib.sha256(content).hexdigest() != fields.get("sha256"):
        return None
    return HostKeysFile(text=content.decode(ENCODING, ERRORS), sha256=fields["sha256"], exists=True,
                        owner=fields.get("owner", ""), mode=fields.get("mode", ""), **clock)


def edit(run: Run, transform: Transform, *, expiry_seconds: int | None = None, attempts: int = 5) -> Edit:
    """Apply `transform` to the host's authorized_keys, writing only if the text changes.

    `transform(state)` returns the new text, or None (or the same text) for "nothing to do";
    then no write command runs at all. If the file changes between the read and the write,
    the file is read again and `transform` re-applied to the fresh state, up to `attempts`
    times, so an edit made meanwhile by someone else is kept, never overwritten. An
    exception from `transform` propagates and nothing is written.

    Args:
        run: runs an argument list on the host (`SSHRunner.run`).
        transform: computes the new text from the current state; may be called several times.
        expiry_seconds: passed to `read` on every attempt (a fresh `expiry_local` each time).
        attempts: how many read-transform-write rounds to try before giving up.

    Raises:
        EditConflict (a CommandFailed): the file changed under us on every attempt.
        CommandFailed: a command failed (its stderr tail is in the error).
        ConfigError: bad `attempts`, or `transform` returned something that is not text.
    """
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ConfigError(f"attempts must be a whole number >= 1, not {attempts!r}", step="authorized_keys")
    for attempt in range(1, attempts + 1):
        state = read(run, expiry_seconds=expiry_seconds)
        new_text = transform(state)
        if new_text is None or new_text == state.text:
            return Edit(before=state, after_text=state.text, changed=False, attempts=attempt)
        if not isinstance(new_text, str):
            raise ConfigError(f"the authorized_keys transform returned {type(new_text).__name__}, not text",
                              step="authorized_keys", hint="return the whole new file as a str, or None")
        content = encode(new_text)
        new_sha256 = hashlib.sha256(content).hexdigest()
        result = run(commands.replace_if_unchanged(state.sha256, new_sha256), timeout=TIMEOUT_SECONDS,
                     check=False, stdin=content)
        if result.ok:
            return Edit(before=state, after_text=new_text, changed=True, attempts=attempt)
        if result.exit_code != commands.CHANGED_EXIT:
            raise CommandFailed(failed_command_message(result, _status(result)), result=result,
                                hint=_WRITE_HINTS.get(result.exit_code, _WRITE_HINTS[None]))
    raise EditConflict(f"~/.ssh/authorized_keys on {result.host} kept changing: another edit landed between "
                       f"our read and our write {attempts} times in a row; nothing of ours was written",
                       result=result,
                       hint="find who else edits the file now (another admin, config management, a cron job), "
                            "wait for them to finish, then run this edit again")


_WRITE_HINTS = {
    commands.CORRUPTED_EXIT: "the new content did not arrive intact and nothing was written; run the edit again",
    None: "nothing was written (the old file is in place); fix what the error says, then run the edit again",
}


def _status(result: Result) -> str:
    return f"exited {result.exit_code}" if result.exit_code is not None else "was killed by a signal"
