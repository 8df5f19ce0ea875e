"""Opening the TCP connection to sshd, with errors an operator can act on.

One job: turn (host, port, timeout) into a connected socket tuned for SSH, or raise a
`ConnectionFailed` subclass that says whether the name did not resolve, the port
refused, or nothing answered.

The socket gets TCP_NODELAY. paramiko never sets it, and SSH's request/response
pattern is exactly what Nagle's algorithm punishes: after a command, the client sends
CHANNEL_CLOSE and then, for the next command, CHANNEL_OPEN. The second small write
waits for the ACK of the first, and the server (which has nothing to say in between)
delays that ACK by up to 40 ms (Linux's delayed-ACK timer). Measured on loopback: 48 ms
per trivial command with Nagle, 4-5 ms without (benchmarks/README.md).
"""

from __future__ import annotations

import errno
import socket

from hermes_ops.errors import ConnectionFailed, ConnectionRefused, ConnectionTimedOut, NameNotResolved


def tune_socket(sock: socket.socket) -> None:
    """Disable Nagle (see the module docstring) and enable TCP keepalive on `sock`."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)


def open_socket(host: str, port: int, timeout: float, *, user: str | None = None) -> socket.socket:
    """A connected TCP socket to `host:port`, tried over each address the name resolves to.

    Raises:
        NameNotResolved, ConnectionRefused, ConnectionTimedOut, ConnectionFailed.
    """
    where = {"hostname": host, "port": port, "user": user}
    try:
        addresses = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise NameNotResolved(f"cannot resolve host name {host!r}: {error.strerror}",
                              reason=ConnectionFailed.NAME_NOT_RESOLVED,
                              hint="check the spelling of the host, DNS, or /etc/hosts", **where) from error
    last_error: OSError | None = None
    for family, kind, proto, _, address in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
        except OSError as error:
            sock.close()
            last_error = error
            continue
        tune_socket(sock)
        return sock
    raise _connect_error(last_error, host, port, timeout, where)


def _connect_error(error: OSError | None, host: str, port: int, timeout: float, where: dict) -> ConnectionFailed:
    if isinstance(error, socket.timeout) or getattr(error, "errno", None) == errno.ETIMEDOUT:
        return ConnectionTimedOut(f"no answer from {host}:{port} within {timeout:g}s",
                                  reason=ConnectionFailed.TIMED_OUT,
                                  hint="check that the host is up and that a firewall lets this machine reach "
                                       "the port; raise connect_timeout only for a slow link", **where)
    if getattr(error, "errno", None) == errno.ECONNREFUSED:
        return ConnectionRefused(f"connection to {host}:{port} refused",
                                 reason=ConnectionFailed.REFUSED,
                                 hint="check the port, and that sshd is running on the host "
                                      "(systemctl status ssh)", **where)
    if getattr(error, "errno", None) in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return ConnectionFailed(f"{host}:{port} is unreachable: {error.strerror}",
                                reason=ConnectionFailed.UNREACHABLE,
                                hint="check the address and this machine's network route to it", **where)
    detail = error.strerror if error is not None and error.strerror else str(error)
    return ConnectionFailed(f"cannot connect to {host}:{port}: {detail}", reason=ConnectionFailed.UNREACHABLE,
                            hint="check the address, the port and the network", **where)
