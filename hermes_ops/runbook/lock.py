"""The deploy lock on the host: taken before anything changes, released in every outcome."""

from __future__ import annotations

import time

from hermes_ops.commands import lock as lock_commands
from hermes_ops.errors import HermesOpsError
from hermes_ops.facts.lock import LockAnswer, LockState, answer_complete, parse_answer


class LockBusy(HermesOpsError):
    """Another deploy holds the lock."""

    def __init__(self, holder: str, *, host: str | None = None, step: str | None = None):
        self.holder = holder
        super().__init__(f"another deploy holds the lock on this host: {holder or 'holder unknown'}",
                         host=host, step=step,
                         hint="wait for it (lock_wait parameter, in seconds), or if its operator confirms it is "
                              "stuck: `hermes-ops lock break -f PARAMS` (the break is recorded in the host log)")


class DeployLock:
    """Holds `~/.hermes/deploy.lock` through an open channel of `runner`'s connection."""

    def __init__(self, runner, *, host: str, step: str | None = None):
        self.runner = runner
        self.host = host
        self.step = step
        self._channel = None

    @property
    def held(self) -> bool:
        return self._channel is not None and not self._channel.closed

    @property
    def lost(self) -> bool:
        """True if we took the lock and its holder process on the host has ended (e.g. `lock break`)."""
        channel = self._channel
        return channel is None or channel.closed or channel.exit_status_ready()

    def acquire(self, holder: str, wait: float = 0.0, poll: float = 1.0, answer_timeout: float = 30.0) -> None:
        """Take the lock as `holder` (who, which run, what commit, since when); wait up to `wait` seconds."""
        deadline = time.monotonic() + wait
        while True:
            channel = self.runner.open_held_channel(lock_commands.hold(holder))
            answer = _read_answer(channel, answer_timeout)
            if answer.state is LockState.LOCKED:
                self._channel = channel
                return
            channel.close()
            if answer.state is not LockState.BUSY:
                raise HermesOpsError(f"could not take the deploy lock (answer {answer.first_line!r})",
                                     host=self.host, step=self.step,
                                     hint="check that `flock` (util-linux) exists on the host")
            if time.monotonic() >= deadline:
                raise LockBusy(answer.holder, host=self.host, step=self.step)
            time.sleep(poll)

    def release(self) -> None:
        """Close our channel: the holder's `cat` ends, the flock is freed. Safe to call twice."""
        channel, self._channel = self._channel, None
        if channel is None:
            return
        try:
            channel.shutdown_write()
            deadline = time.monotonic() + 5
            while not channel.exit_status_ready() and time.monotonic() < deadline:
                time.sleep(0.05)
        except Exception:  # the connection may already be gone: then so is the lock
            pass
        finally:
            channel.close()


def _read_answer(channel, timeout: float) -> LockAnswer:
    """Read `hold`'s answer from its channel until it is whole (LOCKED, or BUSY and the holder line)."""
    buffer = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if channel.recv_ready():
            buffer += channel.recv(4096)
            if answer_complete(buffer.decode(errors="replace"), ended=channel.exit_status_ready()):
                return parse_answer(buffer.decode(errors="replace"))
        elif channel.exit_status_ready() and not channel.recv_ready():
            answer = parse_answer(buffer.decode(errors="replace"))
            # Nothing printed at all: the exit status is all there is to tell.
            return answer if answer.first_line else LockAnswer(None, first_line=f"exit {channel.recv_exit_status()}")
        else:
            time.sleep(0.02)
    raise HermesOpsError(f"no answer from the lock command within {timeout:.0f}s", step=None,
                         hint="check the connection to the host")
