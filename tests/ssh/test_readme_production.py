"""The README's production section, every command verbatim, against the sandbox as if it were production.

The operator's home is a temporary folder: `~/.ssh/config` is the README's, with the example addresses
replaced by the sandbox bastion's and droplet's; `~/.ssh/id_ed25519` is a fresh key the two hosts are
told about, held by a real ssh-agent; `~/.ssh/hermes_known_hosts` starts empty and is filled by the
README's own `hostkey pin` commands, the fingerprints they confirm being read from the hosts' key files
(the "console"). Commands run through bash from a scratch folder, with `hermes-ops` on PATH.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hermes_ops.sandbox.bastion import Forward
from tests.browser.conftest import free_port, lab_started_by
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.sandbox

SECTION = "## Pointing it at real production"
PLACEHOLDER = "SHA256:…"


def readme_blocks() -> list[str]:
    """The fenced blocks of the README's production section, in order."""
    text = (REPO_ROOT / "README.md").read_text()
    section = text[text.index(SECTION):]
    section = section[:section.index("\n## ", len(SECTION))]
    return re.findall(r"^```[a-z]*\n(.*?)^```", section, flags=re.M | re.S)


def fingerprint_of(public_key_file: Path) -> str:
    return subprocess.run(["ssh-keygen", "-lf", str(public_key_file)], capture_output=True, text=True, timeout=10,
                          check=True).stdout.split()[1]


class Operator:
    """A shell in the operator's (temporary) home, from a scratch folder, `hermes-ops` on PATH."""

    def __init__(self, home: Path, scratch: Path, agent_socket: Path):
        self.home, self.scratch = home, scratch
        self.env = {**os.environ, "HOME": str(home), "SSH_AUTH_SOCK": str(agent_socket),
                    "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        for variable in ("HERMES_OPS_RECORDS", "HERMES_RECORDS_DIR"):  # the README's default: ./records
            self.env.pop(variable, None)

    def run(self, script: str, timeout: float = 600) -> subprocess.CompletedProcess:
        completed = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=self.scratch, env=self.env,
                                   capture_output=True, text=True, timeout=timeout)
        return completed


@pytest.fixture
def operator(tmp_path, sandbox, sandbox_host, bastion):
    home, scratch = tmp_path / "home", tmp_path / "ops"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    scratch.mkdir()
    (scratch / "config").symlink_to(REPO_ROOT / "config")  # `cp config/production.example.yaml`, from a clone
    key = home / ".ssh" / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "readme-operator", "-f", str(key)],
                   check=True, timeout=30, capture_output=True)
    public = Path(f"{key}.pub").read_text().strip()
    socket = tmp_path / "agent.sock"
    started = subprocess.run(["ssh-agent", "-s", "-a", str(socket)], capture_output=True, text=True, timeout=10,
                             check=True)
    agent_pid = int(re.search(r"SSH_AGENT_PID=(\d+)", started.stdout).group(1))
    sandbox_host.authorize_key(public)
    bastion.authorize_key(public)
    try:
        yield Operator(home, scratch, socket)
    finally:
        bastion.revoke_key(public)
        sandbox_host.revoke_key(public)
        os.kill(agent_pid, signal.SIGTERM)


def test_every_command_of_the_readme_production_section(operator, bastion, sandbox, sandbox_host, deployable):
    config, pinning, deploying, lab, ci = readme_blocks()

    # ~/.ssh/config: the README's, pointed at the sandbox's bastion and droplet.
    ours = (config.replace("HostName bastion.example.com", f"HostName {bastion.address}\n    Port {bastion.port}")
                  .replace("User you", f"User {bastion.user}")
                  .replace("HostName 203.0.113.7", f"HostName {sandbox.host}\n    Port {sandbox.port}"))
    (operator.home / ".ssh" / "config").write_text(ours)
    (operator.home / ".ssh" / "config").chmod(0o600)

    # The key into the agent; each host key shown, compared with the host's own key file, then pinned.
    truth = iter([fingerprint_of(Path(f"{bastion.host_key_path}.pub")),
                  fingerprint_of(Path(sandbox.state_dir) / "droplet" / "ssh_host_ed25519_key.pub")])
    expected = None
    for line in pinning.splitlines():
        if " show " in line:
            expected = next(truth)
        completed = operator.run(line.replace(PLACEHOLDER, expected or PLACEHOLDER))
        assert completed.returncode == 0, f"{line}\n{completed.stdout}{completed.stderr}"
        if " show " in line:
            assert expected in completed.stdout, completed.stdout
    pinned = (operator.home / ".ssh" / "hermes_known_hosts").read_text().splitlines()
    assert len(pinned) == 2 and f"[{sandbox.host}]:{sandbox.port} ssh-ed25519" in pinned[1]

    # The parameters file, a dry run, a deploy of a new commit, a look, the records, a rollback.
    new_commit = sandbox_host.commit("README: the production section")
    forwards_before = bastion.forwards().count(Forward(sandbox.host, sandbox.port))
    outputs = {}
    for line in deploying.splitlines():
        completed = operator.run(line)
        assert completed.returncode == 0, f"{line}\n{completed.stdout[-3000:]}{completed.stderr[-3000:]}"
        outputs[line] = completed.stdout
        if line.startswith("cp ") and "8088" not in sandbox.health_url:  # the sandbox app's own port
            params = operator.scratch / "production.yaml"
            params.write_text(params.read_text().replace("http://127.0.0.1:8088/",
                                                         sandbox.health_url.rsplit("/", 1)[0] + "/"))
    dry_run, deploy, status, images, records, host_records, verified, rollback = list(outputs.values())[1:]
    assert dry_run.strip().splitlines()[-1].endswith("_dry-run.ipynb")
    assert "via bastion jump@" in deploy and "agent key: ssh-ed25519" in deploy
    record = Path(deploy.strip().splitlines()[-1])
    assert record.parent == operator.scratch / "records" and record.name.endswith(f"_{new_commit[:12]}_success.ipynb")
    assert json.loads(record.with_suffix(".json").read_text())["reason"] == "TICKET-123: what this ships"
    assert new_commit in status and "lock         free" in status
    assert f"hermes/admin:{new_commit[:12]}" in images
    assert "success" in records and "dry-run" in records
    assert new_commit[:12] in host_records, "the host's archive lists the deploy"
    assert "holds" in verified
    assert rollback.strip().splitlines()[-1].endswith("_rolled-back.ipynb")
    assert bastion.forwards().count(Forward(sandbox.host, sandbox.port)) > forwards_before, "through the bastion"

    # JupyterLab on a prepared copy: the README's line, with the server's port, token and root allowance
    # (this machine runs tests as root) from a Jupyter config the way an operator's own would hold them.
    port, token = free_port(), os.urandom(16).hex()
    jupyter = operator.home / "jupyter"
    (jupyter / "config").mkdir(parents=True)
    (jupyter / "config" / "jupyter_server_config.json").write_text(json.dumps({
        "ServerApp": {"port": port, "port_retries": 0, "allow_root": True, "open_browser": False},
        "IdentityProvider": {"token": token}}))
    env = {**operator.env, "JUPYTER_CONFIG_DIR": str(jupyter / "config"), "JUPYTER_DATA_DIR": str(jupyter / "data"),
           "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"), "IPYTHONDIR": str(jupyter / "ipython")}
    with lab_started_by(["bash", "-c", lab.strip()], env, jupyter, cwd=operator.scratch, port=port, token=token):
        copies = [path for path in (operator.scratch / "records").glob("*.ipynb") if "_" not in path.name]
        assert len(copies) == 1, "JupyterLab answered on the prepared copy's server"
        assert "TICKET-123: what this ships" in copies[0].read_text(), "the parameters were injected"
    assert not copies[0].exists(), "a copy never saved is removed when JupyterLab exits"

    # The CI job's lines, as one script.
    completed = operator.run(ci)
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    assert completed.stdout.strip() == "deployed"
    summary = json.loads((operator.scratch / "result.json").read_text())  # stdout is the JSON and nothing else
    assert summary["outcome"] == "success" and summary["commit_after"] == new_commit and summary["exit_code"] == 0
    assert summary["reason"] == "TICKET-123: what this ships"
    assert all(Path(path).is_file() for path in summary["record"].values())
    assert "Step 5 · Build" in completed.stderr, "progress goes to stderr"
    assert "WARNING" not in completed.stderr and "without encryption" not in completed.stderr, completed.stderr[:2000]
