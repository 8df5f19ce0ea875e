"""`/proc/<pid>/stat` read once, the same way, for journals, abandoned runs and the CLI's kernel."""

from __future__ import annotations

import os
import subprocess
import sys

from hermes_ops import local_processes


def test_a_command_name_with_spaces_and_parentheses_does_not_shift_the_fields():
    text = "4242 (python3 (kernel) x) S 4200 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1 2 3\n"
    assert local_processes.parse_stat(text) == local_processes.ProcessStat(state="S", parent=4200,
                                                                           start_ticks=987654)


def test_this_process_runs_and_a_gone_one_does_not():
    own = local_processes.stat(os.getpid())
    assert own is not None and local_processes.running(os.getpid(), own.start_ticks)
    assert not local_processes.running(os.getpid(), own.start_ticks + 1), "a reused pid is another process"
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert not local_processes.running(gone.pid)


def test_a_zombie_does_not_run_and_children_are_found():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        assert child.pid in local_processes.children(os.getpid())
    finally:
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
        assert not local_processes.running(child.pid)
        child.wait()
