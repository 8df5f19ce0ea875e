"""The access runbooks' parameters: the deploy's connection parameters, plus what an access change needs.

Both sides connect exactly as a deploy does (`DeployParameters`' resolution: ssh config aliases, the
bastion, pinned known_hosts), so a deploy parameters file serves them too; names only a deploy uses
are ignored. Defaults target the sandbox, never production:

- the operator's side (`RequestParameters`, `notebooks/access.ipynb`) uses a newcomer's key and
  known_hosts of its own in the sandbox's state folder (`<state>/keys/newcomer_ed25519`), never the
  sandbox operator's, and the sandbox publishes the fingerprint its host key has;
- the admin's side (`GrantParameters`, `notebooks/grant_access.ipynb`) logs in as any deploy does
  (the sandbox operator's key for the sandbox) and grants the newest request in the sandbox's
  request folder unless `public_key_file` names one.

Every value is checked before anything touches the host; a key to grant is read and validated then
too, so a private key, a truncated key or options smuggled in are refused before anything is written.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from hermes_ops import paths
from hermes_ops.errors import ConfigError
from hermes_ops.params import (PARAMETER_NAMES, TEXT, DeployParameters, check_local_path, check_rule,
                               default_operator, invalid)

NEWCOMER_KEY = Path("keys") / "newcomer_ed25519"
NEWCOMER_KNOWN_HOSTS = Path("keys") / "newcomer_known_hosts"
SANDBOX_HOST_PUBLIC_KEY = Path("droplet") / "ssh_host_ed25519_key.pub"
SANDBOX_REQUESTS = Path("access-requests")
FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")
FINGERPRINT_RULE = "a SHA256 fingerprint as ssh-keygen -l prints it, e.g. SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"
OPERATOR_ACTIONS = ("request", "verify", "all")
ADMIN_ACTIONS = ("grant", "list", "revoke")


@dataclass(frozen=True)
class AccessParameters:
    """What both sides share: who, why, and where to connect (the deploy's connection parameters)."""

    operator: str = ""                 # who runs this (empty: $HERMES_OPS_OPERATOR, git config user.name, $USER)
    reason: str = "sandbox access"     # ticket or free text, written to the request, the record and the host log
    host: str = "127.0.0.1"            # the Hermes host's address (or a Host alias of the ssh config)
    port: int = 2222                   # its sshd port (production: 22)
    user: str = "core"                 # the login on the host
    key_path: str = ""                 # your private key (see the runbook for the empty default)
    key_passphrase_env: str = "HERMES_OPS_SSH_PASSPHRASE"  # env var holding the key's passphrase, if any
    known_hosts: str = ""              # the known_hosts pinning the host key (see the runbook for the default)
    ssh_config: str = "~/.ssh/config"  # your OpenSSH config; host may be a Host alias in it (none: read none)
    use_agent: bool | None = None      # offer ssh-agent's keys (None: yes, except for the sandbox)
    expected_hostname: str = "texasca2"  # `hostname` must print this
    connect_timeout: float = 15.0      # seconds to connect and authenticate
    command_timeout: float = 120.0     # seconds for any command on the host
    requests_dir: str = ""             # where access requests are written / looked for (empty: see the runbook)
    records_dir: str = ""              # where the record goes (empty: $HERMES_OPS_RECORDS, else ./records)
    run_id: str = ""                   # set by `hermes-ops access`; empty: generated

    def connection(self) -> DeployParameters:
        """These parameters as the deploy's, for the connection: same names, deploy-only ones at their defaults."""
        shared = {name: getattr(self, name) for name in PARAMETER_NAMES if name in self.field_names()}
        return DeployParameters(**shared)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in dataclasses.fields(cls))

    @classmethod
    def from_values(cls, values: dict):
        """From a runbook's variables or a parameters file's values: names this runbook does not use are ignored."""
        names = cls.field_names()
        return cls(**{name: value for name, value in values.items() if name in names})

    def sandbox_dir(self) -> Path:
        return paths.sandbox_state_dir()

    def is_sandbox(self) -> bool:
        """The sandbox's rule (`ssh.resolution`): loopback, not an ssh config alias, key and known_hosts not given."""
        plain = dataclasses.replace(self.connection(), key_path="", known_hosts="")
        plain._check_connection_parameters()
        return plain.ssh_resolution().sandbox

    def default_requests_dir(self) -> Path:
        return self.sandbox_dir() / SANDBOX_REQUESTS if self.is_sandbox() else Path("access-requests").absolute()

    def to_record(self) -> dict:
        return dataclasses.asdict(self)

    def _check_common(self) -> None:
        for name in ("operator", "reason"):
            check_rule(name, getattr(self, name), *TEXT)
        if not self.operator.strip():
            raise invalid("operator", self.operator, "a name: who asks for or changes access")
        if self.requests_dir:
            check_local_path("requests_dir", self.requests_dir)

    def _filled_common(self) -> dict:
        return {"operator": self.operator or default_operator(),
                "records_dir": self.records_dir or str(paths.default_records_dir()),
                "requests_dir": self.requests_dir or str(self.default_requests_dir())}


@dataclass(frozen=True)
class RequestParameters(AccessParameters):
    """The operator's side: make a key, write the request; later pin the host key and verify the login.

    For the sandbox, an empty `key_path` is the newcomer's key `<state>/keys/newcomer_ed25519` and an
    empty `known_hosts` the newcomer's own; elsewhere `~/.ssh/id_ed25519` and the ssh config's
    known_hosts (else `~/.ssh/known_hosts`). An empty `host_fingerprint` is the fingerprint the sandbox
    publishes; for any other host it must be given (what the admin published out of band).
    """

    action: str = "all"                # request (key + request file) | verify (host key + login) | all
    expires: str = ""                  # how long you ask access for, e.g. 30d or 8h (empty: no expiry asked)
    host_fingerprint: str = ""         # the host key fingerprint your admin published (SHA256:…)

    def resolved(self) -> "RequestParameters":
        """Defaults filled and every value checked; nothing is read from or written to the host."""
        from hermes_ops.access.durations import parse_duration

        if self.action not in OPERATOR_ACTIONS:
            raise invalid("action", self.action, " or ".join(OPERATOR_ACTIONS))
        self.connection()._check_connection_parameters()
        sandbox = self.is_sandbox()
        state = self.sandbox_dir()
        filled = dataclasses.replace(
            self, **self._filled_common(),
            key_path=self.key_path or str(state / NEWCOMER_KEY if sandbox else Path("~/.ssh/id_ed25519")),
            known_hosts=self.known_hosts or (str(state / NEWCOMER_KNOWN_HOSTS) if sandbox else ""),
            host_fingerprint=self.host_fingerprint or (published_sandbox_fingerprint() if sandbox else ""))
        filled._check_common()
        if filled.expires:
            try:
                parse_duration(filled.expires)
            except ConfigError:
                raise invalid("expires", filled.expires, "a duration such as 8h, 30d, 2w or 90m (5m to 366d)") from None
        if filled.host_fingerprint and not FINGERPRINT.fullmatch(filled.host_fingerprint):
            raise invalid("host_fingerprint", filled.host_fingerprint, FINGERPRINT_RULE)
        connection = filled.connection()
        connection.validate()
        if not filled.known_hosts:  # the ssh config's UserKnownHostsFile, else ~/.ssh/known_hosts
            filled = dataclasses.replace(filled, known_hosts=connection.ssh_resolution().target.known_hosts)
        return filled


@dataclass(frozen=True)
class GrantParameters(AccessParameters):
    """The admin's side: list, grant or revoke keys in the user's authorized_keys on the host.

    Connects as a deploy does (for the sandbox: the sandbox operator's key). For `grant`,
    `public_key_file` is an access request file or a `.pub` file (empty, for the sandbox: the newest
    request in the sandbox's request folder).
    """

    action: str = "grant"              # grant | list | revoke
    public_key_file: str = ""          # grant: the access request (or .pub file) to grant
    grantee: str = ""                  # grant: whose key it is (empty: the request's operator)
    expires: str = ""                  # grant: a duration (8h, 30d) or a time on the host's clock (2026-12-01T18:00); empty: the request's, else none
    fingerprint: str = ""              # revoke: the key to remove (SHA256:… as `list` shows it)

    def resolved(self) -> "GrantParameters":
        """Defaults filled, the connection resolved, the key to grant read and validated; nothing touched the host."""
        if self.action not in ADMIN_ACTIONS:
            raise invalid("action", self.action, " or ".join(ADMIN_ACTIONS))
        connection = self.connection().resolved()
        filled = dataclasses.replace(self, **{**self._filled_common(), **{
            name: getattr(connection, name) for name in ("operator", "port", "user", "key_path", "known_hosts",
                                                        "connect_timeout", "use_agent", "records_dir")}})
        filled._check_common()
        check_rule("grantee", filled.grantee, *TEXT)
        if filled.action == "revoke" and not FINGERPRINT.fullmatch(filled.fingerprint or ""):
            raise invalid("fingerprint", filled.fingerprint, FINGERPRINT_RULE)
        if filled.action == "grant":
            if filled.public_key_file:
                check_local_path("public_key_file", filled.public_key_file)
            else:
                filled = dataclasses.replace(filled, public_key_file=str(filled._newest_request()))
            _, request = filled.key_to_grant()  # refused here, before any connection, if it is not a public key
            filled.expiry(request)
        object.__setattr__(filled, "_connection", connection)
        return filled

    def connection(self) -> DeployParameters:
        cached = self.__dict__.get("_connection")
        return cached if cached is not None else super().connection()

    def _newest_request(self) -> Path:
        from hermes_ops.access.requests import REQUEST_SUFFIX

        if not self.is_sandbox():
            raise ConfigError("public_key_file is empty: name the access request (or .pub file) to grant",
                              step="parameters", hint="set public_key_file, or pass the file to `hermes-ops access "
                              "grant`; nothing was run")
        folder = Path(self.requests_dir)
        found = sorted(folder.glob(f"*{REQUEST_SUFFIX}")) if folder.is_dir() else []
        if not found:
            raise ConfigError(f"no access request in {folder} to grant", step="parameters",
                              hint="write one first (`hermes-ops access request`, or run notebooks/access.ipynb), "
                                   "or set public_key_file; nothing was run")
        return found[-1]  # request ids sort by time

    def key_to_grant(self):
        """(the public key, the access request or None) from `public_key_file`; refused if it is not a public key."""
        from hermes_ops.access.requests import read_key_or_request

        return read_key_or_request(Path(self.public_key_file).expanduser())

    def expiry(self, request) -> tuple[int | None, str | None, str]:
        """What `expires` (else `request`'s duration) asks for: (seconds from now, absolute time, as written)."""
        from hermes_ops.access.durations import parse_duration, parse_expiry_time

        text = self.expires or (request.duration if request is not None else "")
        if not text:
            return None, None, ""
        try:
            if text[-1:] in ("m", "h", "d", "w"):
                return parse_duration(text), None, text
            return None, parse_expiry_time(text), text
        except ConfigError:
            raise invalid("expires", text, "a duration such as 8h, 30d, 2w or 90m (5m to 366d), or a time on the "
                           "host's clock such as 2026-12-01T18:00") from None


def published_sandbox_fingerprint() -> str:
    """The fingerprint of the sandbox host's key, as the sandbox publishes it (its admin's out-of-band channel)."""
    from hermes_ops.access.public_keys import parse_public_key

    path = paths.sandbox_state_dir() / SANDBOX_HOST_PUBLIC_KEY
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise ConfigError(f"the sandbox has not published its host key yet ({path} is missing)", step="parameters",
                          hint="run `hermes-ops sandbox up` first, or set host_fingerprint") from None
    return parse_public_key(text, source=str(path)).fingerprint
