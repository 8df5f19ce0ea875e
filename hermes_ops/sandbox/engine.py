"""Finds a reachable Docker engine, or starts Debian's dockerd with everything inside the state directory."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from hermes_ops.sandbox.local import SandboxError, run_local

SYSTEM_SOCKET = Path("/var/run/docker.sock")
UNIX_SOCKET_PATH_LIMIT = 107


@dataclass(frozen=True)
class Engine:
    """A Docker engine the sandbox talks to: its socket, and whether the sandbox owns it."""

    socket: Path
    owned: bool
    pid: int | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.url}


def docker_cli() -> str:
    """Prefer Debian's client (same release as the engine it ships with)."""
    for candidate in ("/usr/bin/docker", shutil.which("docker")):
        if candidate and Path(candidate).exists():
            return candidate
    raise SandboxError("the docker client is not installed", host="localhost",
                       hint="run the README's set-up command (it installs Debian's docker.io)")


def _answers(socket: Path) -> bool:
    if not socket.exists():
        return False
    completed = subprocess.run(
        [docker_cli(), "--host", f"unix://{socket}", "version", "--format", "{{.Server.Version}}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20, check=False,
    )
    return completed.returncode == 0


def _paths(state_dir: Path) -> dict[str, Path]:
    root = state_dir / "docker"
    # containerd's sockets live under exec-root; keep that path short whatever the state dir is.
    short = hashlib.sha256(str(state_dir).encode()).hexdigest()[:12]
    return {
        "root": root,
        "socket": root / "docker.sock",
        "data": root / "data",
        "exec": Path("/run/hermes-sandbox") / short,
        "pidfile": root / "dockerd.pid",
        "log": root / "dockerd.log",
    }


def _pid_alive(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if process_alive(pid) else None


def find_or_start(state_dir: Path, *, external_socket: Path | None = None, euid: int | None = None,
                  timeout: float = 90) -> Engine:
    """Reuse this sandbox's dockerd, else a reachable engine, else start one (needs root: `euid` 0)."""
    paths = _paths(state_dir)
    pid = _pid_alive(paths["pidfile"])
    if pid and _answers(paths["socket"]):
        return Engine(paths["socket"], owned=True, pid=pid)
    external = external_socket or _external_socket()
    if external and _answers(external):
        return Engine(external, owned=False)
    if (os.geteuid() if euid is None else euid) != 0:
        raise SandboxError(
            "no Docker engine is reachable and this user cannot start one",
            host="localhost",
            hint="start Docker (or set DOCKER_HOST), or run as root so the sandbox can start dockerd itself",
        )
    if not shutil.which("dockerd"):
        raise SandboxError("dockerd is not installed", host="localhost",
                           hint="run the README's set-up command (apt-get install docker.io)")
    if len(str(paths["socket"])) > UNIX_SOCKET_PATH_LIMIT:
        raise SandboxError(f"the state directory path is too long for a unix socket: {paths['socket']}",
                           host="localhost", hint="set HERMES_SANDBOX_DIR to a shorter path")
    return _start(paths, timeout)


def _external_socket() -> Path | None:
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        return Path(host[len("unix://"):])
    return SYSTEM_SOCKET if not host else None


def _start(paths: dict[str, Path], timeout: float) -> Engine:
    for key in ("root", "data", "exec"):
        paths[key].mkdir(parents=True, exist_ok=True)
    paths["socket"].unlink(missing_ok=True)
    argv = [
        "dockerd",
        "--host", f"unix://{paths['socket']}",
        "--data-root", str(paths["data"]),
        "--exec-root", str(paths["exec"]),
        "--pidfile", str(paths["pidfile"]),
        # Loopback-only machine: no bridge, no NAT rules; containers use --network host or none.
        "--bridge", "none",
        "--iptables=false",
        "--ip-masq=false",
    ]
    with open(paths["log"], "ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SandboxError(
                f"dockerd exited with code {process.returncode} while starting:\n  " + _log_tail(paths["log"]),
                host="localhost", hint=f"read {paths['log']}; another dockerd on the same data root, "
                "or a kernel without overlayfs, are the usual causes",
            )
        if _answers(paths["socket"]):
            return Engine(paths["socket"], owned=True, pid=process.pid)
        time.sleep(0.3)
    process.terminate()
    raise SandboxError(f"dockerd did not answer within {timeout:.0f}s:\n  " + _log_tail(paths["log"]),
                       host="localhost", hint=f"read {paths['log']}")


def _log_tail(log: Path, lines: int = 8) -> str:
    try:
        return "\n  ".join(log.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_owned(state_dir: Path, timeout: float = 60) -> bool:
    """Stop this sandbox's dockerd (if it runs) and unmount anything it left under the state directory."""
    paths = _paths(state_dir)
    pid = _pid_alive(paths["pidfile"])
    if pid:
        os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, timeout):
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 10)
    for mount_point in _mounts_under([state_dir, paths["exec"]]):
        run_local(["umount", "--lazy", mount_point], timeout=30, check=False)
    shutil.rmtree(paths["exec"], ignore_errors=True)
    return pid is not None


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return True
        time.sleep(0.2)
    return False


def process_alive(pid: int) -> bool:
    """True while `pid` runs; reaps it if it is our own exited child (a zombie still answers kill 0)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _mounts_under(roots: list[Path]) -> list[str]:
    prefixes = [str(root.resolve()) + "/" for root in roots]
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return []
    points = [line.split()[1].replace("\\040", " ") for line in lines if len(line.split()) > 1]
    return sorted((point for point in points if any(point.startswith(prefix) for prefix in prefixes)), reverse=True)
