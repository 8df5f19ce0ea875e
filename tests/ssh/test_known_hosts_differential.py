"""Differential test: `check_host_key` gives OpenSSH's own verdict on every known_hosts file.

For each generated file (tests/ssh/known_hosts_cases.py: hand-written cases for each class
of disagreement once found, plus seeded random ones), the real `ssh` client connects with
StrictHostKeyChecking=yes to a throwaway sshd holding ed25519, ECDSA and RSA host keys,
and its verdict (accept / unknown / changed / revoked) must equal `check_host_key`'s for
the same file, host, port and presented key.

sshd runs in inetd mode as ssh's ProxyCommand (`sshd -i`), so no name is resolved and
no port is listened on: the host name and port are only what known_hosts is searched
for, exactly as for a real connection. HostKeyAlgorithms picks the key the server presents.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import paramiko
import pytest

from hermes_ops.errors import HostKeyChanged, HostKeyUnknown
from hermes_ops.ssh.hostkeys import check_host_key, known_hosts_line
from tests.ssh import known_hosts_cases as cases_module
from tests.ssh.conftest import SSHD, Sshd
from tests.ssh.known_hosts_cases import KEY_TYPES, Case, hand_written, key_from_public_line, other_keys, random_cases

ALGORITHM = {"ed25519": "ssh-ed25519", "ecdsa": "ecdsa-sha2-nistp256", "rsa": "rsa-sha2-512"}
# More, or other, random files for a deeper search: HERMES_KNOWN_HOSTS_FILES=5000 HERMES_KNOWN_HOSTS_SEED=7
RANDOM_FILES = int(os.environ.get("HERMES_KNOWN_HOSTS_FILES", "450"))
SEED = int(os.environ.get("HERMES_KNOWN_HOSTS_SEED", "15"))
WORKERS = max(4, 2 * (os.cpu_count() or 1))


class OpenSSH:
    """Verdicts of the real ssh client against a throwaway sshd run as its ProxyCommand."""

    def __init__(self, server: Sshd):
        self.server = server
        self.proxy = f"{SSHD} -i -q -f {shlex.quote(str(server.config_path))}"

    def verdict(self, known_hosts: Path, host: str, port: int, presented: str) -> str:
        argv = ["ssh", "-F", "/dev/null", "-T", "-n",
                "-o", f"UserKnownHostsFile={known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "StrictHostKeyChecking=yes", "-o", "CheckHostIP=no", "-o", "UpdateHostKeys=no",
                "-o", f"HostKeyAlgorithms={ALGORITHM[presented]}", "-o", f"ProxyCommand={self.proxy}",
                "-o", "BatchMode=yes", "-o", "PubkeyAuthentication=no", "-o", "PasswordAuthentication=no",
                "-o", "KbdInteractiveAuthentication=no", "-o", "HostbasedAuthentication=no",
                "-o", "GSSAPIAuthentication=no", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=20",
                "-p", str(port), "-l", "nobody", "--", host, "true"]
        completed = subprocess.run(argv, capture_output=True, timeout=60)
        output = completed.stderr.decode(errors="replace")
        if "REVOKED HOST KEY" in output:
            return "revoked"
        if "REMOTE HOST IDENTIFICATION HAS CHANGED" in output:
            return "changed"
        if re.search(r"No \S+ host key is known for", output):
            return "unknown"
        if "Permission denied" in output:
            return "accept"
        raise AssertionError(f"ssh said something unexpected (exit {completed.returncode}):\n{output}")


def ours(known_hosts: Path, host: str, port: int, key: paramiko.PKey) -> str:
    try:
        check_host_key(str(known_hosts), host, port, key)
    except HostKeyUnknown:
        return "unknown"
    except HostKeyChanged as error:
        return "revoked" if "revoked" in str(error) else "changed"
    return "accept"


def deliberately_stricter(content: bytes) -> bool:
    """Does a line start `@revoked<TAB>` with a space further on (OpenSSH ignores it; hostkeys does not)?"""
    for line in content.split(b"\n"):
        text = line.split(b"\0", 1)[0].lstrip(b" \t")
        if text.startswith(b"@revoked\t") and text.find(b" ") != len(b"@revoked"):
            return True
    return False


@pytest.fixture(scope="module")
def openssh(ssh_workdir, authorized_keys) -> OpenSSH:
    server = Sshd(ssh_workdir, "differential", authorized_keys)
    server.write_config()
    return OpenSSH(server)


@pytest.fixture(scope="module")
def presented_keys(openssh) -> dict[str, paramiko.PKey]:
    """The server's host keys as paramiko keys: what `check_host_key` is given."""
    keys = {}
    for key_type in KEY_TYPES:
        public = Path(f"{openssh.server.host_key(key_type)}.pub").read_text()
        type_name, encoded = public.split()[:2]
        keys[key_type] = paramiko.PKey.from_type_string(type_name, base64.b64decode(encoded))
    return keys


@pytest.fixture(scope="module")
def all_cases(openssh) -> list[Case]:
    server = {key_type: key_from_public_line(Path(f"{openssh.server.host_key(key_type)}.pub").read_text())
              for key_type in KEY_TYPES}
    other = other_keys(seed=SEED)
    return hand_written(server, other) + random_cases(server, other, seed=SEED, count=RANDOM_FILES)


def test_check_host_key_agrees_with_openssh(openssh, presented_keys, all_cases, tmp_path):
    files = []
    for number, case in enumerate(all_cases):
        path = tmp_path / f"known_hosts-{number:04d}"
        path.write_bytes(case.content)
        files.append(path)
    with ThreadPoolExecutor(WORKERS) as pool:
        theirs = list(pool.map(lambda pair: openssh.verdict(pair[1], pair[0].host, pair[0].port, pair[0].presented),
                               zip(all_cases, files)))
    disagreements, stricter = [], []
    for case, path, openssh_verdict in zip(all_cases, files, theirs):
        mine = ours(path, case.host, case.port, presented_keys[case.presented])
        if mine == openssh_verdict:
            continue
        if (case.stricter or deliberately_stricter(case.content)) and mine == "revoked":
            stricter.append(case.name)
            continue
        disagreements.append(f"{case.name}: ssh {openssh_verdict}, hermes-ops {mine}; host {case.host} port "
                             f"{case.port}, {case.presented} presented; file {case.content!r}")
    verdicts = {verdict: theirs.count(verdict) for verdict in ("accept", "unknown", "changed", "revoked")}
    print(f"{len(all_cases)} files; OpenSSH's verdicts {verdicts}; deliberately stricter: {stricter}")
    assert not disagreements, f"{len(disagreements)} disagreements:\n" + "\n".join(disagreements)
    assert all(verdicts.values()), f"the cases should reach every verdict: {verdicts}"
    assert any(case.stricter for case in all_cases if case.name in stricter), "the documented stricter case"


@pytest.mark.parametrize("hashed", [False, True], ids=["plain", "hashed"])
@pytest.mark.parametrize("host,port", [("Droplet.Example", 22), ("droplet.example", 2222), ("10.0.0.7", 2200)])
def test_pinned_lines_are_read_back_by_openssh(openssh, presented_keys, tmp_path, host, port, hashed):
    """What `known_hosts_line` (and so `hermes-ops hostkey pin`) writes, ssh and ssh-keygen read back."""
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(known_hosts_line(host, port, presented_keys["ecdsa"], hashed=hashed) + "\n")
    assert openssh.verdict(known_hosts, host, port, "ecdsa") == "accept"
    assert ours(known_hosts, host, port, presented_keys["ecdsa"]) == "accept"
    assert openssh.verdict(known_hosts, host, port, "ed25519") == "changed"
    name = host.lower() if port == 22 else f"[{host.lower()}]:{port}"
    found = subprocess.run(["ssh-keygen", "-F", name, "-f", str(known_hosts)], capture_output=True, text=True)
    assert found.returncode == 0 and "ecdsa-sha2-nistp256" in found.stdout


def test_the_cases_cover_every_class(all_cases):
    """Each class of disagreement found in the first comparison has hand-written cases."""
    names = " ".join(case.name for case in all_cases)
    for needle in ("form feed", "U+2028", "hash inside a comma list", "negated hash", "capitals", "long s",
                   "19-byte salt", "junk after the digest", "labelled ssh-rsa", "unknown type name", "extra padding",
                   "non-canonical base64", "NBSP", "EM SPACE", "NUL", "over-long", "bare-name pin", "@revoked"):
        assert needle in names, needle
    assert len(all_cases) >= 500
    assert cases_module.PORTS == (22, 2222)
