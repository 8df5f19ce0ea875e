"""Where hermes-ops keeps things on this machine: the runbooks, records, the sandbox's state, caches.

A neutral module of default locations, so that the deploy parameters can default to the
sandbox's key and known_hosts without depending on the sandbox package (the sandbox reads
its own defaults from here too). Nothing here writes to the disk.

hermes-ops runs from a clone (an editable install) or as an installed ops tool (a wheel:
`pipx install`, `pip install`). Nothing here may assume the source tree: the runbooks are package
data (`hermes_ops.notebooks`, mapped onto the top-level `notebooks/` folder at build time), records
go to the working directory's `records/`, and only a clone keeps its sandbox in `.sandbox/`.
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

# Inside a sandbox's state directory: the operator's private key, and the known_hosts pinning the droplet.
SANDBOX_OPERATOR_KEY = Path("keys") / "operator_ed25519"
SANDBOX_KNOWN_HOSTS = Path("keys") / "known_hosts"
RECORDS_ENV = "HERMES_OPS_RECORDS"
RECORDS_ENV_DEPRECATED = "HERMES_RECORDS_DIR"  # the old name, still honoured


def source_checkout() -> Path | None:
    """The clone this package runs from (an editable install or a plain checkout), else None (installed)."""
    root = Path(__file__).resolve().parents[1]
    if (root / "pyproject.toml").is_file() and (root / "notebooks" / "deploy.ipynb").is_file():
        return root
    return None


def runbooks_dir() -> Path:
    """The folder holding the runbook notebooks (`deploy.ipynb`, `rollback.ipynb`).

    Installed from a wheel, they are the package data `hermes_ops/notebooks/`. A clone (an editable
    install, or a checkout on PYTHONPATH) uses its top-level `notebooks/` folder itself: setuptools'
    editable finder cannot map a folder without `__init__.py` into the package, and it is the same
    folder anyway.

    Raises:
        FileNotFoundError: neither holds `deploy.ipynb` (a broken installation).
    """
    candidates = [Path(str(importlib.resources.files("hermes_ops") / "notebooks"))]
    checkout = source_checkout()
    if checkout:
        candidates.append(checkout / "notebooks")
    for candidate in candidates:
        if (candidate / "deploy.ipynb").is_file():
            return candidate.resolve()
    raise FileNotFoundError(f"the runbook notebooks (deploy.ipynb) are not installed with hermes_ops "
                            f"(looked in {' and '.join(map(str, candidates))}); reinstall hermes-ops")


def default_records_dir() -> Path:
    """Where records go unless the parameters or `--records-dir` say: $HERMES_OPS_RECORDS, else `./records`.

    `./records` is the working directory's, made absolute when asked, so a run started in a directory
    keeps its records there even when its kernel runs elsewhere. $HERMES_RECORDS_DIR, the old name of
    $HERMES_OPS_RECORDS, is still honoured when the new one is not set.
    """
    explicit = os.environ.get(RECORDS_ENV) or os.environ.get(RECORDS_ENV_DEPRECATED)
    return Path(explicit or "records").absolute()


def sandbox_state_dir() -> Path:
    """The sandbox's state directory: $HERMES_SANDBOX_DIR, else `.sandbox/` in a clone, else per user.

    An installed copy has no clone to keep it in: it uses $XDG_STATE_HOME/hermes-ops/sandbox
    (default ~/.local/state/hermes-ops/sandbox).
    """
    explicit = os.environ.get("HERMES_SANDBOX_DIR")
    if explicit:
        return Path(explicit).resolve()
    checkout = source_checkout()
    if checkout:
        return checkout / ".sandbox"
    return (Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "hermes-ops"
            / "sandbox").resolve()


def cache_dir() -> Path:
    """Downloads that outlive a sandbox (base images): $HERMES_CACHE_DIR, else ~/.cache/hermes-ops."""
    explicit = os.environ.get("HERMES_CACHE_DIR")
    if explicit:
        return Path(explicit).resolve()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hermes-ops"
