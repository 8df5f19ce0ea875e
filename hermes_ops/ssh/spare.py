"""`SpareChannel`: the next command's session channel, opened while the program does its own work between commands.

Opening a session channel costs a round trip to the host (CHANNEL_OPEN, then its confirmation), and a
deploy runs its commands one after another: over a 40 ms link, 40 ms a command. So once a command has
ended (or the connection is new), the runner asks for the next channel in a thread, and the next command
starts on it. One spare at most, tied to the transport it was opened on; a command never waits longer for
it than it would have waited to open its own. A spare the host refused or closed is simply not there: the
command opens its own channel and meets the reason itself. Sessions in use never exceed what they were
without a spare: the spare is opened only between commands and the next command, held or not, takes it.
"""

from __future__ import annotations

import threading

import paramiko


class SpareChannel:
    """At most one open, unused session channel of one transport."""

    def __init__(self, open_timeout: float):
        self._timeout = open_timeout
        self._lock = threading.Lock()
        self._transport: paramiko.Transport | None = None
        self._channel: paramiko.Channel | None = None
        self._opening: threading.Thread | None = None

    def prepare(self, transport: paramiko.Transport) -> None:
        """Start opening a channel on `transport` in the background, unless one is there or on its way."""
        with self._lock:
            if self._transport is transport and (self._channel is not None or self._opening is not None):
                return
            self._close_locked()
            self._transport = transport
            self._opening = threading.Thread(target=self._open, args=(transport,), name="hermes-ops-spare-channel",
                                             daemon=True)
            self._opening.start()

    def take(self, transport: paramiko.Transport) -> paramiko.Channel | None:
        """The spare channel of `transport`, open and unused (waiting for one on its way), or None."""
        opening = self._opening
        if opening is not None and self._transport is transport:
            opening.join(self._timeout)
        with self._lock:
            channel, self._channel = (self._channel, None) if self._transport is transport else (None, self._channel)
        if channel is None:
            return None
        if channel.closed or not channel.active or not transport.is_active():
            channel.close()
            return None
        return channel

    def discard(self) -> None:
        """Close the spare, if any (the connection is closing, or was lost)."""
        with self._lock:
            self._close_locked()

    def _open(self, transport: paramiko.Transport) -> None:
        try:
            channel = transport.open_session(timeout=self._timeout)
        except Exception:  # refused (MaxSessions) or the connection is going: the next command sees why itself
            channel = None
        with self._lock:
            if self._transport is transport and self._opening is threading.current_thread():
                self._channel, self._opening = channel, None
            elif channel is not None:
                channel.close()

    def _close_locked(self) -> None:
        channel, self._channel, self._transport, self._opening = self._channel, None, None, None
        if channel is not None:
            channel.close()
