"""The operator's side of access (`notebooks/access.ipynb`): a key, a request to send, the host's key, a login.

Steps 1-2 never touch the host. Step 3 asks the host for its key without trusting it and pins it only
when it matches the fingerprint the admin published out of band. Step 4 logs in as a deploy would and,
when that fails, says which of address, host key, key or user is wrong.
"""

from __future__ import annotations

import os
from pathlib import Path

from hermes_ops.access.run import AccessRun
from hermes_ops.errors import (AuthenticationFailed, ConnectionFailed, HermesOpsError, HostKeyChanged,
                               HostKeyUnknown)
from hermes_ops.facts import host as host_facts
from hermes_ops.facts import lock as lock_facts
from hermes_ops.runbook.account import display_path
from hermes_ops.runbook.steps import StepError, StepOutcome
from hermes_ops.runbook.vocabulary import Step, StepStatus
from hermes_ops.secrets import Secret

KEY, REQUEST, HOST_KEY, VERIFY = STEPS = (
    Step(1, "key", "Your SSH key", False),
    Step(2, "request", "The access request", False),
    Step(3, "host_key", "The host's key", False),
    Step(4, "verify", "Verify access", False),
)


class OperatorAccess(AccessRun):
    """The operator's access run; `action` picks the steps: request (1-2), verify (1, 3-4) or all."""

    kind = "access"
    steps = STEPS
    public_key = None  # step 1's key (a `PublicKey`), which step 2's request carries

    @classmethod
    def parameters_class(cls) -> type:
        from hermes_ops.access.parameters import RequestParameters

        return RequestParameters

    def step1_key(self) -> StepOutcome:
        return self.step(1, key)

    def step2_request(self) -> StepOutcome:
        return self.step(2, request, skip=None if self.params.action != "verify" else "action is verify")

    def step3_host_key(self) -> StepOutcome:
        return self.step(3, host_key, skip=None if self.params.action != "request" else
                         "action is request: once the admin has granted it, run again with action verify")

    def step4_verify(self) -> StepOutcome:
        return self.step(4, verify, skip=None if self.params.action != "request" else "action is request")

    def step5_exit(self) -> dict:
        return self.finish()


def _passphrase(run: OperatorAccess) -> Secret | None:
    value = os.environ.get(run.params.key_passphrase_env)
    return Secret(value) if value else None


def key(run: OperatorAccess) -> StepOutcome:
    """Find the key, or create an ed25519 key (never over an existing file); show what to send."""
    from hermes_ops.access.operator_key import find_or_create_key

    params = run.params
    found = find_or_create_key(Path(params.key_path).expanduser(), passphrase=_passphrase(run),
                               comment=params.operator)
    public = found.public_key
    run.account.fact("key", f"{display_path(found.path)} ({'created now' if found.created else 'found'}, "
                            f"{'protected by a passphrase' if found.encrypted else 'no passphrase'})")
    run.account.fact("public key", public.text)
    run.account.fact("fingerprint", public.fingerprint_line())
    if not found.encrypted:
        run.account.note(f"anyone who copies this key file can log in as you: protect it with a passphrase "
                         f"(`ssh-keygen -p -f {display_path(found.path)}`) and keep the passphrase in "
                         f"${params.key_passphrase_env} for hermes-ops")
    run.public_key = public
    run.note_access(fingerprint=public.fingerprint, key_path=display_path(found.path))
    return StepOutcome(StepStatus.DONE, public.fingerprint,
                       {"fingerprint": public.fingerprint, "created": found.created, "encrypted": found.encrypted})


def request(run: OperatorAccess) -> StepOutcome:
    """Write the access request file: only public facts, ready to send to the admin by any channel."""
    from hermes_ops.access.requests import new_request, write_request

    params = run.params
    made = new_request(operator=params.operator, public_key=run.public_key, host=params.host, port=params.port,
                       user=params.user, reason=params.reason, duration=params.expires)
    path = write_request(Path(params.requests_dir), made)
    run.account.fact("request", display_path(path))
    run.account.fact("asks", f"{params.user}@{params.host}:{params.port} for {made.operator}, "
                             f"{'for ' + made.duration if made.duration else 'with no expiry'} ({made.reason})")
    run.account.note("send this file to the host's admin (it holds only your public key); they grant it with "
                     "`hermes-ops access grant -f PARAMS REQUEST_FILE`, then run this runbook with action verify")
    run.note_access(request=made.request_id, request_file=str(path))
    return StepOutcome(StepStatus.DONE, made.request_id, {"request_id": made.request_id, "path": str(path)})


def host_key(run: OperatorAccess) -> StepOutcome:
    """Fetch the host's key untrusted; pin it only if it matches the fingerprint the admin published."""
    from hermes_ops.ssh.hostkey_pinning import fetch_host_key, pin_host_key, pinning_route

    params = run.params
    address, port, via = pinning_route(params.host, params.port, ssh_config=params.ssh_config)
    try:
        info = fetch_host_key(address, port, via=via, timeout=params.connect_timeout)
    except ConnectionFailed as error:
        raise StepError(f"cannot reach {address}:{port}; the ADDRESS is wrong or unreachable: {error.message}",
                        step=HOST_KEY.label, host=params.host,
                        hint="check host and port (production: port 22) and that you can reach it (VPN, "
                             "firewall); nothing was pinned") from error
    run.account.fact("host presents", f"{info.key_type} {info.fingerprint}")
    run.account.fact("admin published", params.host_fingerprint or "(not given)")
    run.note_access(host_fingerprint=info.fingerprint)
    if not params.host_fingerprint:
        raise StepError(f"{address}:{port} presents host key {info.fingerprint}; nothing was pinned until you "
                        "confirm it", step=HOST_KEY.label, host=params.host,
                        hint="compare it with the fingerprint your admin published (not with anything this host "
                             "sends); if they match, run again with host_fingerprint set to it "
                             "(`--host-fingerprint` on the command line)")
    if info.fingerprint != params.host_fingerprint:
        raise StepError(f"MISMATCH: {address}:{port} presents {info.fingerprint}, the admin published "
                        f"{params.host_fingerprint}: this is the wrong host, or someone is in between; nothing "
                        "was pinned", step=HOST_KEY.label, host=params.host,
                        hint="do not log in; check host and port, and tell your admin what you saw")
    line = pin_host_key(params.known_hosts, address, port, info)
    where = display_path(params.known_hosts)
    run.account.fact("known_hosts", f"{where}: {'already pinned' if line is None else 'pinned now'}")
    return StepOutcome(StepStatus.DONE if line else StepStatus.NO_OP,
                       f"{info.fingerprint} matches what the admin published",
                       {"fingerprint": info.fingerprint, "known_hosts": str(params.known_hosts), "pinned": bool(line)})


def verify(run: OperatorAccess) -> StepOutcome:
    """Log in as a deploy would; prove it is the right host and show what the login can do."""
    params = run.params
    connection = params.connection().resolved()
    target = connection.ssh_target()
    try:
        run.connect(target)
    except HermesOpsError as error:
        raise _diagnosed(run, error) from error
    hostname = host_facts.hostname.read(run.run)
    run.journal.fact(hostname=hostname, host_key_fingerprint=run.runner.host_key_fingerprint)
    run.account.fact("logged in", f"{target.user}@{hostname} with {run.runner.authenticated_key_fingerprint}")
    if hostname != params.expected_hostname:
        raise StepError(f"this host calls itself {hostname!r}, not {params.expected_hostname!r}", step=VERIFY.label,
                        host=params.host, hint="check host and port; you can log in, but not to the Hermes host")
    docker = host_facts.docker_version.read(run.run)
    run.account.fact("docker", docker or "does not answer for this user (ask the admin: group docker)")
    lock = lock_facts.probe.read(lambda argv, **options: run.run(argv, quiet=True, **options))
    state = "free" if lock and lock.state is lock_facts.LockState.FREE else \
        f"held by {lock.holder}" if lock and lock.holder else "unknown"
    run.account.fact("deploy lock", state)
    run.account.note("you can deploy: `hermes-ops deploy -f PARAMS` with key_path and known_hosts set as here")
    return StepOutcome(StepStatus.DONE, f"{target.user}@{hostname}: docker {docker or 'unavailable'}",
                       {"hostname": hostname, "docker": docker, "lock": state})


def _diagnosed(run: OperatorAccess, error: HermesOpsError) -> StepError:
    """Which of address, host key, key or user is wrong, from the connection's failure."""
    params = run.params
    where = f"{params.host}:{params.port}"
    if isinstance(error, ConnectionFailed):
        what, hint = "the ADDRESS", f"check host and port ({where}) and that you can reach it (VPN, firewall)"
    elif isinstance(error, (HostKeyUnknown, HostKeyChanged)):
        what, hint = "the HOST KEY", (f"run this runbook with action verify and the fingerprint your admin "
                                      f"published, to pin it in {display_path(params.known_hosts)}; a changed key "
                                      "may be an attack: ask the admin before anything else")
    elif isinstance(error, AuthenticationFailed):
        request = (run.record.access or {}).get("request")
        what, hint = "the KEY or the USER", (f"the host refused your key for user {params.user}: either access "
                                             "was not granted yet, has expired or was revoked (ask your admin"
                                             f"{' about request ' + request if request else ''}), or the user is "
                                             "wrong")
    else:
        return StepError(f"login to {where} failed: {error.message}", step=VERIFY.label, host=params.host,
                         hint=getattr(error, "hint", None) or "read the record")
    return StepError(f"login to {where} failed; {what} is wrong: {error.message}", step=VERIFY.label,
                     host=params.host, hint=hint)
