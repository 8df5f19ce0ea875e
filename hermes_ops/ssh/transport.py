"""Establishing one authenticated, verified SSH connection (optionally through a bastion).

Order of events, each with its own error: load the keys (ConfigError, before any
network traffic), open TCP (ConnectionFailed and subclasses), SSH banner and key
exchange (ConnectionFailed with reason "protocol error"), host key verification
(HostKeyUnknown / HostKeyChanged, before we authenticate, so no signature is ever
sent to an impostor), authentication (AuthenticationFailed).

With a jump host, the bastion gets the same treatment first; the target's TCP stream
is then a `direct-tcpip` channel of the bastion connection (OpenSSH's ProxyJump), and
the target's host key is still verified end to end.
"""

from __future__ import annotations

import logging
import socket

import paramiko

from hermes_ops.errors import ConnectionFailed, ConnectionTimedOut
from hermes_ops.ssh import auth, hostkeys
from hermes_ops.ssh.sockets import open_socket
from hermes_ops.ssh.target import SSHTarget

log = logging.getLogger("hermes_ops.ssh")

# The receive window the server may fill before waiting for us: OpenSSH's session default.
# It also bounds how much unread output can sit in paramiko's buffers, whatever the
# command prints. (8 MiB measured no faster on loopback; see benchmarks/README.md.)
WINDOW_SIZE = 2 * 1024 * 1024
# The largest data packet the server may send us; OpenSSH's default for sessions.
MAX_PACKET_SIZE = 32 * 1024
# AES-GCM first: one AEAD pass per packet instead of AES-CTR plus a separate HMAC, which
# is most of the client's per-byte cost in paramiko (measured ~1.3x the throughput of aes128-ctr).
PREFERRED_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
# RFC 4344 section 3.2: rekey at least every 2^(L/4) blocks of an L-bit block cipher (AES: 2^32 x 16 bytes).
AES_REKEY_BYTES = 2 ** 32 * 16


def new_transport(sock) -> paramiko.Transport:
    """A client `Transport` over `sock` with this project's window, packet size and cipher order."""
    transport = paramiko.Transport(sock, default_window_size=WINDOW_SIZE, default_max_packet_size=MAX_PACKET_SIZE)
    options = transport.get_security_options()
    supported = list(options.ciphers)
    options.ciphers = [name for name in PREFERRED_CIPHERS if name in supported] + \
                      [name for name in supported if name not in PREFERRED_CIPHERS]
    return transport


def start_client(transport: paramiko.Transport, timeout: float, *, hostname: str, port: int,
                 user: str | None = None) -> None:
    """Run banner exchange and key exchange within `timeout`; map failures to ConnectionFailed."""
    transport.banner_timeout = timeout
    transport.handshake_timeout = timeout
    transport.auth_timeout = timeout
    where = {"hostname": hostname, "port": port, "user": user}
    try:
        transport.start_client(timeout=timeout)
    except (paramiko.SSHException, EOFError, OSError) as error:
        if not _timed_out(error):
            raise ConnectionFailed(f"SSH handshake with {hostname}:{port} failed: {error or type(error).__name__}",
                                   reason=ConnectionFailed.PROTOCOL,
                                   hint="check that the port is sshd's (not another service) and read sshd's log "
                                        "on the host (journalctl -u ssh)", **where) from error
        raise _handshake_timeout(hostname, port, timeout, where) from error
    if not (transport.is_active() and transport.initial_kex_done):
        # start_client returns silently when its timeout expires mid-negotiation.
        raise _handshake_timeout(hostname, port, timeout, where)


def _handshake_timeout(hostname: str, port: int, timeout: float, where: dict) -> ConnectionTimedOut:
    return ConnectionTimedOut(f"SSH handshake with {hostname}:{port} timed out after {timeout:g}s",
                              reason=ConnectionFailed.TIMED_OUT,
                              hint="check that the port is sshd's and that the host is not overloaded", **where)


def _timed_out(error: BaseException | None) -> bool:
    """Is `error`, or what it was raised from (paramiko wraps banner timeouts), a timeout?"""
    while error is not None:
        if isinstance(error, (socket.timeout, TimeoutError)):
            return True
        error = error.__cause__ or error.__context__
    return False


def match_openssh_rekey_limit(transport: paramiko.Transport) -> None:
    """Rekey after 2^32 cipher blocks (64 GiB) with AES, as OpenSSH does, not paramiko's 512 MiB.

    paramiko starting a rekey itself can deadlock its transport thread: if sshd's
    CHANNEL_CLOSE for a finished command is in flight when our KEXINIT goes out, paramiko
    answers the close from the transport thread, which then waits for the key exchange
    that only it can complete; 30 s later the connection dies (paramiko issue #822, open
    since 2016; it broke a benchmark run here after 512 MiB). 2^(L/4) blocks for an L-bit
    block cipher is RFC 4344's bound, and OpenSSH's default; sshd rekeys on the same
    schedule, and a server-initiated rekey does not hit the race. The packet-count limit
    (2^29) is unchanged.
    """
    if all(name and name.startswith("aes") for name in (transport.local_cipher, transport.remote_cipher)):
        transport.packetizer.REKEY_BYTES = AES_REKEY_BYTES


class Connection:
    """An authenticated connection to a target, plus the bastion connection it runs through.

    `client_key` is the key the target's sshd accepted for this session (None if unknown).
    """

    def __init__(self, target: SSHTarget, transport: paramiko.Transport,
                 bastion: paramiko.Transport | None = None, client_key: auth.OfferedKey | None = None):
        self.target = target
        self.transport = transport
        self.bastion = bastion
        self.client_key = client_key

    @property
    def active(self) -> bool:
        return self.transport.is_active() and (self.bastion is None or self.bastion.is_active())

    def close(self) -> None:
        """Close the target connection, then the bastion's. Safe to call more than once."""
        for transport in (self.transport, self.bastion):
            if transport is not None:
                try:
                    transport.close()
                except Exception:  # closing must not mask the error that made us close
                    log.debug("error while closing a transport", exc_info=True)


def open_connection(target: SSHTarget, *, passphrase_prompt: auth.PassphrasePrompt | None = None) -> Connection:
    """Connect, verify the host key and authenticate to `target` (through `target.jump` if set).

    Raises:
        ConfigError, ConnectionFailed (and subclasses), HostKeyUnknown, HostKeyChanged,
        AuthenticationFailed.
    """
    agent = paramiko.Agent() if _wants_agent(target) else None
    try:
        offered = auth.keys_to_offer(target, passphrase_prompt=passphrase_prompt, agent=agent)
        bastion = None
        if target.jump is not None:
            jump_offered = auth.keys_to_offer(target.jump, passphrase_prompt=passphrase_prompt, agent=agent)
            bastion, _ = _connect(target.jump, open_socket(target.jump.host, target.jump.port,
                                                           target.jump.connect_timeout, user=target.jump.user),
                                  jump_offered)
        try:
            sock = tunnel(bastion, target) if bastion else open_socket(target.host, target.port,
                                                                        target.connect_timeout, user=target.user)
            transport, client_key = _connect(target, sock, offered)
        except BaseException:
            if bastion is not None:
                bastion.close()
            raise
        return Connection(target, transport, bastion, client_key)
    finally:
        if agent is not None:
            agent.close()


def _wants_agent(target: SSHTarget) -> bool:
    return any(hop is not None and (hop.key_path is None or hop.use_agent) for hop in (target, target.jump))


def _connect(target: SSHTarget, sock,
             offered: list[auth.OfferedKey]) -> tuple[paramiko.Transport, auth.OfferedKey]:
    """One verified, authenticated transport over `sock`, and the key sshd accepted."""
    transport = new_transport(sock)
    try:
        entries = hostkeys.read_known_hosts(target.known_hosts)
        preferred = hostkeys.preferred_algorithms(entries, target.host, target.port)
        if preferred:
            options = transport.get_security_options()
            supported = list(options.key_types)
            # Pinned types first, each group in paramiko's own order of preference.
            options.key_types = [name for name in supported if name in preferred] + \
                                [name for name in supported if name not in preferred]
        start_client(transport, target.connect_timeout, hostname=target.host, port=target.port, user=target.user)
        match_openssh_rekey_limit(transport)
        hostkeys.check_host_key(target.known_hosts, target.host, target.port, transport.get_remote_server_key(),
                                user=target.user, entries=entries)
        accepted = auth.authenticate(transport, target, offered)
        transport.set_keepalive(max(1, int(target.keepalive_interval)))
        log.debug("connected to %s", target.display)
        return transport, accepted
    except BaseException:
        transport.close()
        raise


def tunnel(bastion: paramiko.Transport, target: SSHTarget) -> paramiko.Channel:
    """A direct-tcpip channel from the bastion to the target's sshd (what `ssh -J` opens)."""
    jump = target.jump
    try:
        return bastion.open_channel("direct-tcpip", (target.host, target.port), ("127.0.0.1", 0),
                                    timeout=target.connect_timeout)
    except paramiko.ChannelException as error:
        raise ConnectionFailed(
            f"bastion {jump.display} could not open a connection to {target.host}:{target.port}: {error.text}",
            reason=ConnectionFailed.REFUSED if error.code == 2 else ConnectionFailed.UNREACHABLE,
            hostname=target.host, port=target.port, user=target.user,
            hint="check the target address as the bastion sees it, that sshd runs there, and that the bastion "
                 "allows TCP forwarding (AllowTcpForwarding)") from error
    except (paramiko.SSHException, EOFError, OSError) as error:
        raise ConnectionFailed(f"bastion {jump.display} did not open a tunnel to {target.host}:{target.port}: "
                               f"{error or type(error).__name__}", reason=ConnectionFailed.TIMED_OUT,
                               hostname=target.host, port=target.port, user=target.user,
                               hint="check the bastion's sshd log") from error
