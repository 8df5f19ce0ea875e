"""Where hermes-ops keeps things on this machine: the repository, records, the sandbox's state, caches.

A neutral module of default locations, so that the deploy parameters can default to the
sandbox's key and known_hosts without depending on the sandbox package (the sandbox reads
its own defaults from here too). Nothing here touches the disk.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RECORDS_DIR = REPO_ROOT / "records"
SANDBOX_STATE_DIR = REPO_ROOT / ".sandbox"
# Inside a sandbox's state directory: the operator's private key, and the known_hosts pinning the droplet.
SANDBOX_OPERATOR_KEY = Path("keys") / "operator_ed25519"
SANDBOX_KNOWN_HOSTS = Path("keys") / "known_hosts"


def sandbox_state_dir() -> Path:
    """The sandbox's state directory: $HERMES_SANDBOX_DIR, else `.sandbox/` at the repository root."""
    return Path(os.environ.get("HERMES_SANDBOX_DIR") or SANDBOX_STATE_DIR).resolve()


def cache_dir() -> Path:
    """Downloads that outlive a sandbox (base images): $HERMES_CACHE_DIR, else ~/.cache/hermes-ops."""
    explicit = os.environ.get("HERMES_CACHE_DIR")
    if explicit:
        return Path(explicit).resolve()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hermes-ops"
