"""The droplet: a container with `--network host --hostname texasca2` running sshd for user `core`.

A container (rather than a second sshd on this machine) is what makes `hostname` print
`texasca2` and keeps the user, its home and its audit log out of the machine's own /etc and /home.
It reaches the engine through the bind-mounted socket, as production's `core` does.
"""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

from hermes_ops.facts import Fact, containers, images
from hermes_ops.facts.containers import ContainerState
from hermes_ops.sandbox.config import SandboxConfig
from hermes_ops.sandbox.local import SandboxError, output, run_local

FILES = Path(__file__).resolve().parent / "droplet_files"
HOST_KEY = "ssh_host_ed25519_key"
OPERATOR_KEY = "operator_ed25519"

SSHD_CONFIG = """\
# sshd of the sandbox droplet: key-only login for one user, on loopback only.
Port {port}
ListenAddress {address}
HostKey /opt/hermes-sandbox/{host_key}
PidFile /run/sshd-hermes.pid
AllowUsers {user}
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
UsePAM no
AuthorizedKeysFile .ssh/authorized_keys
PrintMotd no
ClientAliveInterval 15
MaxSessions 64
MaxStartups 64:30:128
AllowTcpForwarding yes
"""


def key_paths(config: SandboxConfig) -> dict[str, Path]:
    keys = config.state_dir / "keys"
    return {
        "dir": keys,
        "operator": keys / OPERATOR_KEY,
        "known_hosts": keys / "known_hosts",
        "host_key": config.state_dir / "droplet" / HOST_KEY,
    }


def known_hosts_name(address: str, port: int) -> str:
    """How OpenSSH names a host in known_hosts: bare for port 22, `[host]:port` otherwise."""
    return address if port == 22 else f"[{address}]:{port}"


def ensure_keys(config: SandboxConfig) -> bool:
    """Operator key pair, droplet host key and the known_hosts that pins it; True if all were reused."""
    paths = key_paths(config)
    paths["dir"].mkdir(mode=0o700, parents=True, exist_ok=True)
    paths["host_key"].parent.mkdir(parents=True, exist_ok=True)
    reused = True
    for key, comment in ((paths["operator"], "hermes-sandbox-operator"), (paths["host_key"], "hermes-sandbox-droplet")):
        if not key.exists():
            reused = False
            run_local(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key)],
                      timeout=30, what="ssh-keygen")
    public_host_key = " ".join(Path(f"{paths['host_key']}.pub").read_text().split()[:2])
    paths["known_hosts"].write_text(f"{known_hosts_name(config.bind_address, config.ssh_port)} {public_host_key}\n")
    paths["known_hosts"].chmod(0o600)  # a pinned key others could rewrite pins nothing (StrictModes)
    return reused


def write_files(config: SandboxConfig) -> Path:
    """Everything the droplet container mounts read-only at /opt/hermes-sandbox."""
    directory = config.state_dir / "droplet"
    directory.mkdir(parents=True, exist_ok=True)
    for script in FILES.iterdir():
        if script.suffix == ".sh":
            shutil.copyfile(script, directory / script.name)
    (directory / "sshd_config").write_text(SSHD_CONFIG.format(
        port=config.ssh_port, address=config.bind_address, host_key=HOST_KEY, user=config.user))
    (first, first_port), (second, second_port) = (slot.split(":") for slot in config.app_slots.split())
    (directory / "haproxy.cfg").write_text((FILES / "haproxy.cfg").read_text().format(
        address=config.bind_address, port=config.app_port, socket=config.proxy_socket, socket_mode="666",
        backend=config.proxy_backend, slot1=first, port1=first_port, slot2=second, port2=second_port))
    shutil.copyfile(f"{key_paths(config)['operator']}.pub", directory / "authorized_keys")
    (config.state_dir / "logs").mkdir(exist_ok=True)
    return directory


def port_in_use(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError:
            return True
    return False


def refuse_taken_port(address: str, port: int, what: str, how_to_change: str) -> None:
    if port_in_use(address, port):
        raise SandboxError(
            f"port {port} on {address} ({what}) is already taken by another process",
            host="localhost",
            hint=f"see `ss -ltnp 'sport = :{port}'`; stop that process or choose another port ({how_to_change})",
        )


def wait_for_ssh_banner(address: str, port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=2) as connection:
                if connection.recv(64).startswith(b"SSH-2.0"):
                    return
        except OSError as error:
            last_error = str(error)
        time.sleep(0.2)
    raise SandboxError(f"the droplet's sshd did not answer on {address}:{port} within {timeout:.0f}s ({last_error})",
                       host="localhost", hint="see `docker logs` of the droplet container")


def read_fact(docker: str, env: dict[str, str], fact: Fact, *arguments, timeout: float = 30):
    """A fact about the sandbox's own engine, read with the local docker CLI at `docker`."""
    argv = fact.command(*arguments)
    completed = run_local([docker, *argv[1:]], timeout=timeout, env=env, check=False)
    return fact.value(completed.stdout.decode(errors="replace"), ok=completed.returncode == 0)


def container_state(docker: str, env: dict[str, str], name: str) -> ContainerState | None:
    """`running`, `exited`, …, or None if there is no such container."""
    return read_fact(docker, env, containers.state, name)


def droplet_environment(config: SandboxConfig) -> dict[str, str]:
    return {
        "HERMES_USER": config.user,
        "HERMES_APP": config.app_container,
        "HERMES_IMAGE": config.image,
        "HERMES_REPO_DIR": config.repo_dir,
        "HERMES_BIND": config.bind_address,
        "HERMES_PORT": str(config.app_port),
        "HERMES_LABEL": config.sandbox_label,
        "HERMES_ZERO_DOWNTIME": "1" if config.zero_downtime else "0",
        "HERMES_SLOTS": config.app_slots,
    }


def image_id(docker: str, env: dict[str, str], image: str) -> str | None:
    return read_fact(docker, env, images.image_id, image)
