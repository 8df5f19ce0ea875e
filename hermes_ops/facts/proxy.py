"""Facts about haproxy in front of the app (zero-downtime mode): each server's state and current sessions."""

from __future__ import annotations

from dataclasses import dataclass

from hermes_ops.commands import proxy
from hermes_ops.facts.fact import Fact

# `show servers state`: srv_op_state values, and the srv_admin_state bits that take a server out of rotation
OPERATIONAL = {"0": "stopped", "1": "starting", "2": "running", "3": "stopping"}
MAINTENANCE_BITS = 0x01 | 0x02 | 0x04 | 0x40 | 0x80   # forced, inherited, config, resolution, health-check maint
DRAIN_BITS = 0x08 | 0x10 | 0x20                       # forced, inherited, config drain


@dataclass(frozen=True)
class ProxyServer:
    """One backend server as haproxy sees it."""

    name: str
    address: str
    port: int | None
    operational: str     # stopped | starting | running | stopping
    maintenance: bool    # out of rotation by an administrator
    draining: bool       # takes no new requests, finishes those it has

    @property
    def in_rotation(self) -> bool:
        """New requests may go to it: up, not in maintenance, not draining."""
        return self.operational == "running" and not self.maintenance and not self.draining


def parse_servers_state(output: str) -> dict[str, ProxyServer]:
    """`show servers state BACKEND` (format 1: a version line, a `#` header naming the columns, then rows)."""
    columns: list[str] = []
    servers = {}
    for line in output.splitlines():
        if line.startswith("#"):
            columns = line.lstrip("# ").split()
            continue
        fields = line.split()
        if not columns or len(fields) < len(columns):
            continue
        row = dict(zip(columns, fields))
        try:
            admin = int(row["srv_admin_state"])
        except (KeyError, ValueError):
            continue
        port = row.get("srv_port", "")
        servers[row["srv_name"]] = ProxyServer(
            name=row["srv_name"], address=row.get("srv_addr", ""), port=int(port) if port.isdigit() else None,
            operational=OPERATIONAL.get(row.get("srv_op_state", ""), "unknown"),
            maintenance=bool(admin & MAINTENANCE_BITS), draining=bool(admin & DRAIN_BITS))
    return servers


def parse_sessions(output: str) -> dict[str, int]:
    """`show stat BACKEND 4 -1` CSV → current sessions (`scur`) per server."""
    header: list[str] = []
    sessions = {}
    for line in output.splitlines():
        if line.startswith("# "):
            header = line[2:].split(",")
            continue
        fields = line.split(",")
        if not header or len(fields) < len(header) or "svname" not in header or "scur" not in header:
            continue
        row = dict(zip(header, fields))
        if row["svname"] in ("FRONTEND", "BACKEND"):
            continue
        sessions[row["svname"]] = int(row["scur"]) if row["scur"].isdigit() else 0
    return sessions


servers = Fact("proxy servers", proxy.servers_state, parse_servers_state, when_failed=None)
sessions = Fact("proxy sessions per server", proxy.backend_stats, parse_sessions, when_failed=None)
