"""`DryRunRunner`: the runner interface without a host.

It records and prints each command it would run and returns a successful, empty
`Result` marked `dry_run=True`, never opening a connection. Quoting and redaction are
the real ones, so a dry run shows exactly the command lines a real run would send
(secrets masked).

Probes get exit code 0 and empty output too; steps that decide from a probe's output
should say so in dry-run mode rather than trust it.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Callable, Iterable, Sequence

from hermes_ops.result import Result
from hermes_ops.secrets import Redactor, Secret
from hermes_ops.ssh import commandline
from hermes_ops.ssh.protocol import Stdin
from hermes_ops.ssh.streams import StreamCallback
from hermes_ops.ssh.target import SSHTarget


class DryRunRunner:
    """A `Runner` (as `SSHRunner` is) that contacts no host; `commands` lists the (redacted) command lines "run".

    Args:
        target: the host the commands are meant for (only shown, never contacted).
        secrets: values to mask, as for `SSHRunner`.
        stream: accepted for interface compatibility; it receives no lines.
        echo: where each command line is printed (default `print`); None to stay quiet.
    """

    def __init__(self, target: SSHTarget, *, secrets: Iterable[Secret | str] = (),
                 stream: StreamCallback | None = None, echo: Callable[[str], None] | None = print, **_ignored):
        self.target = target
        self.redactor = Redactor(secrets)
        self.stream = stream
        self.echo = echo
        self.commands: list[str] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DryRunRunner({self.target.display}, {len(self.commands)} commands)"

    @property
    def connected(self) -> bool:
        return False

    @property
    def host_key_fingerprint(self) -> str | None:
        return None  # no host was contacted

    def connect(self) -> DryRunRunner:
        return self

    def close(self) -> None:
        pass

    def __enter__(self) -> DryRunRunner:
        return self

    def __exit__(self, *exc_info) -> None:
        pass

    def run(self, argv: Sequence, *, timeout: float | None = None, check: bool = True,
            stream: StreamCallback | None = None, stdin: Stdin = None, guard: Sequence = ()) -> Result:
        """Record `argv` as it would be sent (quoted, secrets masked; a guard, as ever, not shown); return success."""
        for argument in argv if not isinstance(argv, (str, bytes)) else ():
            if isinstance(argument, Secret):
                self.redactor.add(argument)
        return self._record(commandline.join_argv(argv, reveal=False))

    def run_shell(self, script: str, *, timeout: float | None = None, check: bool = True,
                  stream: StreamCallback | None = None, stdin: Stdin = None) -> Result:
        """Record the script as `run_shell` would send it; return success."""
        return self._record(commandline.shell_command(script))

    def _record(self, command: str) -> Result:
        display = self.redactor.redact(command)
        now = datetime.now(timezone.utc)
        with self._lock:
            self.commands.append(display)
        if self.echo is not None:
            self.echo(f"[dry-run] {self.target.display} $ {display}")
        return Result(host=self.target.display, command=display, exit_code=0, stdout="", stderr="",
                      started_at=now, ended_at=now, duration=0.0, dry_run=True)
