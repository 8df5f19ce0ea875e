"""The main job: a full rehearsal deploy on the sandbox host, so the whole path is proven before production."""

from __future__ import annotations

import sys
from pathlib import Path

from hermes_ops.headless import HeadlessRun, deploy
from hermes_ops.sandbox import SandboxConfig, SandboxHost


def _say(message: str) -> None:
    print(f"[rehearse] {message}", file=sys.stderr, flush=True)


def rehearse(state_dir: Path | None = None, records_dir: Path | None = None) -> HeadlessRun:
    """Sandbox up, a fresh commit on its origin, then `hermes-ops deploy` of it; returns the run (record path)."""
    host = SandboxHost(SandboxConfig.load_or_default(state_dir))
    params_file = host.up()
    commit = host.commit("Rehearsal: a visible change")
    _say(f"new commit on the sandbox origin: {commit[:12]}; deploying it with the runbook")
    return deploy(params_file, [("reason", "rehearsal on the sandbox host")], records_dir=records_dir)
