"""Processes on this machine, read from `/proc/<pid>/stat`: one parser for the fields hermes-ops needs.

A journal names the process that writes it (pid and start time, so a reused pid is told
apart); a killed run is recognised by that process being gone or a zombie; the CLI finds
its papermill kernel among its children to pass a SIGTERM on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessStat:
    state: str        # R, S, D, Z, …
    parent: int
    start_ticks: int  # clock ticks since boot


def parse_stat(text: str) -> ProcessStat:
    """`/proc/<pid>/stat`: the command name (field 2) may hold spaces and parentheses, so split after its last ')'."""
    fields = text.rsplit(")", 1)[1].split()
    return ProcessStat(state=fields[0], parent=int(fields[1]), start_ticks=int(fields[19]))


def stat(pid: int) -> ProcessStat | None:
    """The process's stat, or None if there is no such process (any more)."""
    try:
        return parse_stat(Path(f"/proc/{pid}/stat").read_text())
    except (OSError, IndexError, ValueError):
        return None


def running(pid: int, start_ticks: int | None = None) -> bool:
    """True if `pid` runs (a zombie does not), and, given `start_ticks`, is the same process as then."""
    now = stat(pid)
    return now is not None and now.state != "Z" and (start_ticks is None or now.start_ticks == start_ticks)


def children(pid: int) -> list[int]:
    """The pids whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            child = stat(int(entry.name))
            if child is not None and child.parent == pid:
                found.append(int(entry.name))
    return found
