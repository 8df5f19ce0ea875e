"""The SSH layer: a safe, bounded, streaming remote runner on paramiko.

    from hermes_ops.ssh import SSHTarget, connect

    target = SSHTarget(host="203.0.113.7", user="core", key_path="~/.ssh/deploy_ed25519",
                       known_hosts="~/.ssh/known_hosts")
    with connect(target, secrets=[token], stream=print_stream) as runner:
        runner.run(["docker", "ps", "--format", "{{.Names}}"], timeout=30)
        runner.run(["git", "status"], timeout=30, check=False)     # a probe: inspect .ok
        runner.run_shell("df -P / | tail -1", timeout=10)          # explicit raw shell

Modules: `target` (what to connect to), `config` (from ~/.ssh/config), `resolution` (a deploy's
parameters + ssh config + ssh-agent → the target, before any connection), `strictmodes`
(refusing files others could write), `hostkeys` (known_hosts and fingerprints, no network),
`hostkey_pinning` (fetch a host's key, pin the confirmed one), `sockets`/`auth`/`transport`
(connecting), `commandline` (quoting and the remote wrapper), `capture` (bounded output),
`streams` (draining output), `allocator` (keeping stream buffers off mmap), `protocol` (the
`Runner` both runners satisfy), `runner` (SSHRunner), `dryrun` (DryRunRunner).
"""

from hermes_ops.ssh.config import target_from_config_text, target_from_ssh_config
from hermes_ops.ssh.dryrun import DryRunRunner
from hermes_ops.ssh.hostkey_pinning import HostKeyInfo, fetch_host_key, pin_host_key
from hermes_ops.ssh.hostkeys import RejectUnknownHostKeyPolicy, check_host_key, fingerprint, known_hosts_line
from hermes_ops.ssh.protocol import Runner
from hermes_ops.ssh.resolution import Request as TargetRequest
from hermes_ops.ssh.resolution import Resolution
from hermes_ops.ssh.resolution import require_keys
from hermes_ops.ssh.resolution import resolve as resolve_target
from hermes_ops.ssh.runner import DEFAULT_TIMEOUT, SSHRunner, connect
from hermes_ops.ssh.streams import StreamCallback, print_stream
from hermes_ops.ssh.target import SSHTarget

__all__ = [
    "DEFAULT_TIMEOUT",
    "DryRunRunner",
    "HostKeyInfo",
    "RejectUnknownHostKeyPolicy",
    "Resolution",
    "Runner",
    "SSHRunner",
    "SSHTarget",
    "StreamCallback",
    "TargetRequest",
    "check_host_key",
    "connect",
    "fetch_host_key",
    "fingerprint",
    "known_hosts_line",
    "pin_host_key",
    "print_stream",
    "require_keys",
    "resolve_target",
    "target_from_config_text",
    "target_from_ssh_config",
]
