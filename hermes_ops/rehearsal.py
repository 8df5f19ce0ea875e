"""The main job: a rehearsal on the sandbox host, so an operator sees the whole path work before production."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hermes_ops.sandbox import SandboxConfig, SandboxError, SandboxHost
from hermes_ops.sandbox.host import http_get


def _say(message: str) -> None:
    print(f"[rehearse] {message}", file=sys.stderr, flush=True)


def rehearse(state_dir: Path | None = None) -> Path:
    """Bring the sandbox up, log in as the operator would (OpenSSH, pinned host key), check health.

    Returns the path of the parameters file a deploy against the sandbox uses.
    """
    host = SandboxHost(SandboxConfig.load_or_default(state_dir))
    params_path = host.up()
    params = host.params()
    login = subprocess.run(
        ["ssh", "-i", params["key_path"], "-o", f"UserKnownHostsFile={params['known_hosts']}",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
         "-p", str(params["port"]), f"{params['user']}@{params['host']}",
         "hostname && docker ps --format '{{.Names}}'"],
        capture_output=True, text=True, timeout=60,
    )
    if login.returncode != 0:
        raise SandboxError(f"login as {params['user']} failed: {login.stderr.strip()}", host=params["host"],
                           hint="run `hermes-ops sandbox status`; `sandbox down` then `up` rebuilds it")
    hostname, *containers = login.stdout.split()
    _say(f"logged in as {params['user']}@{hostname}; containers: {', '.join(containers)}")
    status, _ = http_get(params["health_url"])
    version_status, version = http_get(params["version_url"])
    if status != 200 or version_status != 200:
        raise SandboxError(f"health check failed: {params['health_url']} answered {status}", host=params["host"],
                           hint="read the supervisor log under the sandbox state directory")
    _say(f"healthy; serving commit {version.strip()}")
    return params_path
