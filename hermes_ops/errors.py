"""The project's one error hierarchy.

Every error hermes-ops raises on purpose derives from `HermesOpsError`, so a
notebook cell or the CLI can catch one type and still print something an
operator can act on: what failed, on which host, in which step, and what to do
next. Errors that concern a command carry its `Result`, so the output that
explains the failure travels with the exception instead of being lost.

Other modules add their own subclasses next to the code that raises them
(for example the sandbox's `SandboxError`); the SSH layer's errors live here
because every deploy step can meet them.

Messages are built only from already-redacted text (`Result` fields are
redacted when the result is built), and `str()` masks every secret registered
process-wide (the SSH key's passphrase) once more, so an error can be logged or
shown in a notebook without leaking it. `str()` is also neutralised
(`terminal_text`): output or a command line in a message cannot drive the
operator's terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hermes_ops.secrets import mask
from hermes_ops.terminal_text import neutralise

if TYPE_CHECKING:
    from hermes_ops.result import Result


class HermesOpsError(Exception):
    """Base of every hermes-ops error: says what failed, where, and what to do next.

    Args:
        message: one sentence saying what went wrong.
        host: where it went wrong (a hostname, or `user@host:port`).
        step: the deploy step that was running, if any.
        hint: what the operator should do next, in the imperative.
    """

    def __init__(self, message: str, *, host: str | None = None, step: str | None = None,
                 hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.host = host
        self.step = step
        self.hint = hint

    def details(self) -> list[str]:
        """Extra lines shown under the message (subclasses add output tails, fingerprints...)."""
        return []

    def __str__(self) -> str:
        where = " ".join(part for part in (f"[host {self.host}]" if self.host else "",
                                           f"[step {self.step}]" if self.step else "") if part)
        lines = [f"{where} {self.message}".strip()]
        lines.extend(f"  {line}" if line else "" for line in self.details())
        if self.hint:
            lines.append(f"  what to do: {self.hint}")
        return neutralise(mask("\n".join(lines)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({mask(self.message)!r})"


class ConfigError(HermesOpsError, ValueError):
    """A bad parameter or configuration, caught before anything touches a host."""


# --- SSH: connecting -----------------------------------------------------------------------------

class SSHError(HermesOpsError):
    """Something went wrong between us and the host's sshd (not in the remote command itself).

    `host` is the display form `user@host:port`; `hostname`, `port` and `user` are kept
    separately for callers that want to match on them.
    """

    def __init__(self, message: str, *, hostname: str | None = None, port: int | None = None,
                 user: str | None = None, step: str | None = None, hint: str | None = None):
        self.hostname = hostname
        self.port = port
        self.user = user
        super().__init__(message, host=_display_host(hostname, port, user), step=step, hint=hint)


class AuthenticationFailed(SSHError):
    """The host refused every key we offered.

    `offered` lists the keys tried, each as `path or source (type SHA256:...)`, because the
    first question an operator asks is "which key did it try?".
    """

    def __init__(self, message: str, *, offered: list[str] | tuple[str, ...] = (), **where):
        self.offered = tuple(offered)
        super().__init__(message, **where)

    def details(self) -> list[str]:
        if not self.offered:
            return ["keys offered: none"]
        return ["keys offered:", *(f"  {key}" for key in self.offered)]


class HostKeyError(SSHError):
    """The host's identity could not be confirmed; we refuse to talk to it.

    Carries the fingerprint the host presented (`SHA256:...`, as OpenSSH prints it), the
    fingerprints pinned for it in known_hosts (if any) and the known_hosts file consulted.
    """

    def __init__(self, message: str, *, presented: str, key_type: str,
                 pinned: list[str] | tuple[str, ...] = (), known_hosts: str | None = None, **where):
        self.presented = presented
        self.key_type = key_type
        self.pinned = tuple(pinned)
        self.known_hosts = known_hosts
        super().__init__(message, **where)

    def details(self) -> list[str]:
        lines = [f"presented: {self.key_type} {self.presented}"]
        lines.extend(f"pinned:    {pin}" for pin in self.pinned)
        if self.known_hosts:
            lines.append(f"known_hosts: {self.known_hosts}")
        return lines


class HostKeyUnknown(HostKeyError):
    """The host is not in known_hosts. Unknown hosts are refused, never added automatically."""


class HostKeyChanged(HostKeyError):
    """The host presented a key other than the one pinned for it: a rebuilt host, or an attack."""


class ConnectionFailed(SSHError):
    """No SSH session could be established. `reason` is one of the class constants below."""

    REFUSED = "refused"
    TIMED_OUT = "timed out"
    NAME_NOT_RESOLVED = "name not resolved"
    UNREACHABLE = "unreachable"
    PROTOCOL = "protocol error"

    def __init__(self, message: str, *, reason: str, **where):
        self.reason = reason
        super().__init__(message, **where)


class ConnectionRefused(ConnectionFailed):
    """Nothing listens on the port (sshd down, wrong port, or a firewall that rejects)."""


class ConnectionTimedOut(ConnectionFailed):
    """No answer within the connect timeout (host down, wrong address, or a firewall that drops)."""


class NameNotResolved(ConnectionFailed):
    """DNS (or /etc/hosts) has no address for the host name."""


class ConnectionLost(SSHError):
    """An established connection died, possibly in the middle of a command.

    `result` holds what the command printed before the connection went, when one was running;
    whether the remote command is still running is unknown.
    """

    def __init__(self, message: str, *, result: Result | None = None, **where):
        self.result = result
        super().__init__(message, **where)

    def details(self) -> list[str]:
        return _output_tail_lines(self.result) if self.result is not None else []


# --- remote commands -----------------------------------------------------------------------------

class CommandError(HermesOpsError):
    """A remote command did not succeed. Always carries its (redacted) `Result`."""

    def __init__(self, message: str, *, result: Result, step: str | None = None, hint: str | None = None):
        self.result = result
        super().__init__(message, host=result.host, step=step, hint=hint)

    def details(self) -> list[str]:
        return [f"command: {self.result.command}", *_output_tail_lines(self.result)]


class CommandFailed(CommandError):
    """The command exited non-zero (raised unless the caller asked for a probe with `check=False`).

    The message should carry the command's own reason (`failure_reason`): "exited 128"
    alone sends the operator digging, "fatal: Not possible to fast-forward" does not.
    """


class CommandTimedOut(CommandError):
    """The command outlived its timeout and was stopped.

    `remote_stopped` says whether the remote process group was verified gone afterwards
    (True), was still there (False), or could not be checked (None).
    """

    def __init__(self, message: str, *, result: Result, timeout: float,
                 remote_stopped: bool | None, **kwargs):
        self.timeout = timeout
        self.remote_stopped = remote_stopped
        super().__init__(message, result=result, **kwargs)


def _display_host(hostname: str | None, port: int | None, user: str | None) -> str | None:
    if hostname is None:
        return None
    text = f"{user}@{hostname}" if user else hostname
    return f"{text}:{port}" if port else text


TAIL_LINES = 10
TAIL_LINE_CHARS = 240


def _output_tail_lines(result: Result, lines: int = TAIL_LINES) -> list[str]:
    shown = []
    for name in ("stdout", "stderr"):
        tail = result.tail(lines, stream=name)
        if tail:
            shown.append(f"last {name} lines:")
            shown.extend(f"  | {_printable(line)}" for line in tail.splitlines())
    return shown


def _printable(line: str, limit: int = TAIL_LINE_CHARS) -> str:
    """One output line fit for a terminal: controls shown as visible escapes (`neutralise`), long lines cut."""
    text = neutralise(line[:limit])
    return text if len(line) <= limit else f"{text}... [{len(line) - limit} more characters]"


REASON_CHARS = 160
_OMITTED_MARKER = "bytes omitted by hermes-ops"


def failure_reason(result: Result) -> str:
    """The line in which a failed command says why: the last meaningful line of stderr, else of stdout.

    Meaningful: has a letter or digit, is not a git `hint:` line, is not hermes-ops's own
    truncation marker. Neutralised and cut to `REASON_CHARS`; empty if there is none.
    """
    for text in (result.stderr, result.stdout):
        for line in reversed(text.splitlines()[-50:]):
            line = line.strip()
            if (any(char.isalnum() for char in line) and not line.lower().startswith("hint:")
                    and _OMITTED_MARKER not in line):
                return _printable(line, REASON_CHARS)
    return ""


def failed_command_message(result: Result, status: str) -> str:
    """The one-line message of a `CommandFailed`: status, the command's own reason, then the command.

    e.g. `command exited 128: fatal: Not possible to fast-forward, aborting. (git pull --ff-only origin main)`
    """
    reason = failure_reason(result)
    command = neutralise(result.command)
    return f"command {status}: {reason} ({command})" if reason else f"command {status}: {command}"
