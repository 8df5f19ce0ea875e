"""Leftover builds: the marked processes `commands.builds.find()` lists, by run id."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hermes_ops.commands import builds
from hermes_ops.facts import builds as build_facts

RUN_A, RUN_B = "20261127T044009Z-2eb4eb", "20261127T050000Z-a1b2c3"


def test_command_runs_find_in_the_container():
    assert build_facts.leftovers.command("hermes-admin") == ["docker", "exec", "hermes-admin", *builds.find()]
    # The same scan, for a caller already running in the container (a batch of facts there).
    assert build_facts.running_builds.command() == builds.find()
    assert build_facts.running_builds.parse is build_facts.leftovers.parse


@pytest.mark.parametrize("output, ok, expected", [
    (f"412 {RUN_A}\n413 {RUN_A}\n977 {RUN_B}\n", True, {RUN_A: (412, 413), RUN_B: (977,)}),
    (f"412 {RUN_A}\r\n", True, {RUN_A: (412,)}),
    ("", True, {}),
    # not running: docker exec fails; nothing of ours runs there either
    ("Error response from daemon: container abc is not running\n", False, {}),
    (f"sh: 1: cannot open /proc/9/environ: Permission denied\n412 {RUN_A}\n", True, {RUN_A: (412,)}),
    (f"self {RUN_A}\n412\n412 {RUN_A} extra\n", True, {}),
])
def test_leftovers(output, ok, expected):
    assert build_facts.leftovers.value(output, ok=ok) == expected


def test_marked_build_processes_are_found_by_run_id():
    """`find()` run here (no container) and its output parsed: the real format, not a sample of it."""
    marked = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                              env={**os.environ, builds.RUN_MARKER: RUN_A})
    try:
        listing = subprocess.run(builds.find(), capture_output=True, text=True, check=True).stdout
        found = build_facts.parse_leftovers(listing)
        assert marked.pid in found[RUN_A]
        subprocess.run(builds.stop(list(found[RUN_A]), grace_seconds=5), check=True)
        assert marked.wait(10) < 0, "stopped by a signal"
    finally:
        marked.kill()
