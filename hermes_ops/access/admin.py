"""The admin's side of access (`notebooks/grant_access.ipynb`): list, grant and revoke keys on the host.

The admin logs in as a deploy does and proves it is the right host before reading anything. A change
is one compare-and-swap edit of the user's authorized_keys (`access.host_file`): read, edit the text
(`access.authorized_keys`), write it back atomically under a lock only if nobody changed it meanwhile,
else read again; so two admins granting at once both land, and the file keeps its owner and mode.
"""

from __future__ import annotations

import datetime

from hermes_ops.access import host_file
from hermes_ops.access.authorized_keys import AuthorizedKeys, grant_comment
from hermes_ops.access.run import AccessRun
from hermes_ops.facts import host as host_facts
from hermes_ops.runbook.account import display_path
from hermes_ops.runbook.journal import utc_now
from hermes_ops.runbook.steps import StepError, StepOutcome
from hermes_ops.runbook.vocabulary import Outcome, Step, StepStatus

CONNECT, KEYS, GRANT, REVOKE = STEPS = (
    Step(1, "connect", "Connect", False),
    Step(2, "keys", "Keys on the host", False),
    Step(3, "grant", "Grant", True),
    Step(4, "revoke", "Revoke", True),
)


class AdminAccess(AccessRun):
    """The admin's access run; `action` picks the change: grant (step 3), revoke (step 4) or list (neither)."""

    kind = "grant-access"
    steps = STEPS

    @classmethod
    def parameters_class(cls) -> type:
        from hermes_ops.access.parameters import GrantParameters

        return GrantParameters

    def step1_connect(self) -> StepOutcome:
        return self.step(1, connect)

    def step2_keys(self) -> StepOutcome:
        return self.step(2, keys)

    def step3_grant(self) -> StepOutcome:
        return self.step(3, grant, skip=None if self.params.action == "grant" else f"action is {self.params.action}")

    def step4_revoke(self) -> StepOutcome:
        return self.step(4, revoke, skip=None if self.params.action == "revoke" else f"action is {self.params.action}")

    def step5_exit(self) -> dict:
        return self.finish()


def connect(run: AdminAccess) -> StepOutcome:
    """Log in (host key verified as for a deploy); the host must be the expected one before anything is read."""
    params = run.params
    run.connect(params.connection().ssh_target())
    hostname = host_facts.hostname.read(run.run)
    host_key, own_key = run.runner.host_key_fingerprint, run.runner.authenticated_key_fingerprint
    run.journal.fact(hostname=hostname, host_key_fingerprint=host_key)
    run.note_access(admin_key=own_key)
    run.account.fact("host key", f"{host_key} (matches {display_path(params.known_hosts)})")
    run.account.fact("logged in", f"{params.user}@{hostname} with {own_key}")
    if hostname != params.expected_hostname:
        raise StepError(f"this host calls itself {hostname!r}, not {params.expected_hostname!r}: refusing to change "
                        "its keys", step=CONNECT.label, host=params.host,
                        hint="check host and port in the parameters; nothing was changed")
    return StepOutcome(StepStatus.DONE, f"{params.user}@{hostname}", {"hostname": hostname, "admin_key": own_key})


def _quietly(run: AdminAccess):
    """`run.run` for the authorized_keys scripts: journaled in full, shown to the operator as one line each."""
    return lambda argv, **options: run.run(argv, quiet=True, **options)


def _describe_file(state: host_file.HostKeysFile) -> str:
    if not state.exists:
        return "~/.ssh/authorized_keys does not exist"
    return (f"~/.ssh/authorized_keys: {len(state.text.splitlines())} line(s), mode {state.mode} {state.owner}, "
            f"sha256 {state.sha256[:12]}…")


def _utc(state: host_file.HostKeysFile) -> str:
    """The host's clock in UTC, "YYYYMMDDHHMMSS": what an expiry written with a Z suffix is compared with."""
    return datetime.datetime.fromtimestamp(state.now_epoch, datetime.timezone.utc).strftime("%Y%m%d%H%M%S")


def _report_write(run: AdminAccess, edit: host_file.Edit) -> None:
    if edit.changed:
        before = edit.before
        run.account.fact("wrote", f"~/.ssh/authorized_keys by compare-and-swap (sha256 was "
                                  f"{(before.sha256 or 'none')[:12]}…, mode {before.mode or '600'} kept)")


def keys(run: AdminAccess) -> StepOutcome:
    """Every key that may log in as the user: fingerprint, whose, expiry (and whether it has passed)."""
    state = host_file.read(_quietly(run))
    run.account.fact("read", _describe_file(state))
    run.account.fact("host clock", f"{state.now_local[:4]}-{state.now_local[4:6]}-{state.now_local[6:8]} "
                                   f"{state.now_local[8:10]}:{state.now_local[10:12]} {state.timezone}")
    listing = AuthorizedKeys.from_text(state.text).listing(state.now_local, now_utc=_utc(state))
    own = run.runner.authenticated_key_fingerprint
    for entry in listing:
        run.account.fact(entry["fingerprint"], describe(entry, own))
    run.note_access(keys=listing, host_time=state.now_local, host_timezone=state.timezone)
    expired = sum(1 for entry in listing if entry["expired"])
    return StepOutcome(StepStatus.DONE, f"{len(listing)} key(s)" + (f", {expired} expired" if expired else ""),
                       {"keys": len(listing), "expired": expired})


def describe(entry: dict, own_fingerprint: str | None = None) -> str:
    """One key of the listing as a line: type, whose, expiry, and which is the admin's own."""
    who = entry.get("operator") or entry.get("comment") or "no comment"
    expiry = entry.get("expiry")
    when = ("EXPIRED " + expiry if entry.get("expired") else "until " + expiry) if expiry else "no expiry"
    mine = " (this session's key)" if entry["fingerprint"] == own_fingerprint else ""
    return f"{entry['type']} {who}, {when}{mine}"


def grant(run: AdminAccess) -> StepOutcome:
    """Add the key (or renew its expiry); a key already granted exactly so is left alone."""
    params = run.params
    public, request = params.key_to_grant()
    seconds, absolute, written = params.expiry(request)
    grantee = params.grantee or (request.operator if request else "") or public.comment or "unknown"
    run.note_access(fingerprint=public.fingerprint, grantee=grantee, request=request.request_id if request else "",
                    expires=written)
    run.account.fact("key", public.fingerprint_line())
    run.account.fact("for", grantee + (f" (request {request.request_id}: {request.reason})" if request else ""))
    if request and (request.user, request.host) != (params.user, params.host):
        run.account.note(f"WARNING: the request asked for {request.user}@{request.host}; granting it for "
                         f"{params.user}@{params.host} as the parameters say")
    made = {}

    def add(state: host_file.HostKeysFile) -> str | None:
        authorized = AuthorizedKeys.from_text(state.text)
        expiry_time = absolute or state.expiry_local
        comment = grant_comment(operator=grantee, request_id=request.request_id if request else None,
                                granted_by=params.operator, granted_at=utc_now().strftime("%Y-%m-%dT%H:%M:%SZ"))
        done = authorized.grant(public, comment=comment, expiry_time=expiry_time)
        made.update(change=done.change, now_local=state.now_local, now_utc=_utc(state), entry=done.entry)
        return None if done.change == "unchanged" else authorized.text()

    edit = host_file.edit(_quietly(run), add, expiry_seconds=seconds)
    _report_write(run, edit)
    entry = AuthorizedKeys.from_text(edit.after_text).listing(made["now_local"], now_utc=made["now_utc"])
    mine = next((item for item in entry if item["fingerprint"] == public.fingerprint), {})
    run.note_access(change=made["change"], expiry=mine.get("expiry") or "")
    run.account.fact("authorized_keys", f"{made['change']}" + (f" (after {edit.attempts} attempts: another "
                                                                 "change landed first)" if edit.attempts > 1 else ""))
    run.account.fact("expiry", mine.get("expiry") or "none")
    if mine.get("expired"):
        run.account.note("WARNING: this expiry has passed already: the key is granted but cannot log in")
    if made["change"] == "unchanged":
        run.success = Outcome.NOTHING_NEW
        return StepOutcome(StepStatus.NO_OP, f"{public.fingerprint} was granted exactly so already")
    return StepOutcome(StepStatus.DONE, f"{made['change']} {public.fingerprint} for {grantee}",
                       {"change": made["change"], "fingerprint": public.fingerprint, "expiry": mine.get("expiry")})


def revoke(run: AdminAccess) -> StepOutcome:
    """Remove every line holding the key; never the key this session logged in with, never the last key."""
    params = run.params
    wanted = params.fingerprint
    run.note_access(fingerprint=wanted)
    if wanted == run.runner.authenticated_key_fingerprint:
        raise StepError(f"{wanted} is the key this session logged in with: revoking it would lock you out",
                        step=REVOKE.label, host=params.host,
                        hint="log in with another admin key to revoke this one; nothing was changed")
    removed = {}

    def remove(state: host_file.HostKeysFile) -> str | None:
        authorized = AuthorizedKeys.from_text(state.text)
        held = [entry for entry in authorized.entries if entry.fingerprint == wanted]
        removed.update(entries=held)
        if not held:
            return None
        authorized.revoke(wanted)
        return authorized.text()

    edit = host_file.edit(_quietly(run), remove)
    _report_write(run, edit)
    if not removed["entries"]:
        run.success = Outcome.NOTHING_NEW
        run.note_access(change="absent")
        return StepOutcome(StepStatus.NO_OP, f"no key {wanted} is granted (revoked already?)")
    comment = removed["entries"][0].comment
    run.note_access(change="revoked", grantee=comment)
    run.account.fact("revoked", f"{wanted} {comment}".rstrip())
    return StepOutcome(StepStatus.DONE, f"revoked {wanted}", {"fingerprint": wanted, "lines": len(removed["entries"])})
