"""Proving who we are: loading the private key (and its passphrase) and offering keys to sshd.

Keys come from a key file (ed25519, ecdsa or rsa, OpenSSH or PEM format) or from
ssh-agent. A key file's passphrase is never a parameter (a notebook parameter ends up
in the executed notebook): it is read from the environment variable the target names,
or asked for through a prompt callback, and it is held as a `Secret`. Once read it is
also registered process-wide (`secrets.register_secret`), so it is masked as `****`
wherever it turns up: remote output, results, error messages, records.

Keys are loaded before any connection is made, so a missing key file or a wrong
passphrase is a `ConfigError` that never touches the host.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import paramiko

from hermes_ops.errors import AuthenticationFailed, ConfigError
from hermes_ops.secrets import Secret, register_secret
from hermes_ops.ssh.hostkeys import fingerprint
from hermes_ops.ssh.target import SSHTarget

PassphrasePrompt = Callable[[str], str | Secret]


@dataclass(frozen=True)
class OfferedKey:
    """A key we will offer, and how to describe it in an error message."""

    key: paramiko.PKey
    source: str

    def describe(self) -> str:
        return f"{self.source} ({self.key.get_name()} {fingerprint(self.key)})"


def load_private_key(path: str, *, passphrase_env: str | None = None,
                     passphrase_prompt: PassphrasePrompt | None = None) -> paramiko.PKey:
    """Load a private key file, asking for its passphrase only if it is encrypted.

    The passphrase comes from the environment variable `passphrase_env`, else from
    `passphrase_prompt(path)`.

    Raises:
        ConfigError: the file is missing or unreadable, not a supported key, encrypted with
            no passphrase available, or the passphrase is wrong.
    """
    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        raise ConfigError(f"private key file {path} does not exist",
                          hint="check key_path (or the IdentityFile in the ssh config)")
    try:
        return paramiko.PKey.from_path(path)
    except paramiko.PasswordRequiredException:
        pass
    except (paramiko.SSHException, ValueError, TypeError, OSError) as error:
        if not _looks_encrypted(path):
            raise ConfigError(f"cannot load private key {path}: {error}",
                              hint="use an ed25519, ecdsa or rsa key in OpenSSH or PEM format") from None
    passphrase = _passphrase(path, passphrase_env, passphrase_prompt)
    try:
        # bytes, not str: paramiko 5's from_path hands the password straight to cryptography.
        return paramiko.PKey.from_path(path, password=passphrase.reveal().encode())
    except (paramiko.SSHException, ValueError, TypeError) as error:
        raise ConfigError(f"cannot decrypt private key {path}: wrong passphrase? ({type(error).__name__})",
                          hint=f"check the passphrase in ${passphrase_env}" if passphrase_env
                          and os.environ.get(passphrase_env) else "check the passphrase") from None


def _looks_encrypted(path: str) -> bool:
    # cryptography raises TypeError("Password was not given but private key is encrypted") for
    # OpenSSH-format keys, which paramiko does not always turn into PasswordRequiredException.
    try:
        with open(path, "rb") as handle:
            text = handle.read(64 * 1024)
    except OSError:
        return False
    if b"ENCRYPTED" in text:
        return True
    try:
        from cryptography.hazmat.primitives import serialization

        serialization.load_ssh_private_key(text, password=None)
    except TypeError:
        return True
    except ValueError:
        return False
    return False


def _passphrase(path: str, passphrase_env: str | None, prompt: PassphrasePrompt | None) -> Secret:
    """The key's passphrase, registered for masking before anyone can print it."""
    value = os.environ.get(passphrase_env) if passphrase_env else None
    if value:
        secret = Secret(value, name=passphrase_env)
    elif prompt is not None:
        answer = prompt(path)
        secret = answer if isinstance(answer, Secret) else Secret(answer or "", name="key passphrase")
    else:
        raise ConfigError(f"private key {path} is passphrase-protected and no passphrase is available",
                          hint=f"export {passphrase_env}=... before starting the runbook, pass a passphrase_prompt "
                               "callback, or load the key into ssh-agent (ssh-add) and leave key_path unset")
    register_secret(secret)
    return secret


def keys_to_offer(target: SSHTarget, *, passphrase_prompt: PassphrasePrompt | None = None,
                  agent: paramiko.Agent | None = None) -> list[OfferedKey]:
    """The keys to offer for `target`: its key file, then agent keys if the target allows.

    Raises:
        ConfigError: no key file is set and ssh-agent has no keys.
    """
    offered = []
    if target.key_path:
        offered.append(OfferedKey(load_private_key(target.key_path, passphrase_env=target.passphrase_env,
                                                   passphrase_prompt=passphrase_prompt), target.key_path))
    if target.key_path is None or target.use_agent:
        agent_keys = agent.get_keys() if agent is not None else ()
        offered.extend(OfferedKey(key, f"ssh-agent key {_agent_comment(key)}".rstrip()) for key in agent_keys)
        if not offered:
            raise ConfigError(f"no key to offer to {target.display}: key_path is unset and ssh-agent has no keys"
                              + ("" if os.environ.get("SSH_AUTH_SOCK") else " (SSH_AUTH_SOCK is not set)"),
                              hint="set key_path, or start ssh-agent and ssh-add the deploy key")
    return offered


@dataclass(frozen=True)
class AgentKeys:
    """What ssh-agent holds right now, and why nothing if nothing (for an error naming what was tried)."""

    keys: tuple[paramiko.PKey, ...]
    status: str  # "ssh-agent at SOCK", or why no key came from it

    def describe(self) -> list[str]:
        """One line per key: type, SHA256 fingerprint and the comment ssh-add gave it."""
        return [f"{key.get_name()} {fingerprint(key)} {_agent_comment(key)}".rstrip() for key in self.keys]


def agent_keys() -> AgentKeys:
    """Ask ssh-agent (`$SSH_AUTH_SOCK`) for its keys; no agent or an empty one is an answer, not an error.

    Local only: nothing here touches a host. The status says precisely why no key came back,
    so "no key to offer" errors can name what was tried.
    """
    socket_path = os.environ.get("SSH_AUTH_SOCK")
    if not socket_path:
        return AgentKeys((), "ssh-agent is not running (SSH_AUTH_SOCK unset)")
    if not os.path.exists(socket_path):
        return AgentKeys((), f"ssh-agent is not reachable (SSH_AUTH_SOCK={socket_path} does not exist)")
    agent = paramiko.Agent()
    try:
        keys = tuple(agent.get_keys())
    finally:
        agent.close()
    if not keys:
        return AgentKeys((), f"ssh-agent at {socket_path} holds no keys (see `ssh-add -l`)")
    return AgentKeys(keys, f"ssh-agent at {socket_path}")


def _agent_comment(key: paramiko.PKey) -> str:
    comment = getattr(key, "comment", "") or ""
    return comment.decode(errors="replace") if isinstance(comment, bytes) else comment


def authenticate(transport: paramiko.Transport, target: SSHTarget, offered: list[OfferedKey]) -> OfferedKey:
    """Offer each key in turn until sshd accepts one; returns the key it accepted.

    Callers keep the accepted key so they can tell which key this session logged in with
    (an admin must not revoke the key their own session depends on).

    Raises:
        AuthenticationFailed: every key was refused, public-key login is not allowed, or
            the server wants a second factor.
    """
    where = {"hostname": target.host, "port": target.port, "user": target.user}
    described = [key.describe() for key in offered]
    register_hint = (f"register the public key for {target.user} on {target.host}: append the output of "
                     f"`ssh-keygen -y -f {target.key_path or 'KEY'}` to ~{target.user}/.ssh/authorized_keys "
                     "(ask whoever administers the host); also check the user name")
    for candidate in offered:
        try:
            remaining = transport.auth_publickey(target.user, candidate.key)
        except paramiko.BadAuthenticationType as error:
            raise AuthenticationFailed(
                f"{target.host} does not accept public-key login for {target.user} "
                f"(it allows: {', '.join(error.allowed_types) or 'nothing'})",
                offered=described, hint="enable PubkeyAuthentication for this user in sshd_config", **where) from None
        except paramiko.AuthenticationException:
            continue
        except (paramiko.SSHException, EOFError, OSError) as error:
            raise AuthenticationFailed(f"connection closed during authentication: {error}", offered=described,
                                       hint="check sshd's log on the host (journalctl -u ssh)", **where) from None
        if remaining:
            raise AuthenticationFailed(f"{target.host} wants more than a key for {target.user} "
                                       f"(next: {', '.join(remaining)})", offered=described,
                                       hint="use an account that logs in with a key alone", **where)
        return candidate
    raise AuthenticationFailed(f"{target.host} refused every key offered for {target.user}",
                               offered=described, hint=register_hint, **where)
