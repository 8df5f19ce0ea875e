"""Builds in the admin container as argument lists: each deploy's build carries its run id in its environment.

A deploy killed during step 5 leaves its build running inside the admin container (`docker
exec` does not stop it). The marker lets the next deploy, once it holds the lock, find such
leftovers and stop them before it touches the checkout. No I/O here; `hermes_ops.facts.builds`
reads what `find()` prints.
"""

from __future__ import annotations

RUN_MARKER = "HERMES_DEPLOY_RUN"

# Every process whose environment carries the marker: "<pid> <run id>" per line.
_FIND = f"""\
for dir in /proc/[0-9]*; do
  run=$({{ tr '\\000' '\\n' < "$dir/environ"; }} 2>/dev/null | sed -n 's/^{RUN_MARKER}=//p')
  [ -n "$run" ] && echo "${{dir#/proc/}} $run"
done
true
"""


def marker(run_id: str) -> dict[str, str]:
    """The environment that tags a build with its deploy's run id."""
    return {RUN_MARKER: run_id}


def find() -> list[str]:
    """Read-only: the marked (deploy build) processes in the container, "<pid> <run id>" per line."""
    return ["sh", "-c", _FIND]


def stop(pids: list[int], grace_seconds: int = 10) -> list[str]:
    """TERM the given build processes, then KILL whatever still runs after `grace_seconds`."""
    script = """\
grace=$1; shift
kill -TERM "$@" 2>/dev/null
while [ "$grace" -gt 0 ]; do
  alive=""
  for pid in "$@"; do  # a zombie (killed, not yet reaped) counts as gone
    kill -0 "$pid" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && alive="$alive $pid"
  done
  [ -z "$alive" ] && exit 0
  sleep 1; grace=$((grace - 1))
done
kill -KILL "$@" 2>/dev/null
exit 0
"""
    return ["sh", "-c", script, "hermes-stop-builds", str(grace_seconds), *(str(pid) for pid in pids)]
