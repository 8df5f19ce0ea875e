"""Host-side administration outside a deploy: the audit log (`~/.hermes/deploys.log`) and the deploy lock."""

from __future__ import annotations

import datetime
from pathlib import Path

from hermes_ops.commands import host as host_commands
from hermes_ops.commands import lock as lock_commands
from hermes_ops.facts import lock as lock_facts
from hermes_ops.params_file import load_parameters
from hermes_ops.params import DeployParameters
from hermes_ops.runbook.audit import format_audit_line
from hermes_ops.ssh import connect


def open_session(params_file: Path | None, overrides=()):
    """The resolved parameters and an open runner to their host (use it as a context manager).

    A refused parameter raises ConfigError (step "parameters") before anything connects.
    """
    params = DeployParameters(**load_parameters(params_file, overrides)).resolved()
    return params, connect(params.ssh_target())


def host_log(runner, params: DeployParameters, lines: int = 50) -> str:
    """The host log's last `lines` lines through an open runner ("" when there is no log yet)."""
    return runner.run(host_commands.read_audit_log(lines), timeout=params.command_timeout).stdout.rstrip()


def lock_answer(runner, params: DeployParameters) -> lock_facts.LockAnswer:
    """Probe the lock through an open runner: FREE, or BUSY and the holder line. Never holds it."""
    return lock_facts.probe.read(runner.run, timeout=params.command_timeout)


def read_host_log(params_file: Path | None, overrides=(), lines: int = 50) -> str:
    params, session = open_session(params_file, overrides)
    with session as runner:
        return host_log(runner, params, lines)


def lock_status(params_file: Path | None, overrides=()) -> str:
    params, session = open_session(params_file, overrides)
    with session as runner:
        answer = lock_answer(runner, params)
    return "free" if answer.state is lock_facts.LockState.FREE else f"held by {answer.holder or 'an unknown holder'}"


def break_lock(params_file: Path | None, overrides=()) -> str:
    """End a stuck lock holder and record who broke it, when, and whose lock it was, in the host log."""
    params, session = open_session(params_file, overrides)
    with session as runner:
        # Breaking changes the host: not a fact, but its answer reads like the lock facts'.
        result = runner.run(lock_commands.break_lock(), timeout=params.command_timeout)
        answer = lock_facts.parse_answer(result.stdout)
        if answer.state is lock_facts.LockState.BROKEN:
            now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            line = format_audit_line(now, {"kind": "lock-broken", "operator": params.operator,
                                           "holder": answer.holder})
            runner.run(host_commands.append_audit_line(line), timeout=params.command_timeout)
            return f"lock broken: {answer.holder}"
        return "no lock holder to break"
