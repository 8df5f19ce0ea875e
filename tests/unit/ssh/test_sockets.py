"""Opening the TCP connection: failures mapped to the error an operator can act on."""

from __future__ import annotations

import pytest

from hermes_ops.errors import ConnectionFailed, NameNotResolved
from hermes_ops.ssh.sockets import open_socket


def test_unresolvable_name_maps_to_name_not_resolved(monkeypatch):
    import socket

    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(NameNotResolved) as caught:
        open_socket("no-such-host.invalid", 22, 1.0, user="core")
    assert caught.value.reason == ConnectionFailed.NAME_NOT_RESOLVED
    assert "no-such-host.invalid" in str(caught.value)
