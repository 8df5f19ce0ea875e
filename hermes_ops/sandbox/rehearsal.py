"""The main job: a full rehearsal deploy on the sandbox host, so the whole path is proven before production."""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

from hermes_ops import paths
from hermes_ops.params import DeployParameters
from hermes_ops.records.headless import HeadlessRun, deploy
from hermes_ops.runbook import Deploy, DeployFailed
from hermes_ops.sandbox import SandboxConfig, SandboxHost
from hermes_ops.sandbox.host import http_get
from hermes_ops.sandbox.local import SandboxError


def _say(message: str) -> None:
    print(f"[rehearse] {message}", file=sys.stderr, flush=True)


def rehearse(state_dir: Path | None = None, records_dir: Path | None = None) -> HeadlessRun:
    """Sandbox up, a fresh commit on its origin, then `hermes-ops deploy` of it; returns the run (record path).

    The record goes where a production deploy's would: `records_dir`, else `paths.default_records_dir()`
    ($HERMES_OPS_RECORDS, else `./records` of the working directory; `bash run.sh rehearse` runs at the
    repository root).
    """
    records_dir = Path(records_dir) if records_dir else paths.default_records_dir()
    host = SandboxHost(SandboxConfig.load_or_default(state_dir))
    params_file = host.up()
    commit = host.commit("Rehearsal: a visible change")
    _say(f"new commit on the sandbox origin: {commit[:12]}; deploying it with the runbook (records: {records_dir})")
    return deploy(params_file, [("reason", "rehearsal on the sandbox host")], records_dir=records_dir)


def catch_up(host: SandboxHost) -> None:
    """Deploy whatever origin holds (after a repair commit, in case a drill left it broken)."""
    serving = http_get(host.config.version_url)[1].strip()
    if serving == host.status()["origin_head"]:
        return
    host.commit("Sandbox catch-up")
    quiet = io.StringIO()
    # The sandbox's own parameters (its ports, not the defaults), and a throwaway records folder:
    # a catch-up is housekeeping, not a deploy anyone needs a record of.
    with tempfile.TemporaryDirectory(prefix="hermes-catch-up-") as records:
        parameters = DeployParameters(**host.params(), reason="sandbox catch-up", lock_wait=300, records_dir=records)
        try:
            Deploy(parameters.resolved(), writer=lambda line: quiet.write(line + "\n")).run_all()
        except DeployFailed as error:
            raise SandboxError(f"the sandbox could not be brought up to date:\n{quiet.getvalue()}", host="sandbox",
                               step="catch-up", hint="read the deploy's account above; `hermes-ops sandbox down` "
                               "then `up` rebuilds the sandbox from scratch") from error
