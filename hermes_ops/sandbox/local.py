"""Runs the sandbox's own commands on this machine (never on a deploy target)."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence

from hermes_ops.errors import HermesOpsError


class SandboxError(HermesOpsError):
    """The sandbox host could not be built, inspected or removed."""


def run_local(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    input_bytes: bytes | None = None,
    what: str | None = None,
    hint: str | None = None,
) -> subprocess.CompletedProcess:
    """Run `argv` (no shell), bounded by `timeout`; on failure raise with the output's last lines."""
    try:
        completed = subprocess.run(
            list(argv), env=dict(env) if env is not None else None, input=input_bytes,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
        )
    except subprocess.TimeoutExpired as error:
        raise SandboxError(
            f"{what or argv[0]} timed out after {timeout:.0f}s: {' '.join(argv)}",
            host="localhost", hint=hint,
        ) from error
    except FileNotFoundError as error:
        raise SandboxError(
            f"{argv[0]} is not installed", host="localhost",
            hint=hint or "run the README's set-up command, which installs it",
        ) from error
    if check and completed.returncode != 0:
        tail = (completed.stderr or completed.stdout).decode(errors="replace").strip().splitlines()[-8:]
        raise SandboxError(
            f"{what or argv[0]} failed (exit {completed.returncode}): {' '.join(argv)}\n  " + "\n  ".join(tail),
            host="localhost", hint=hint,
        )
    return completed


def output(argv: Sequence[str], **kwargs) -> str:
    return run_local(argv, **kwargs).stdout.decode(errors="replace").strip()
