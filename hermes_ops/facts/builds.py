"""Leftover builds: processes in the admin container whose environment carries a deploy's run id."""

from __future__ import annotations

from hermes_ops.commands import builds, docker
from hermes_ops.facts.fact import Fact


def parse_leftovers(output: str) -> dict[str, tuple[int, ...]]:
    """`builds.find()`'s "<pid> <run id>" lines → {run id: pids}; other lines (errors) are ignored."""
    found: dict[str, list[int]] = {}
    for line in output.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0].isdigit():
            found.setdefault(fields[1], []).append(int(fields[0]))
    return {run_id: tuple(pids) for run_id, pids in found.items()}


def _find_command(container: str) -> list[str]:
    return docker.exec_in(container, builds.find())


# `docker exec` fails when the container is not running: then nothing of ours runs there either.
leftovers = Fact("leftover builds", _find_command, parse_leftovers, parse_failures=True)
# The same scan run inside the container by the caller (`Deploy.in_admin`, or a batch of facts there).
running_builds = Fact("deploy builds running here", builds.find, parse_leftovers, parse_failures=True)
