"""The sandbox's git origin: a bare repo of the sample service, and a work clone that makes new commits."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

from hermes_ops.sandbox.local import SandboxError, output, run_local

TEMPLATE = Path(__file__).resolve().parent / "service_template"
IDENTITY = ["-c", "user.name=Hermes Sandbox", "-c", "user.email=sandbox@hermes.invalid"]


def _git(*args: str, cwd: Path | None = None) -> str:
    prefix = ["git", "-C", str(cwd)] if cwd else ["git"]
    return output([*prefix, *IDENTITY, *args], timeout=60, what="git")


def ensure(state_dir: Path, branch: str) -> tuple[Path, bool]:
    """Create origin.git with one commit of the sample service, unless it is already there."""
    origin, work = state_dir / "origin.git", state_dir / "work"
    if origin.exists():
        if run_local(["git", "-C", str(origin), "rev-parse", "--verify", f"refs/heads/{branch}"],
                     timeout=30, check=False).returncode != 0:
            raise SandboxError(f"{origin} exists but has no branch {branch!r}: the state directory is half-built",
                               host="localhost", hint="run `hermes-ops sandbox down`, then `up` again")
        return origin, True
    shutil.rmtree(work, ignore_errors=True)
    _git("init", "--quiet", "--bare", f"--initial-branch={branch}", str(origin))
    shutil.copytree(TEMPLATE, work, ignore=shutil.ignore_patterns("__pycache__"))
    _git("init", "--quiet", f"--initial-branch={branch}", cwd=work)
    _git("add", "--all", cwd=work)
    _git("commit", "--quiet", "--message", "Initial Hermes sample service", cwd=work)
    _git("remote", "add", "origin", str(origin), cwd=work)
    _git("push", "--quiet", "origin", branch, cwd=work)
    return origin, False


def head(state_dir: Path, branch: str) -> str:
    return _git("rev-parse", f"refs/heads/{branch}", cwd=state_dir / "origin.git")


def _before_build_line(extra: str):
    """A Makefile change: run `extra` as the recipe's first line."""
    return "Makefile", lambda text: text.replace("all:\n", f"all:\n\t{extra}\n", 1)


# Deliberate defects, to rehearse failed deploys: name -> (file, change to its text).
FAULTS = {
    "break-build": ("src/server.py", lambda text: text + "\nthis line is not python (\n"),
    "crash-on-start": ("src/server.py", lambda text: text.replace(
        'if __name__ == "__main__":', 'if __name__ == "__main__":\n    raise SystemExit("hermes-app: crashed on start")')),
    "unhealthy": ("src/server.py", lambda text: text.replace('"/health": "ok\\n"', '"/health": None')),
    "hang-build": _before_build_line("sleep 3600"),
    "slow-build": _before_build_line("@echo slow build: 20 seconds; sleep 20"),
    "noisy-build": _before_build_line(
        "@python3 -c 'import sys; [sys.stdout.write(\"build noise line %07d \" % i + \"x\" * 60 + \"\\n\") "
        "for i in range(300000)]'"),
    # Builds that print 1 MB and 100 MB of 100-byte text lines (benchmarks/output_bench.py), then build as usual.
    "loud-build-1mb": _before_build_line(
        "@python3 -c 'import sys; sys.stdout.writelines(\"loud build line %09d \" % i + \"x\" * 73 + \"\\n\" "
        "for i in range(10000))'"),
    "loud-build-100mb": _before_build_line(
        "@python3 -c 'import sys; sys.stdout.writelines(\"loud build line %09d \" % i + \"x\" * 73 + \"\\n\" "
        "for i in range(1000000))'"),
}


def add_commit(state_dir: Path, branch: str, message: str | None = None, fault: str | None = None) -> str:
    """A visible change (the greeting served at `/`), committed and pushed to origin; returns the new id.

    `fault` adds a deliberate defect (see FAULTS); any later commit without one repairs the service.
    """
    work = state_dir / "work"
    if not (work / ".git").is_dir():
        raise SandboxError(f"no sandbox work clone at {work}", host="localhost",
                           hint="run `hermes-ops sandbox up` first")
    _git("pull", "--quiet", "--ff-only", "origin", branch, cwd=work)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    message = message or "Sandbox change"
    # The stamp makes every commit a real change, even with a repeated message.
    (work / "src" / "greeting.txt").write_text(f"Hello from Hermes. {message} ({stamp})\n")
    if fault and fault not in FAULTS:
        raise SandboxError(f"unknown fault {fault!r}", host="localhost", hint=f"one of: {', '.join(FAULTS)}")
    for name in ("src/server.py", "Makefile"):  # any commit starts from the good service
        text = (TEMPLATE / name).read_text()
        if fault and FAULTS[fault][0] == name:
            text = FAULTS[fault][1](text)
        (work / name).write_text(text)
    _git("commit", "--quiet", "--all", "--message", message, cwd=work)
    _git("push", "--quiet", "origin", branch, cwd=work)
    return head(state_dir, branch)
