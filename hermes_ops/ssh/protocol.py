"""`Runner`: what a deploy needs from whatever runs its commands on a host.

`SSHRunner` runs them over one SSH connection; `DryRunRunner` shows them and runs nothing.
Both satisfy this protocol (a unit test checks the method signatures too), so code written
against `Runner` takes either. `SSHRunner.open_held_channel` (a channel the deploy lock lives
on) is deliberately not part of it: a dry run never takes the host's lock.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

from hermes_ops.result import Result
from hermes_ops.secrets import Secret
from hermes_ops.ssh.streams import StreamCallback
from hermes_ops.ssh.target import SSHTarget

Stdin = str | bytes | Secret | None


@runtime_checkable
class Runner(Protocol):
    """Runs commands on `target`, one at a time, and returns each one's `Result`."""

    target: SSHTarget

    @property
    def connected(self) -> bool:
        """True while a connection to the host is open (always False for a dry run)."""

    @property
    def host_key_fingerprint(self) -> str | None:
        """The verified host key's `SHA256:...` fingerprint; None if no host was contacted."""

    def connect(self) -> Runner:
        """Open the connection if it is not open; returns the runner itself."""

    def close(self) -> None:
        """Close the connection; safe to call more than once."""

    def run(self, argv: Sequence, *, timeout: float | None = ..., check: bool = True,
            stream: StreamCallback | None = None, stdin: Stdin = None, guard: Sequence = ()) -> Result:
        """Run an argument list (quoted in one place, never shell-interpreted); see `SSHRunner.run`."""

    def run_shell(self, script: str, *, timeout: float | None = ..., check: bool = True,
                  stream: StreamCallback | None = None, stdin: Stdin = None) -> Result:
        """Run a raw shell script with `/bin/sh -c`, the explicit opt-in to shell syntax."""

    def __enter__(self) -> Runner:
        """`with runner:` connects, and closes on the way out."""

    def __exit__(self, *exc_info) -> None:
        """Close the connection."""
