"""Throwaway sshd instances on loopback, for the SSH layer's integration tests.

Each `Sshd` is a real OpenSSH server (`sshd -D -e -f CONFIG`) on 127.x with a free port,
its own host keys in a temp dir, key-only auth (no passwords, no keyboard-interactive,
no PAM) and an AuthorizedKeysFile in the temp dir. Logins are as a dedicated local user
(`TEST_USER`, created with `useradd -m` and unlocked with `usermod -p '*'` if missing).

Destructive tests (changed host key, killing or freezing sshd mid-command, the jump host)
get their own instance; everything else shares the session one.

Needs root (sshd must bind, switch users and read host keys) and /usr/sbin/sshd.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hermes_ops.ssh import SSHTarget

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
TEST_USER = "hermes-ssh-test"
KEY_PASSPHRASE = "correct horse battery staple"


def _run(argv, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """All processes below `pid` (children first-level first), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, queue = [], list(children.get(pid, []))
    while queue:
        child = queue.pop(0)
        found.append(child)
        queue.extend(children.get(child, []))
    return found


def user_processes(pattern: str) -> list[int]:
    """pids of TEST_USER's processes whose full command line matches `pattern` (pgrep -f)."""
    completed = subprocess.run(["pgrep", "-u", TEST_USER, "-f", pattern], capture_output=True, text=True)
    return [int(pid) for pid in completed.stdout.split()]


@dataclass
class ClientKeys:
    directory: Path
    paths: dict[str, Path] = field(default_factory=dict)

    def __getitem__(self, name: str) -> str:
        return str(self.paths[name])

    def public(self, name: str) -> str:
        return Path(f"{self.paths[name]}.pub").read_text().strip()


class Sshd:
    """One sshd process with its own config, host keys and log."""

    def __init__(self, workdir: Path, name: str, authorized_keys: Path, *, address: str = "127.0.0.1",
                 host_key_types: tuple[str, ...] = ("ed25519", "ecdsa", "rsa"), extra: str = ""):
        self.directory = workdir / name
        self.directory.mkdir(mode=0o755)
        self.address = address
        self.port = free_port(address)
        self.authorized_keys = authorized_keys
        self.host_key_types = host_key_types
        self.extra = extra
        self.process: subprocess.Popen | None = None
        self.log_path = self.directory / "sshd.log"
        self.config_path = self.directory / "sshd_config"
        self.generate_host_keys()

    def host_key(self, key_type: str) -> Path:
        return self.directory / f"ssh_host_{key_type}_key"

    def generate_host_keys(self) -> None:
        for key_type in self.host_key_types:
            path = self.host_key(key_type)
            for stale in (path, Path(f"{path}.pub")):
                stale.unlink(missing_ok=True)
            size = ["-b", "2048"] if key_type == "rsa" else []
            _run(["ssh-keygen", "-q", "-t", key_type, *size, "-N", "", "-C", f"{self.directory.name}-host",
                  "-f", str(path)])

    def fingerprint(self, key_type: str) -> str:
        """The host key's fingerprint as `ssh-keygen -lf` prints it (the reference for ours)."""
        return _run(["ssh-keygen", "-lf", f"{self.host_key(key_type)}.pub"]).stdout.split()[1]

    def write_config(self) -> None:
        host_keys = "\n".join(f"HostKey {self.host_key(key_type)}" for key_type in self.host_key_types)
        # sshd takes the first value of each keyword, so `extra` goes first to override the defaults.
        self.config_path.write_text(f"""\
{self.extra}
ListenAddress {self.address}:{self.port}
{host_keys}
PidFile none
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
StrictModes no
AuthorizedKeysFile {self.authorized_keys}
AllowUsers {TEST_USER}
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
LogLevel VERBOSE
MaxStartups 100:30:200
MaxSessions 50
""")

    def start(self) -> Sshd:
        self.write_config()
        _run([SSHD, "-t", "-f", str(self.config_path)])
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config_path)],
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd exited at start:\n{self.log_path.read_text()}")
            try:
                with socket.create_connection((self.address, self.port), timeout=1) as probe:
                    if probe.recv(64).startswith(b"SSH-"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"sshd did not come up on {self.address}:{self.port}:\n{self.log_path.read_text()}")

    def session_processes(self) -> list[int]:
        """The per-connection sshd processes (and what they run) below the listener."""
        return descendants(self.process.pid) if self.process else []

    def stop(self) -> None:
        """Stop the listener and every session below it."""
        if self.process is None:
            return
        for pid in [*self.session_processes(), self.process.pid]:
            try:
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> Sshd:
        self.stop()
        return self.start()

    def known_hosts(self, path: Path, *, hashed: bool = False, key_types: str = "ed25519,ecdsa,rsa") -> Path:
        """Write a known_hosts file for this sshd with OpenSSH's own ssh-keyscan."""
        argv = ["ssh-keyscan", "-p", str(self.port), "-t", key_types, *(["-H"] if hashed else []), self.address]
        path.write_text(_run(argv, timeout=30).stdout)
        return path

    def target(self, key_path: str | None, known_hosts: Path | str, **overrides) -> SSHTarget:
        options = {"connect_timeout": 10.0, "keepalive_interval": 1.0, "keepalive_count_max": 3}
        options.update(overrides)
        return SSHTarget(host=self.address, port=self.port, user=TEST_USER, key_path=key_path,
                         known_hosts=str(known_hosts), **options)


def _ensure_test_user() -> Path:
    if subprocess.run(["id", "-u", TEST_USER], capture_output=True).returncode != 0:
        _run(["useradd", "-m", "-s", "/bin/bash", TEST_USER])
    _run(["usermod", "-p", "*", TEST_USER])  # '!' (locked) would make sshd refuse even key logins
    return Path(_run(["getent", "passwd", TEST_USER]).stdout.split(":")[5])


@pytest.fixture(scope="session")
def ssh_workdir():
    if os.geteuid() != 0:
        pytest.skip("the sshd integration tests need root")
    if not os.path.exists(SSHD):
        pytest.skip("openssh-server is not installed")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    _ensure_test_user()
    directory = Path(tempfile.mkdtemp(prefix="hermes-ssh-tests-"))
    directory.chmod(0o755)  # the test user must read authorized_keys and the data files
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def client_keys(ssh_workdir) -> ClientKeys:
    """Client keys: ed25519, ecdsa, rsa, a passphrase-protected one, one for the agent, one unregistered."""
    keys = ClientKeys(ssh_workdir / "client-keys")
    keys.directory.mkdir(mode=0o700)
    specs = {"ed25519": ("ed25519", ""), "ecdsa": ("ecdsa", ""), "rsa": ("rsa", ""),
             "protected": ("ed25519", KEY_PASSPHRASE), "agent": ("ed25519", ""), "wrong": ("ed25519", "")}
    for name, (key_type, passphrase) in specs.items():
        path = keys.directory / f"id_{name}"
        size = ["-b", "3072"] if key_type == "rsa" else []
        _run(["ssh-keygen", "-q", "-t", key_type, *size, "-N", passphrase, "-C", f"hermes-test-{name}",
              "-f", str(path)])
        keys.paths[name] = path
    return keys


@pytest.fixture(scope="session")
def authorized_keys(ssh_workdir, client_keys) -> Path:
    path = ssh_workdir / "authorized_keys"
    path.write_text("".join(f"{client_keys.public(name)}\n" for name in client_keys.paths if name != "wrong"))
    path.chmod(0o644)
    return path


@pytest.fixture(scope="session")
def sshd(ssh_workdir, authorized_keys):
    """The shared throwaway sshd (not to be broken by tests)."""
    server = Sshd(ssh_workdir, "shared", authorized_keys).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def known_hosts(sshd, ssh_workdir) -> Path:
    """A plain known_hosts file pinning the shared sshd, written by ssh-keyscan."""
    return sshd.known_hosts(ssh_workdir / "known_hosts")


@pytest.fixture
def own_sshd(ssh_workdir, authorized_keys, request):
    """A private sshd for a test that breaks it (restarts, kills, freezes)."""
    server = Sshd(ssh_workdir, f"own-{request.node.name[:40]}-{free_port()}", authorized_keys).start()
    yield server
    server.stop()


@pytest.fixture
def ssh_agent(ssh_workdir, client_keys, monkeypatch):
    """A real ssh-agent holding the `agent` key, with SSH_AUTH_SOCK pointing at it for the test."""
    socket_path = Path(tempfile.mkdtemp(prefix="agent-", dir=ssh_workdir)) / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(socket_path)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not socket_path.exists():
            if time.monotonic() > deadline or agent.poll() is not None:
                raise RuntimeError("ssh-agent did not start")
            time.sleep(0.02)
        _run(["ssh-add", client_keys["agent"]], env={**os.environ, "SSH_AUTH_SOCK": str(socket_path)})
        monkeypatch.setenv("SSH_AUTH_SOCK", str(socket_path))
        yield socket_path
    finally:
        agent.terminate()
        agent.wait(timeout=10)


@pytest.fixture(scope="session")
def payloads(ssh_workdir):
    """Two 20 MiB random files the test user can read, and their sizes and sha256."""
    import hashlib

    files = {}
    for name in ("out", "err"):
        path = ssh_workdir / f"payload-{name}.bin"
        data = os.urandom(20 * 1024 * 1024)
        path.write_bytes(data)
        path.chmod(0o644)
        files[name] = (path, len(data), hashlib.sha256(data).hexdigest())
    return files


IPTABLES = shutil.which("iptables")


@pytest.fixture
def jump_pair(ssh_workdir, authorized_keys, request):
    """A bastion sshd on 127.0.0.1 and a target sshd on 127.0.0.2 that only the bastion can reach.

    "Only": an iptables OUTPUT rule rejects connections to the target's port from every
    local user except TEST_USER, and the bastion's forwarding runs as TEST_USER (sshd
    drops to the logged-in user after authentication). So a direct connection from the
    test (root) is refused while `direct-tcpip` through the bastion works. Without
    iptables the pair still works, but `isolated` is False.
    """
    uid = int(_run(["id", "-u", TEST_USER]).stdout)
    target = Sshd(ssh_workdir, f"jump-target-{free_port()}", authorized_keys, address="127.0.0.2",
                  host_key_types=("ed25519",))
    bastion = Sshd(ssh_workdir, f"jump-bastion-{free_port()}", authorized_keys, host_key_types=("ed25519",),
                   extra=f"AllowTcpForwarding yes\nPermitOpen 127.0.0.2:{target.port}\n")
    rule = ["OUTPUT", "-o", "lo", "-p", "tcp", "-d", "127.0.0.2", "--dport", str(target.port),
            "-m", "owner", "!", "--uid-owner", str(uid), "-m", "comment", "--comment",
            f"hermes-ops-test-{os.getpid()}", "-j", "REJECT", "--reject-with", "tcp-reset"]
    isolated = False
    try:
        target.start()  # before the rule: start() checks the banner from here
        bastion.start()
        if IPTABLES:
            isolated = subprocess.run([IPTABLES, "-I", *rule], capture_output=True).returncode == 0
        yield bastion, target, isolated
    finally:
        bastion.stop()
        target.stop()
        if isolated:
            subprocess.run([IPTABLES, "-D", *rule], capture_output=True)


@pytest.fixture(scope="session")
def sandbox_target(request) -> SSHTarget:
    """The sandbox droplet as an SSHTarget, from the lead's `sandbox` fixture; skips without it."""
    try:
        sandbox = request.getfixturevalue("sandbox")
    except pytest.FixtureLookupError:
        pytest.skip("no `sandbox` fixture in tests/conftest.py yet")
    return SSHTarget(host=sandbox.host, port=int(sandbox.port), user=sandbox.user, key_path=str(sandbox.key_path),
                     known_hosts=str(sandbox.known_hosts), connect_timeout=15.0, keepalive_interval=5.0)


@pytest.fixture(scope="module")
def bastion(sandbox_host):
    """The sandbox's bastion (a second sshd that forwards only to the droplet), up for this module's tests."""
    from hermes_ops.sandbox.bastion import Bastion

    return Bastion(sandbox_host).up()
