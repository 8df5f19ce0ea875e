"""A bastion for the sandbox: a second sshd that can only forward to the droplet's sshd.

Production droplets are often reachable only through a jump host (`ProxyJump`). To rehearse
that for real, the sandbox can run one: container `hermes-bastion` from the sandbox's base
image, `--network host`, sshd on 127.0.0.1 (port `$HERMES_SANDBOX_BASTION_PORT`, else the
droplet's port + 1), key-only login for user `jump` with the sandbox operator's key (`authorize_key` adds one). It is a
bastion and nothing more: `PermitOpen` allows forwarding to the droplet's sshd only, no
shell (`ForceCommand /bin/false`), no TTY, no agent or X11 forwarding. Its sshd logs at
DEBUG1 to `<state dir>/bastion/log/sshd.log`, so a test can read that the hop was used
(`forwards()`), and that any other destination was denied.

Like the droplet, it carries the sandbox's label, so `hermes-ops sandbox down` removes it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from hermes_ops.commands import docker as docker_commands
from hermes_ops.sandbox import droplet
from hermes_ops.sandbox.local import run_local

CONTAINER = "hermes-bastion"
USER = "jump"
HOST_KEY = "ssh_host_ed25519_key"
MOUNT = "/opt/hermes-bastion"
LOG_MOUNT = "/var/log/bastion"

SSHD_CONFIG = """\
# sshd of the sandbox bastion: key-only login for {user}, forwarding to the droplet's sshd only.
Port {port}
ListenAddress {address}
HostKey {mount}/{host_key}
PidFile /run/sshd-bastion.pid
AllowUsers {user}
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AuthorizedKeysFile {mount}/authorized_keys
AllowTcpForwarding local
PermitOpen {target_address}:{target_port}
ForceCommand /bin/false
PermitTTY no
AllowAgentForwarding no
X11Forwarding no
PermitTunnel no
GatewayPorts no
LogLevel DEBUG1
"""

ENTRYPOINT = """\
#!/bin/sh
# Entry point of the sandbox bastion container. Idempotent, so the container can be restarted.
set -eu
here={mount}
id {user} >/dev/null 2>&1 || useradd --create-home --shell /bin/sh {user}
usermod -p '*' {user}   # no password at all, but not locked: key login works
install -d -m 755 /run/sshd
exec /usr/sbin/sshd -D -f "$here/sshd_config" -E {log_mount}/sshd.log
"""

# sshd (DEBUG1) for each direct-tcpip channel it is asked for, allowed or not.
FORWARD_LINE = re.compile(r"server_request_direct_tcpip: originator (?P<origin>\S+) port \d+, "
                          r"target (?P<host>\S+) port (?P<port>\d+)")
DENIED_LINE = re.compile(r"to connect to host (?P<host>\S+) port (?P<port>\d+), but the request was denied")


@dataclass(frozen=True)
class Forward:
    """One forwarding request the bastion's sshd logged."""

    host: str
    port: int


class Bastion:
    """The sandbox's bastion, next to `host`'s droplet. Every method is safe to repeat."""

    def __init__(self, host, port: int | None = None):
        self.host = host  # a SandboxHost (not imported: sandbox.host is the bigger module)
        config = host.config
        self.address = config.bind_address
        self.port = port or int(os.environ.get("HERMES_SANDBOX_BASTION_PORT") or config.ssh_port + 1)
        self.directory = config.state_dir / "bastion"
        self.log_directory = self.directory / "log"

    @property
    def user(self) -> str:
        return USER

    @property
    def log_path(self) -> Path:
        return self.log_directory / "sshd.log"

    @property
    def host_key_path(self) -> Path:
        return self.directory / HOST_KEY

    def known_hosts_line(self) -> str:
        """The line that pins the bastion's host key (`[127.0.0.1]:PORT ssh-ed25519 AAAA...`)."""
        public = " ".join(Path(f"{self.host_key_path}.pub").read_text().split()[:2])
        return f"{droplet.known_hosts_name(self.address, self.port)} {public}"

    def up(self) -> Bastion:
        """Write its files and start its container if it is not running; return once sshd answers."""
        self._write_files()
        docker, env = self.host.docker, self.host.engine.env
        if droplet.container_state(docker, env, CONTAINER) == "running":
            return self
        self.host.run_docker(docker_commands.remove_container(CONTAINER), check=False)
        droplet.refuse_taken_port(self.address, self.port, "the sandbox bastion's sshd",
                                  "HERMES_SANDBOX_BASTION_PORT")
        self.host.log(f"starting bastion {CONTAINER}: {USER}@{self.address}:{self.port}, forwarding only to "
                      f"{self.address}:{self.host.config.ssh_port}")
        self.host.run_docker(docker_commands.run(
            self.host.base_image, name=CONTAINER, network="host", hostname="bastion", labels=self.host.labels,
            volumes=[f"{self.directory}:{MOUNT}:ro", f"{self.log_directory}:{LOG_MOUNT}"],
            command=["/bin/sh", f"{MOUNT}/entrypoint.sh"]), what="start the bastion")
        droplet.wait_for_ssh_banner(self.address, self.port)
        return self

    def down(self) -> None:
        """Remove its container (its files go with the state directory)."""
        self.host.run_docker(docker_commands.remove_container(CONTAINER), check=False)

    def forwards(self) -> list[Forward]:
        """Every forward the bastion's sshd was asked for, in order (from its log)."""
        return [Forward(match["host"], int(match["port"])) for match in FORWARD_LINE.finditer(self._log())]

    def denied(self) -> list[Forward]:
        """Every forward it refused (PermitOpen), in order."""
        return [Forward(match["host"], int(match["port"])) for match in DENIED_LINE.finditer(self._log())]

    def _log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _write_files(self) -> None:
        config = self.host.config
        # sshd reads authorized_keys as the user: the directory is world-readable, the host key is not.
        self.directory.mkdir(mode=0o755, parents=True, exist_ok=True)
        self.directory.chmod(0o755)
        self.log_directory.mkdir(exist_ok=True)
        if not self.host_key_path.exists():
            run_local(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hermes-sandbox-bastion",
                       "-f", str(self.host_key_path)], timeout=30, what="ssh-keygen")
        operator_public = Path(f"{droplet.key_paths(config)['operator']}.pub").read_text()
        files = {
            "sshd_config": SSHD_CONFIG.format(port=self.port, address=self.address, mount=MOUNT, host_key=HOST_KEY,
                                              user=USER, target_address=config.bind_address,
                                              target_port=config.ssh_port),
            "entrypoint.sh": ENTRYPOINT.format(mount=MOUNT, user=USER, log_mount=LOG_MOUNT),
            "authorized_keys": operator_public,
        }
        for name, text in files.items():
            (self.directory / name).write_text(text)
            (self.directory / name).chmod(0o644)

    def authorize_key(self, public_key: str) -> None:
        """Let one more public key log in as `jump` (read by sshd at each login: no restart)."""
        path = self.directory / "authorized_keys"
        line = " ".join(public_key.split())
        if line not in path.read_text().splitlines():
            with path.open("a") as keys:
                keys.write(line + "\n")

    def revoke_key(self, public_key: str) -> None:
        path = self.directory / "authorized_keys"
        line = " ".join(public_key.split())
        path.write_text("".join(f"{kept}\n" for kept in path.read_text().splitlines() if kept != line))
