"""`SSHRunner`: runs commands on one host over one reused SSH connection.

Shaped like Invoke's Runner: a few small methods (start, wait, stop, build the result),
each doing one thing. What it guarantees, and why:

- one connection (one paramiko Transport) for every command of a deploy, opened lazily
  or by `connect()`, always closed by the context manager; the next command's channel is
  opened while the caller works between commands (`spare.SpareChannel`: a round trip less
  per command);
- commands are argument lists, quoted in exactly one place (`commandline`); a raw shell
  script needs the explicit `run_shell`;
- stdout and stderr are drained concurrently by one thread each, so no output size can
  deadlock a command, and lines reach the stream callback while the command runs;
- a `Result` keeps bounded output (head, tail, byte counts, sha256);
- a timeout stops the remote process group (over a second channel) and checks it is gone;
- a connection that dies, or goes silent for `keepalive_interval * keepalive_count_max`
  seconds, raises `ConnectionLost` instead of hanging;
- every secret given to the runner, registered process-wide (`secrets.register_secret`:
  the key's passphrase) or passed as a `Secret` in a command or its stdin is masked in
  streamed lines (remote output included), results, errors and logs;
- a failed command's error names its own reason (the last meaningful stderr line).

A runner runs one command at a time; calls from several threads are serialised.
"""

from __future__ import annotations

import logging
import secrets as token_source
import threading
import time
from datetime import datetime, timezone
from typing import Iterable, Sequence

import paramiko

from hermes_ops.errors import CommandFailed, CommandTimedOut, ConfigError, ConnectionLost, failed_command_message
from hermes_ops.result import Result
from hermes_ops.secrets import Redactor, Secret
from hermes_ops.ssh import commandline
from hermes_ops.ssh.allocator import keep_stream_buffers_on_heap
from hermes_ops.ssh.auth import PassphrasePrompt
from hermes_ops.ssh.capture import DEFAULT_HEAD_BYTES, DEFAULT_TAIL_BYTES, BoundedCapture
from hermes_ops.ssh.hostkeys import fingerprint
from hermes_ops.ssh.protocol import Stdin
from hermes_ops.ssh.spare import SpareChannel
from hermes_ops.ssh.streams import PidMarkerFilter, SerializedCallback, StreamCallback, StreamReader
from hermes_ops.ssh.target import SSHTarget
from hermes_ops.ssh.transport import Connection, open_connection

log = logging.getLogger("hermes_ops.ssh")

DEFAULT_TIMEOUT = 600.0
# Upper bound on the helper channel that stops a timed-out command (3 s TERM grace + 3 s KILL wait + slack).
STOP_TIMEOUT = 15.0
# How long to wait for the readers after the channel was closed on our side.
DRAIN_GRACE = 5.0


class SSHRunner:
    """Runs commands on `target` over one SSH connection.

    Args:
        target: where to connect (see `SSHTarget`).
        secrets: values to mask as `****` everywhere output or commands are shown.
        stream: default callback `(stream_name, line)` receiving every output line,
            already redacted, while commands run; called from reader threads, one call
            at a time. None: no streaming (the `Result` still holds the output).
        passphrase_prompt: called with the key path if the key is encrypted and the
            target's passphrase environment variable is unset.
        capture_head_bytes, capture_tail_bytes: how much of each stream a `Result` keeps.
    """

    def __init__(self, target: SSHTarget, *, secrets: Iterable[Secret | str] = (),
                 stream: StreamCallback | None = None, passphrase_prompt: PassphrasePrompt | None = None,
                 capture_head_bytes: int = DEFAULT_HEAD_BYTES, capture_tail_bytes: int = DEFAULT_TAIL_BYTES):
        self.target = target
        self.redactor = Redactor(secrets)
        self.stream = stream
        self._passphrase_prompt = passphrase_prompt
        self._capture_limits = (capture_head_bytes, capture_tail_bytes)
        self._connection: Connection | None = None
        self._lost = False  # the connection died under us: run() refuses until connect() is called
        self._lock = threading.RLock()
        self._probe: threading.Thread | None = None
        self._last_probe_answer = 0.0
        self._spare = SpareChannel(target.connect_timeout)

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"SSHRunner({self.target.display}, {state})"

    # --- connection ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connection is not None and self._connection.active

    @property
    def host_key_fingerprint(self) -> str | None:
        """SHA256 fingerprint of the (verified) key the connected host presented; None if not connected."""
        if self._connection is None:
            return None
        return fingerprint(self._connection.transport.get_remote_server_key())

    @property
    def authenticated_key_fingerprint(self) -> str | None:
        """SHA256 fingerprint of the key sshd accepted for this session; None if not connected.

        Tells which authorized_keys line this session depends on (so an admin cannot revoke it).
        """
        connection = self._connection
        if connection is None or connection.client_key is None:
            return None
        return fingerprint(connection.client_key.key)

    def open_held_channel(self, argv: Sequence) -> paramiko.Channel:
        """Start `argv` on its own channel and hand the channel back, still open.

        For a process whose life is the channel's, like the deploy lock: its stdin closes
        (and a lock tied to it is freed) when the caller closes the channel or the
        connection dies. The caller reads its output and must close it.
        """
        for argument in argv if not isinstance(argv, (str, bytes)) else ():
            if isinstance(argument, Secret):
                self.redactor.add(argument)
        display = self.redactor.redact(commandline.join_argv(argv, reveal=False))
        with self._lock:
            connection = self._live_connection()
            log.info("%s $ %s (held channel)", self.target.display, display)
            try:
                channel = self._open_channel(connection)
                channel.exec_command(commandline.join_argv(argv, reveal=True))
            except (paramiko.SSHException, EOFError, OSError) as error:
                self._drop_connection()
                raise self._lost_error(f"connection lost before the command could start: {display}") from error
            return channel

    def connect(self) -> SSHRunner:
        """Open the connection if it is not open: first use, or again after it was lost or closed."""
        with self._lock:
            if not self.connected:
                if self._connection is not None:
                    self._connection.close()
                keep_stream_buffers_on_heap()
                self._connection = open_connection(self.target, passphrase_prompt=self._passphrase_prompt)
                self._lost = False
                self._spare.prepare(self._connection.transport)
            return self

    def close(self) -> None:
        """Close the connection (and the bastion's). Safe to call more than once."""
        connection, self._connection = self._connection, None
        self._lost = False
        self._spare.discard()
        if connection is not None:
            connection.close()

    def _live_connection(self) -> Connection:
        """The open connection, opened now on first use.

        A connection that was lost is not silently replaced: a deploy should notice that its
        host went away (and maybe rebooted) before it carries on, so run() raises
        `ConnectionLost` until the caller reconnects with `connect()`.
        """
        if self._connection is None and not self._lost:
            return self.connect()._connection
        if self._connection is None or not self._connection.active:
            self._drop_connection()
            raise self._lost_error("connection lost before the command could start")
        return self._connection

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        self._lost = True
        self._spare.discard()
        if connection is not None:
            connection.close()

    def __enter__(self) -> SSHRunner:
        return self.connect()

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- commands --------------------------------------------------------------------------

    def run(self, argv: Sequence, *, timeout: float | None = DEFAULT_TIMEOUT, check: bool = True,
            stream: StreamCallback | None = None, stdin: Stdin = None, guard: Sequence = ()) -> Result:
        """Run an argument list (`["docker", "ps"]`) on the host and wait for it.

        Args:
            argv: the command and its arguments (str, path, int or `Secret`); quoted with
                `shlex.join`, so no argument is ever interpreted by a shell.
            timeout: seconds before the remote command is stopped (None: no limit).
            check: raise `CommandFailed` on a non-zero exit (False: a probe; inspect `.ok`).
            stream: callback for this command's lines (default: the runner's).
            stdin: data sent to the command's standard input, then EOF. Prefer this over
                arguments for secrets (`docker login --password-stdin`): arguments are
                visible in the host's process list.
            guard: an argument list put in front of `argv` on the host that checks a
                condition and then execs the rest (the deploy lock's `fenced`): one round
                trip for both. Like the runner's own pid wrapper, it is not part of what
                logs and the result show; a refusal shows in the exit code and stderr.

        Returns:
            the `Result`.

        Raises:
            CommandFailed, CommandTimedOut, ConnectionLost, and connection errors.
        """
        for argument in argv if not isinstance(argv, (str, bytes)) else ():
            if isinstance(argument, Secret):
                self.redactor.add(argument)
        display = self.redactor.redact(commandline.join_argv(argv, reveal=False))
        wire = commandline.join_argv([*guard, *argv], reveal=True)
        return self._execute(display, wire, timeout=timeout, check=check, stream=stream, stdin=stdin)

    def run_shell(self, script: str, *, timeout: float | None = DEFAULT_TIMEOUT, check: bool = True,
                  stream: StreamCallback | None = None, stdin: Stdin = None) -> Result:
        """Run a raw shell script with `/bin/sh -c` — the explicit opt-in to shell syntax.

        Use it for pipes and redirections (`df -P / | tail -1`); everything else should be
        `run(argv)`. Same arguments, result and errors as `run`.
        """
        display = self.redactor.redact(commandline.shell_command(script))
        return self._execute(display, commandline.shell_command(script), timeout=timeout, check=check,
                             stream=stream, stdin=stdin)

    # --- the steps of one command ------------------------------------------------------------

    def _execute(self, display: str, wire: str, *, timeout: float | None, check: bool,
                 stream: StreamCallback | None, stdin: Stdin) -> Result:
        if timeout is not None and timeout <= 0:
            raise ConfigError(f"timeout must be positive or None, not {timeout!r}")
        stdin_bytes = self._stdin_bytes(stdin)
        with self._lock:
            connection = self._live_connection()
            log.info("%s $ %s", self.target.display, display)
            started_wall, started = datetime.now(timezone.utc), time.monotonic()
            nonce = token_source.token_hex(8)
            channel = self._start(connection, display, wire, nonce)
            marker = PidMarkerFilter(commandline.marker(nonce))
            readers = self._start_readers(channel, marker, stream)
            self._start_stdin(channel, stdin_bytes)
            deadline = None if timeout is None else started + timeout
            try:
                outcome = self._wait(connection, channel, readers, deadline)
            except BaseException:  # KeyboardInterrupt from a notebook: do not leave the command running
                self._stop(connection, channel, readers, marker)
                raise
            if outcome == "timeout":
                stopped = self._stop(connection, channel, readers, marker)
                result = self._result(display, None, readers, started_wall, started)
                raise CommandTimedOut(
                    f"command timed out after {timeout:g}s" + ("" if stopped else
                                                              " and could not be confirmed stopped"),
                    result=result, timeout=timeout, remote_stopped=stopped,
                    hint="raise the timeout if the command is just slow" if stopped else
                    "check the host for the leftover process (ps -ef) and stop it by hand")
            exit_code = channel.exit_status if channel.exit_status != -1 else None
            if exit_code is None and self._connection_died(connection, channel):
                outcome = "lost"
            if outcome == "lost":
                self._drop(channel, readers)
                result = self._result(display, None, readers, started_wall, started)
                self._drop_connection()
                raise self._lost_error(f"connection lost while running: {display}", result)
            channel.close()
            self._spare.prepare(connection.transport)  # the next command's, while the caller looks at this one
            self._raise_reader_errors(readers)
            result = self._result(display, exit_code, readers, started_wall, started)
        log.debug("%s exit %s in %.3fs (stdout %d B, stderr %d B)", self.target.display, exit_code,
                  result.duration, result.stdout_bytes, result.stderr_bytes)
        if check and not result.ok:
            status = f"exited {exit_code}" if exit_code is not None else "was killed by a signal (no exit status)"
            raise CommandFailed(failed_command_message(result, status), result=result,
                                hint="read the output above; fix the cause on the host or in the step, "
                                     "then re-run the step")
        return result

    def _stdin_bytes(self, stdin: Stdin) -> bytes | None:
        if stdin is None:
            return None
        if isinstance(stdin, Secret):
            self.redactor.add(stdin)
            stdin = stdin.reveal()
        return stdin.encode() if isinstance(stdin, str) else bytes(stdin)

    def _start(self, connection: Connection, display: str, wire: str, nonce: str) -> paramiko.Channel:
        try:
            channel = self._open_channel(connection)
            channel.exec_command(commandline.wrap(wire, nonce))
            return channel
        except (paramiko.SSHException, EOFError, OSError) as error:
            self._drop_connection()
            raise self._lost_error(f"connection lost before the command could start: {display}") from error

    def _open_channel(self, connection: Connection) -> paramiko.Channel:
        """A session channel for a command: the spare one opened after the last command, else a new one."""
        return self._spare.take(connection.transport) or connection.transport.open_session(
            timeout=self.target.connect_timeout)

    def _start_readers(self, channel: paramiko.Channel, marker: PidMarkerFilter,
                       stream: StreamCallback | None) -> list[StreamReader]:
        callback = stream or self.stream
        serialized = SerializedCallback(callback) if callback else None
        head, tail = self._capture_limits
        readers = [
            StreamReader("stdout", channel.recv, BoundedCapture(head, tail), redactor=self.redactor,
                         callback=serialized),
            StreamReader("stderr", channel.recv_stderr, BoundedCapture(head, tail), redactor=self.redactor,
                         callback=serialized, marker=marker),
        ]
        for reader in readers:
            reader.start()
        return readers

    @staticmethod
    def _start_stdin(channel: paramiko.Channel, data: bytes | None) -> None:
        if data is None:
            channel.shutdown_write()  # EOF now, so a command that reads stdin cannot wait forever
            return

        def feed() -> None:
            try:
                channel.sendall(data)
                channel.shutdown_write()
            except (OSError, paramiko.SSHException, EOFError):
                pass  # the command exited without reading it all; its exit status tells the story

        threading.Thread(target=feed, name="hermes-ops-stdin-writer", daemon=True).start()

    def _wait(self, connection: Connection, channel: paramiko.Channel, readers: list[StreamReader],
              deadline: float | None) -> str:
        """Block until both streams hit EOF and the exit status is in: 'done', 'timeout' or 'lost'.

        Waits on events, so a finished command is noticed at once; the tick only bounds how
        often the deadline and the connection's liveness are checked.
        """
        tick = min(0.5, self.target.keepalive_interval / 2)
        for event in [reader.finished for reader in readers] + [channel.status_event]:
            while not event.is_set():
                remaining = tick if deadline is None else deadline - time.monotonic()
                if remaining <= 0:
                    return "timeout"
                if event.wait(min(tick, remaining)):
                    break
                if not self._alive(connection, readers):
                    return "lost"
        return "done"

    def _alive(self, connection: Connection, readers: list[StreamReader]) -> bool:
        """Is the server still answering? Probe it once it has been silent for a keepalive interval."""
        if not connection.active:
            return False
        last_heard = max([self._last_probe_answer] + [reader.last_data for reader in readers])
        silent = time.monotonic() - last_heard
        if silent >= self.target.keepalive_interval and (self._probe is None or not self._probe.is_alive()):
            self._probe = threading.Thread(target=self._send_probe, args=(connection.transport,),
                                           name="hermes-ops-keepalive", daemon=True)
            self._probe.start()
        return silent < self.target.dead_after

    def _send_probe(self, transport: paramiko.Transport) -> None:
        # A global request with want_reply: sshd answers even while a command is silent.
        try:
            transport.global_request("keepalive@openssh.com", wait=True)
        except Exception:
            return
        if transport.is_active():
            self._last_probe_answer = time.monotonic()

    @staticmethod
    def _connection_died(connection: Connection, channel: paramiko.Channel) -> bool:
        """No exit status: was the connection lost, or was the command killed by a signal?"""
        if not channel.eof_received:  # sshd sends EOF before closing a session that ended
            return True
        for _ in range(10):  # the transport may still be dying; give it a moment to say so
            if not connection.active:
                return True
            time.sleep(0.02)
        return False

    def _stop(self, connection: Connection, channel: paramiko.Channel, readers: list[StreamReader],
              marker: PidMarkerFilter) -> bool | None:
        """Stop the remote command: kill its process group over a second channel, then close ours.

        Returns True if the group was verified gone, False if it survived, None if unknown.
        """
        stopped: bool | None = None
        if marker.pid is not None and connection.active:
            try:
                stopped = self._kill_group(connection.transport, marker.pid)
            except (paramiko.SSHException, EOFError, OSError):
                log.warning("could not stop remote process group %s on %s", marker.pid, self.target.display,
                            exc_info=True)
        self._drop(channel, readers)
        return stopped

    def _kill_group(self, transport: paramiko.Transport, pid: int) -> bool | None:
        helper = transport.open_session(timeout=self.target.connect_timeout)
        try:
            helper.settimeout(STOP_TIMEOUT)
            helper.exec_command(commandline.shell_command(commandline.kill_command(pid)))
            helper.shutdown_write()
            output = b""
            while True:
                data = helper.recv(1024)
                if not data:
                    break
                output += data
        finally:
            helper.close()
        verdict = output.decode(errors="replace").split()
        log.info("stopped remote process group %s on %s: %s", pid, self.target.display,
                 verdict[-1] if verdict else "no answer")
        return {"gone": True, "alive": False}.get(verdict[-1]) if verdict else None

    @staticmethod
    def _drop(channel: paramiko.Channel, readers: list[StreamReader]) -> None:
        """Close our end of the channel and give the readers a moment to collect what arrived."""
        channel.close()
        for reader in readers:
            reader.join(DRAIN_GRACE)

    def _raise_reader_errors(self, readers: list[StreamReader]) -> None:
        for reader in readers:
            if reader.error is not None:
                raise reader.error

    def _result(self, display: str, exit_code: int | None, readers: list[StreamReader],
                started_wall: datetime, started: float) -> Result:
        stdout, stderr = readers[0].capture, readers[1].capture
        duration = time.monotonic() - started
        return Result(host=self.target.display, command=display, exit_code=exit_code,
                      stdout=stdout.text(self.redactor), stderr=stderr.text(self.redactor),
                      started_at=started_wall, ended_at=datetime.now(timezone.utc), duration=duration,
                      stdout_bytes=stdout.total, stderr_bytes=stderr.total,
                      stdout_sha256=stdout.sha256, stderr_sha256=stderr.sha256,
                      truncated=stdout.truncated or stderr.truncated)

    def _lost_error(self, message: str, result: Result | None = None) -> ConnectionLost:
        target = self.target
        return ConnectionLost(
            message, result=result, hostname=target.host, port=target.port, user=target.user,
            hint=f"the host stopped answering (no reply within {target.dead_after:g}s) or closed the connection; "
                 "check that it is up, then reconnect (runner.connect()) and re-run the step — the remote "
                 "command may or may not have finished, so check its effect first")


def connect(target: SSHTarget, *, secrets: Iterable[Secret | str] = (), stream: StreamCallback | None = None,
            passphrase_prompt: PassphrasePrompt | None = None, **options) -> SSHRunner:
    """Open a connection to `target` and return its runner; use it as a context manager.

    ``with connect(target) as runner: runner.run([...])`` closes the connection on exit,
    whatever happens inside. Arguments as for `SSHRunner`.
    """
    return SSHRunner(target, secrets=secrets, stream=stream, passphrase_prompt=passphrase_prompt,
                     **options).connect()
