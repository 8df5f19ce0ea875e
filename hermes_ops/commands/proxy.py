"""Argument lists for haproxy's runtime API (the zero-downtime swap's proxy). No I/O here.

The API is a unix socket on the host that takes one command per connection; `socat` carries it.
The command and the socket path travel as positional arguments of a fixed `sh -c` script, so
nothing in them is ever read as shell syntax.
"""

from __future__ import annotations

SERVER_STATES = ("ready", "drain", "maint")

_SEND = 'printf "%s\\n" "$1" | socat -t 5 stdio "unix-connect:$2"'


def runtime(socket: str, command: str) -> list[str]:
    """One runtime API command sent to the socket; haproxy's answer is on stdout."""
    return ["sh", "-c", _SEND, "sh", command, socket]


def set_server_state(socket: str, backend: str, server: str, state: str) -> list[str]:
    """`ready` takes new requests, `drain` finishes what it has and takes none, `maint` is out of rotation."""
    if state not in SERVER_STATES:
        raise ValueError(f"unknown server state {state!r}; one of {', '.join(SERVER_STATES)}")
    return runtime(socket, f"set server {backend}/{server} state {state}")


def servers_state(socket: str, backend: str) -> list[str]:
    """Each server's operational and administrative state (`show servers state`)."""
    return runtime(socket, f"show servers state {backend}")


def backend_stats(socket: str, backend: str) -> list[str]:
    """The backend's CSV statistics, one line per server (current sessions in `scur`)."""
    return runtime(socket, f"show stat {backend} 4 -1")
