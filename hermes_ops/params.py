"""Deploy parameters: their names, safe defaults, and the strict rules every value must pass.

Validation runs before any connection, so a bad or hostile value stops the run with an
error naming the parameter and the rule, and never reaches the host. Refusing is bounded
work whatever the value: an error shows at most a short prefix of a string and only the
type of anything else. No parameter ever carries a secret: papermill writes parameters
into the executed notebook and its metadata, so a value holding the SSH key's passphrase
is refused without being shown.
"""

from __future__ import annotations

import dataclasses
import difflib
import getpass
import os
import re
import shlex
import socket
import subprocess
from dataclasses import dataclass

from hermes_ops import paths
from hermes_ops.errors import ConfigError
from hermes_ops.secrets import register_secret

MAX_LENGTH = 256

# name pattern, human-readable rule
CONTAINER_NAME = (re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}"), "letters, digits, '_', '.', '-'; starts with a letter or digit; at most 63 characters")
IMAGE_NAME = (re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"), "repository:tag in lower case, e.g. hermes/admin:latest")
BRANCH_NAME = (re.compile(r"(?!-)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]{1,100}(?<![./])"), "letters, digits, '.', '_', '-', '/'; no '..', no leading '-'")
# A Host alias of the ssh config, or a DNS name / address: no wildcards, no user@, no leading '-'.
HOST_OR_ALIAS = (re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,252}"), "a DNS name, an IPv4 address or a Host alias of the ssh config")
HOST_NAME = (re.compile(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"), "a DNS name or IPv4 address")
REMOTE_PATH = (re.compile(r"/(?:[A-Za-z0-9_.-]+/?)*"), "an absolute path of letters, digits, '_', '.', '-'; no '..'")
USER_NAME = (re.compile(r"[a-z_][a-z0-9_-]{0,31}"), "a POSIX user name")
URL = (re.compile(r"https?://[A-Za-z0-9.-]+(?::\d{1,5})?(?:/[A-Za-z0-9._~/-]*)?"), "http(s)://host[:port]/path, no query or credentials")
PROXY_NAME = (re.compile(r"[A-Za-z0-9_.:-]{1,64}"), "an haproxy name: letters, digits, '_', '.', ':', '-'")
SLOT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,15}")
BUILD_WORD = (re.compile(r"[A-Za-z0-9_./=:+,@%-]+"), "words of letters, digits and _./=:+,@%- (no shell syntax)")
TEXT = (re.compile(r"[^\x00-\x1f\x7f]{0,200}"), "one line of at most 200 printable characters")
ENV_NAME = (re.compile(r"[A-Z_][A-Z0-9_]{0,63}"), "an environment variable name")
# A run id exactly as hermes_ops.runbook.journal.new_run_id makes it: UTC time, '-', 6 hex digits.
RUN_ID = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}")
RUN_ID_OR_EMPTY = re.compile(f"(?:{RUN_ID.pattern})?")
RUN_ID_RULE = "a run id as hermes-ops generates it, e.g. 20261127T044009Z-2eb4eb (or empty)"
SHOWN_CHARS = 80


def default_operator() -> str:
    """$HERMES_OPS_OPERATOR, else git's user.name, else the login name."""
    if os.environ.get("HERMES_OPS_OPERATOR"):
        return os.environ["HERMES_OPS_OPERATOR"]
    try:
        name = subprocess.run(["git", "config", "user.name"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        name = ""
    return name or os.environ.get("USER") or getpass.getuser()


@dataclass(frozen=True)
class DeployParameters:
    """One deploy's parameters. Defaults target the local sandbox host, never production.

    Where to connect is resolved by `resolved()`, before anything runs (`hermes_ops.ssh.resolution`):

    - `host` may be a Host alias of the OpenSSH config `ssh_config`: HostName, Port, User,
      IdentityFile, UserKnownHostsFile and ProxyJump (one bastion) are read as `ssh HOST`
      reads them. A connection parameter set explicitly wins over the config, and
      **explicit means: a value other than the parameter's default** (the same answer in
      the CLI, the kernel and JupyterLab, which all see the values, not where they came
      from). So a parameters file naming only `host: prod` takes user, port and key from
      the config; `port: 2222` or `user: core` (the defaults) cannot override the config:
      change the Host entry, or use the address instead of the alias. Without User in
      the config the user stays `core`; without Port the port is 22.
    - The sandbox's key and known_hosts are used only for the sandbox: host 127.0.0.1 or
      localhost, not an alias, `key_path` and `known_hosts` both empty.
    - Otherwise an empty `key_path` means the config's IdentityFile and/or ssh-agent's keys
      (`use_agent`, None: yes except for the sandbox); with neither, the deploy is refused
      naming what was tried. An empty `known_hosts` means the config's UserKnownHostsFile,
      else ~/.ssh/known_hosts. Unknown host keys are always refused.
    - `ssh_config` left at ~/.ssh/config may be missing; set to another path it must exist.

    The resolved values (port, user, key_path, known_hosts, use_agent) replace the given
    ones, so the record shows what was used, and resolving again gives the same answer.
    """

    operator: str = ""                 # who deploys (empty: $HERMES_OPS_OPERATOR, git config user.name, $USER)
    reason: str = "sandbox rehearsal"  # ticket or free text, written to the record, image labels and host log
    host: str = "127.0.0.1"            # the production host's address
    port: int = 2222                   # its sshd port
    user: str = "core"                 # the login on the host
    key_path: str = ""                 # your private key (empty: ssh config IdentityFile and/or ssh-agent; sandbox: its key)
    key_passphrase_env: str = "HERMES_OPS_SSH_PASSPHRASE"  # env var holding the key's passphrase, if any
    known_hosts: str = ""              # pins the host key (empty: ssh config UserKnownHostsFile, else ~/.ssh/known_hosts)
    ssh_config: str = "~/.ssh/config"  # your OpenSSH config; host may be a Host alias in it (none: read none)
    use_agent: bool | None = None      # offer ssh-agent's keys (None: yes, except for the sandbox)
    expected_hostname: str = "texasca2"  # `hostname` must print this, or the deploy is refused
    admin_container: str = "hermes-admin"  # the admin client container that holds the checkout
    app_container: str = "hermes-app"  # the serving container the supervisor respawns
    image: str = "hermes/admin:latest"  # the image the app is spawned from
    repo_dir: str = "/srv/hermes"      # the checkout inside the admin container
    branch: str = "main"               # the branch to deploy
    build_command: str = "make"        # run in repo_dir inside the admin container (no shell syntax)
    health_url: str = "http://127.0.0.1:8088/health"  # checked from the host; must answer 200
    version_url: str = "http://127.0.0.1:8088/version"  # must answer the deployed commit id
    force: bool = False                # redeploy even if the pull brings nothing new
    connect_timeout: float = 15.0      # seconds to connect and authenticate
    command_timeout: float = 120.0     # seconds for any ordinary command
    build_timeout: float = 900.0       # seconds for the build
    replace_timeout: float = 90.0      # seconds for the new app container to run and be healthy
    dry_run: bool = False              # steps 1-2 and preflight for real, then only show what 3-7 would run
    min_free_disk_mb: int = 1024       # preflight refuses to deploy with less free disk on the host
    lock_wait: float = 0.0             # seconds to wait for another deploy's lock (0: refuse at once)
    keep_images: int = 5               # deploy images kept for rollback (older ones pruned after success)
    app_logs_command: str = "tail -n 40 /var/log/hermes/supervisor.log"  # host command showing the app's last log lines
    zero_downtime: bool = False        # start the new version beside the old behind haproxy, switch, then stop the old
    app_slots: str = "blue:8091 green:8092"  # zero_downtime: haproxy's two servers as name:port; containers <app_container>-<name>
    app_command: str = "/srv/hermes/build/hermes-app"  # zero_downtime: what a slot container runs (no shell syntax)
    proxy_socket: str = "/run/haproxy/admin.sock"  # zero_downtime: haproxy's runtime API socket on the host
    proxy_backend: str = "hermes_app"  # zero_downtime: the haproxy backend holding the two slots
    rollback_to: str = ""              # rollback runbook: image to restore (empty: <repository>:previous)
    resume: str = ""                   # run id of a failed/interrupted deploy to continue from its failed step
    records_dir: str = ""              # where the record goes (empty: $HERMES_OPS_RECORDS, else ./records)
    run_id: str = ""                   # set by `hermes-ops deploy`; empty: generated

    def resolved(self) -> "DeployParameters":
        """Resolve where to connect (see the class docstring), fill the empty defaults, validate everything.

        Raises:
            ConfigError (step "parameters"): a value breaks its rule, an unknown host alias, a
                ProxyCommand, a missing key or no key at all; nothing has been run.
        """
        self._refuse_passphrase()
        self._check_connection_parameters()
        connection = self.ssh_resolution(check_keys=True)
        target = connection.target
        filled = dataclasses.replace(
            self,
            operator=self.operator or default_operator(),
            port=target.port, user=target.user, key_path=target.key_path or "", known_hosts=target.known_hosts,
            connect_timeout=target.connect_timeout, use_agent=target.key_path is None or target.use_agent,
            records_dir=self.records_dir or str(paths.default_records_dir()),
        )
        filled.validate()
        object.__setattr__(filled, "_resolution", connection)  # the same target; it remembers it was the sandbox
        return filled

    @property
    def build_argv(self) -> list[str]:
        return shlex.split(self.build_command)

    @property
    def address(self) -> str:
        """`user@host:port` as given: a record's `host`, which ties a record that never reached the host to it."""
        return f"{self.user}@{self.host}:{self.port}"

    def ssh_target(self):
        """Where and how to connect, for the SSH layer (an alias's HostName and bastion included)."""
        return self.ssh_resolution().target

    def ssh_resolution(self, *, check_keys: bool = False):
        """The `hermes_ops.ssh.resolution.Resolution` of these parameters: target, alias, bastion, sandbox or not.

        Computed once per parameters object (it reads the ssh config file); `check_keys` also
        proves a key is available (ssh-agent is asked), as `resolved()` does.
        """
        cached = self.__dict__.get("_resolution")
        if cached is not None and not check_keys:
            return cached
        from hermes_ops.ssh import TargetRequest, require_keys, resolve_target

        defaults = _DEFAULTS
        sandbox = paths.sandbox_state_dir()
        request = TargetRequest(
            host=self.host, port=self.port, user=self.user, key_path=self.key_path, known_hosts=self.known_hosts,
            ssh_config=self.ssh_config, ssh_config_required=self.ssh_config != defaults["ssh_config"],
            use_agent=self.use_agent, connect_timeout=self.connect_timeout, passphrase_env=self.key_passphrase_env,
            sandbox_key=str(sandbox / paths.SANDBOX_OPERATOR_KEY),
            sandbox_known_hosts=str(sandbox / paths.SANDBOX_KNOWN_HOSTS),
            explicit=frozenset(name for name in ("port", "user", "connect_timeout")
                               if getattr(self, name) != defaults[name]))
        answer = resolve_target(request, check_keys=False)
        if answer.alias is None:
            _check_plain_host(self.host, self.ssh_config, answer.aliases, answer.include)
        for hop in (answer.target, answer.target.jump):
            if hop is not None and not HOST_NAME[0].fullmatch(hop.host):
                raise ConfigError(f"Host {hop.alias} in {answer.config_file} has HostName {_shown(hop.host)}: "
                                  f"expected {HOST_NAME[1]}", step="parameters",
                                  hint="fix the HostName in the ssh config; nothing was run")
        if check_keys:
            require_keys(answer, request)
        object.__setattr__(self, "_resolution", answer)  # a cache, not a field: replace() and asdict() skip it
        return answer

    def _check_connection_parameters(self) -> None:
        """The rules of the values resolution reads, so nothing malformed reaches the ssh config lookup."""
        check_rule("host", self.host, *HOST_OR_ALIAS)
        check_rule("user", self.user, *USER_NAME)
        check_rule("key_passphrase_env", self.key_passphrase_env, *ENV_NAME)
        _check_port(self.port)
        _check_seconds("connect_timeout", self.connect_timeout)
        if self.key_path:
            check_local_path("key_path", self.key_path)
        if self.known_hosts:
            check_local_path("known_hosts", self.known_hosts)
        check_local_path("ssh_config", self.ssh_config)
        if self.use_agent is not None and not isinstance(self.use_agent, bool):
            raise invalid("use_agent", self.use_agent, "True, False or None (None: yes, except for the sandbox)")

    @property
    def app_logs_argv(self) -> list[str]:
        return shlex.split(self.app_logs_command)

    @property
    def image_repository(self) -> str:
        return self.image.rsplit(":", 1)[0]

    def validate(self) -> None:
        """Raise ConfigError naming the first parameter that breaks its rule.

        First of all, a parameter holding the key's passphrase (the value of the variable
        `key_passphrase_env` names) is refused without being shown; the passphrase is also
        registered for masking (`secrets.register_secret`) in this process.
        """
        self._refuse_passphrase()
        self._check_connection_parameters()
        rules = {
            "user": USER_NAME, "expected_hostname": HOST_NAME,
            "admin_container": CONTAINER_NAME, "app_container": CONTAINER_NAME, "image": IMAGE_NAME,
            "repo_dir": REMOTE_PATH, "branch": BRANCH_NAME, "health_url": URL, "version_url": URL,
            "operator": TEXT, "reason": TEXT, "key_passphrase_env": ENV_NAME,
        }
        for name, (pattern, rule) in rules.items():
            check_rule(name, getattr(self, name), pattern, rule)
        if ".." in self.repo_dir.split("/"):
            raise invalid("repo_dir", self.repo_dir, REMOTE_PATH[1])
        if not all(BUILD_WORD[0].fullmatch(word) for word in _split_words("build_command", self.build_command)):
            raise invalid("build_command", self.build_command, BUILD_WORD[1])
        for name in ("command_timeout", "build_timeout", "replace_timeout"):
            _check_seconds(name, getattr(self, name))
        for name in ("force", "dry_run"):
            if not isinstance(getattr(self, name), bool):
                raise invalid(name, getattr(self, name), "True or False")
        for name, low, high in (("min_free_disk_mb", 0, 10**9), ("keep_images", 2, 1000)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise invalid(name, value, f"a whole number from {low} to {high}")
        if isinstance(self.lock_wait, bool) or not isinstance(self.lock_wait, (int, float)) \
                or not 0 <= self.lock_wait <= 86400:
            raise invalid("lock_wait", self.lock_wait, "a number of seconds from 0 to 86400")
        if not all(BUILD_WORD[0].fullmatch(word) for word in _split_words("app_logs_command", self.app_logs_command)):
            raise invalid("app_logs_command", self.app_logs_command, BUILD_WORD[1])
        if self.rollback_to:
            check_rule("rollback_to", self.rollback_to, *IMAGE_NAME)
        self._check_zero_downtime_parameters()
        for name in ("resume", "run_id"):
            check_rule(name, getattr(self, name), RUN_ID_OR_EMPTY, RUN_ID_RULE)
        if self.key_path or self.use_agent is not True:  # empty only when the key is left to ssh-agent
            check_local_path("key_path", self.key_path)
        for name in ("known_hosts", "records_dir"):
            check_local_path(name, getattr(self, name))
        if not self.operator.strip():
            raise invalid("operator", self.operator, "a name: who is deploying")

    def _check_zero_downtime_parameters(self) -> None:
        if not isinstance(self.zero_downtime, bool):
            raise invalid("zero_downtime", self.zero_downtime, "True or False")
        self.slots()
        if not all(BUILD_WORD[0].fullmatch(word) for word in _split_words("app_command", self.app_command)):
            raise invalid("app_command", self.app_command, BUILD_WORD[1])
        check_rule("proxy_socket", self.proxy_socket, *REMOTE_PATH)
        check_rule("proxy_backend", self.proxy_backend, *PROXY_NAME)

    def slots(self) -> tuple[tuple[str, int], tuple[str, int]]:
        """`app_slots` read as two (haproxy server name, port) pairs; ConfigError if it is not that."""
        rule = ("two slots `name:port name:port` (names: lower-case letters, digits, - or _; "
                "two different ports from 1 to 65535)")
        slots = []
        for word in str(self.app_slots).split():
            name, _, port = word.partition(":")
            if not SLOT_NAME.fullmatch(name) or not port.isdigit() or not 0 < int(port) < 65536:
                raise invalid("app_slots", self.app_slots, rule)
            slots.append((name, int(port)))
        if len(slots) != 2 or slots[0][0] == slots[1][0] or slots[0][1] == slots[1][1]:
            raise invalid("app_slots", self.app_slots, rule)
        return slots[0], slots[1]

    def _refuse_passphrase(self) -> None:
        variable = self.key_passphrase_env
        passphrase = os.environ.get(variable) if isinstance(variable, str) and ENV_NAME[0].fullmatch(variable) \
            else None
        if not passphrase:
            return
        register_secret(passphrase)
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, str) and passphrase in value:
                raise ConfigError(
                    f"parameter {field.name} contains the SSH key's passphrase: refused; secrets never go into "
                    "parameters (papermill writes them into the record)", step="parameters",
                    hint=f"remove it from {field.name} in the parameters file or -p option; the passphrase "
                         f"is read from ${variable} only; nothing was run")

    def to_record(self) -> dict:
        """The parameters as written to a record (they never hold secrets, by construction)."""
        return dataclasses.asdict(self)


def _split_words(name: str, command: str) -> list[str]:
    if not isinstance(command, str) or len(command) > MAX_LENGTH or "\n" in command:
        raise invalid(name, command, BUILD_WORD[1])
    try:
        words = shlex.split(command)
    except ValueError:
        raise invalid(name, command, BUILD_WORD[1]) from None
    if not words:
        raise invalid(name, command, "a command, e.g. make")
    return words


def _check_port(value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 65536:
        raise invalid("port", value, "a TCP port number from 1 to 65535")


def _check_seconds(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 86400:
        raise invalid(name, value, "a number of seconds above 0 and at most 86400")


def _check_plain_host(host: str, config_shown: str, aliases=(), include: bool = False) -> None:
    """A host no ssh config names must be an address, or a name that resolves; else it is an unknown alias.

    A name without a dot (other than localhost) is looked up once (`/etc/hosts`, DNS): a typo
    of an alias must not reach the connection step as a "cannot resolve" surprise.
    """
    if HOST_NAME[0].fullmatch(host) and ("." in host or host == "localhost" or _resolves(host)):
        return
    close = difflib.get_close_matches(host, aliases, n=3)
    raise ConfigError(f"unknown host alias {host!r} in {config_shown}, and it is not a host name that resolves",
                      step="parameters",
                      hint=(f"did you mean {' or '.join(close)}? " if close else "")
                      + f"add `Host {host}` (with HostName, User, IdentityFile) to {config_shown}"
                      + (" itself (Include lines are not followed)" if include else "")
                      + ", fix ssh_config, or give the host's DNS name or IP address; nothing was run")


def _resolves(name: str) -> bool:
    try:
        return bool(socket.getaddrinfo(name, None))
    except (socket.gaierror, UnicodeError, OSError):
        return False


def check_rule(name: str, value, pattern: re.Pattern, rule: str) -> None:
    if not isinstance(value, str) or len(value) > MAX_LENGTH or not pattern.fullmatch(value):
        raise invalid(name, value, rule)


def check_local_path(name: str, value) -> None:
    if not isinstance(value, str) or not value or len(value) > 4096 or any(ord(char) < 32 for char in value):
        raise invalid(name, value, "a path on this machine, one line")


def _shown(value) -> str:
    """A bounded view of any value: a short prefix of a string, the type (and size) of anything else.

    Never repr() of the whole value: a nested structure or a huge number makes that slow
    (an alias bomb took over a minute and ended in MemoryError).
    """
    if isinstance(value, str):
        if len(value) <= SHOWN_CHARS:
            return repr(value)
        return f"{value[:SHOWN_CHARS - 3]!r}... ({len(value)} characters)"
    if value is None or isinstance(value, (bool, float)):
        return repr(value)
    if isinstance(value, int):
        return repr(value) if value.bit_length() <= 64 else f"<an int of {value.bit_length()} bits>"
    if isinstance(value, (list, tuple, dict, set, frozenset, bytes, bytearray)):
        return f"<{type(value).__name__} of length {len(value)}>"
    return f"<{type(value).__name__}>"


def invalid(name: str, value, rule: str) -> ConfigError:
    return ConfigError(f"parameter {name}={_shown(value)} is invalid: expected {rule}",
                       step="parameters", hint=f"fix {name} in the parameters file or -p option; nothing was run")


PARAMETER_NAMES = tuple(field.name for field in dataclasses.fields(DeployParameters))
_DEFAULTS = {field.name: field.default for field in dataclasses.fields(DeployParameters)}


def from_namespace(namespace: dict) -> DeployParameters:
    """The notebook's parameter variables (papermill injects them as globals) as validated parameters."""
    values = {name: namespace[name] for name in PARAMETER_NAMES if name in namespace}
    return DeployParameters(**values).resolved()


def check_names(names, known: tuple[str, ...] = PARAMETER_NAMES) -> None:
    """Refuse parameter names the runbook does not know (papermill would inject them silently)."""
    unknown = [name for name in names if name not in known]
    if unknown:
        shown = sorted(_shown_name(name) for name in unknown[:10])
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        raise ConfigError(f"unknown parameter(s): {', '.join(shown)}{more}", step="parameters",
                          hint=f"known parameters: {', '.join(known)}")


def _shown_name(name) -> str:
    if isinstance(name, str) and name.isidentifier() and len(name) <= 40:
        return name
    return _shown(name)
