"""Helpers for runbook tests: the CLI as an operator runs it, and what a deploy may change on the host."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path



def hermes_ops_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hermes_ops.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def record_of(cli: subprocess.CompletedProcess) -> tuple[Path, dict]:
    notebook = Path(cli.stdout.strip().splitlines()[-1])
    return notebook, json.loads(notebook.with_suffix(".json").read_text())


def droplet_docker(sandbox_host, *args: str) -> str:
    return sandbox_host.run_docker(["docker", *args], timeout=60).stdout.decode().strip()


def host_facts(sandbox_host) -> dict:
    """What a deploy may change: the app container, the image, the checkout's HEAD."""
    config = sandbox_host.config
    return {
        "app": droplet_docker(sandbox_host, "inspect", "--format", "{{.Id}}", config.app_container),
        "image": droplet_docker(sandbox_host, "image", "inspect", "--format", "{{.Id}}", config.image),
        "head": droplet_docker(sandbox_host, "exec", config.admin_container, "git", "-C", config.repo_dir,
                               "rev-parse", "HEAD"),
        "images": droplet_docker(sandbox_host, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"),
    }
