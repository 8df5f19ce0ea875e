"""The zero-downtime swap (`zero_downtime`): two app slots behind haproxy; the new version starts in the idle one.

The default swap removes the app container and waits for the supervisor to respawn it: users see
the new container's start-up time as an outage. Here the old version keeps serving until the new
one has passed the same gate on its own port (runs the wanted image, answers health, reports the
commit), so a version that fails the gate never reaches a user. Only then does haproxy put it in
rotation; the old slot drains (no new requests, the ones it has finish), leaves rotation, and its
container is removed. Slot containers carry Docker's `unless-stopped` restart policy: the engine,
not the wiki's supervisor, respawns a crashed one (see the README's zero-downtime set-up).

Which slot serves is read, never remembered: the slot haproxy has in rotation with its container
running. The idle slot is put in maintenance before its container starts, so haproxy's own health
checks cannot put an ungated version in rotation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from hermes_ops.commands import docker, proxy as proxy_commands
from hermes_ops.facts import app, containers, proxy
from hermes_ops.facts.containers import ContainerInstance
from hermes_ops.facts.proxy import ProxyServer
from hermes_ops.runbook.context import DeployContext

SLOT_BIND = "127.0.0.1"      # slots listen on loopback only; users reach them through haproxy
POLL_SECONDS = 0.02         # between looks at haproxy's state, and at the new slot on the host
PROXY_UP_TIMEOUT = 10.0      # haproxy's health check (every 100 ms in the README's config) must see the new slot
DRAIN_TIMEOUT = 30.0         # in-flight requests on the old slot get this long to finish
LOG_LINES = 40
SLOT_LABEL = "io.hermes.slot"


class SlotGateFailed(Exception):
    """The new version failed its gate in the idle slot; the old version never stopped serving.

    Internal to the runbook: the step turns it into its RolledBack or StepError, which say where and what next.
    """

    def __init__(self, why: str, logs: tuple[str, ...] = (), *, served: bool = False):
        super().__init__(why)
        self.why = why
        self.logs = logs
        self.served = served  # it was in rotation for a moment (the check through the proxy failed)


@dataclass(frozen=True)
class Slot:
    """One of the two app slots: haproxy's server of that name and the container `<app_container>-<name>`."""

    name: str
    port: int
    container: str
    instance: ContainerInstance | None
    server: ProxyServer | None

    @property
    def serving(self) -> bool:
        return bool(self.instance and self.instance.running and self.server and self.server.in_rotation)


@dataclass(frozen=True)
class Switch:
    """What a zero-downtime swap did, for the step's facts and the record."""

    old: str | None       # the slot that served before (None: nothing served)
    new: str
    container: str
    gate_seconds: float   # new container started → passed the gate on its own port
    drain_seconds: float  # old slot drained (its in-flight requests finished)

    def to_record(self) -> dict:
        return {"mode": "zero-downtime", "from_slot": self.old, "to_slot": self.new, "container": self.container,
                "gate_seconds": round(self.gate_seconds, 3), "drain_seconds": round(self.drain_seconds, 3),
                "unavailable_seconds": 0.0}


def read_slots(deploy: DeployContext) -> tuple[Slot, Slot]:
    params = deploy.params
    servers = _probe(deploy, proxy.servers, params.proxy_socket, params.proxy_backend) or {}
    return tuple(Slot(name, port, slot_container(params.app_container, name),
                      _probe(deploy, containers.instance, slot_container(params.app_container, name)),
                      servers.get(name))
                 for name, port in params.slots())


def slot_container(app_container: str, slot: str) -> str:
    return f"{app_container}-{slot}"


def serving_slot(deploy: DeployContext) -> Slot | None:
    """The slot users reach now: in haproxy's rotation, its container running (None: neither is)."""
    return choose(read_slots(deploy))[0]


def show_swap(deploy: DeployContext, image: str) -> None:
    """A dry run's step 7: the commands a swap would run (the reads are real, the changes only shown)."""
    params = deploy.params
    old, new = choose(read_slots(deploy))
    _set_state(deploy, new, "maint")
    deploy.run(docker.remove_container(new.container), mutating=True)
    deploy.run(_start_command(params, new, image), mutating=True)
    deploy.account.note(f"would wait up to {params.replace_timeout:.0f}s for {new.container} to run the new image "
                        f"and pass the gate on port {new.port}, then put slot {new.name} in rotation")
    _set_state(deploy, new, "ready")
    if old:
        _set_state(deploy, old, "drain")
        _set_state(deploy, old, "maint")
        deploy.run(docker.remove_container(old.container), mutating=True)


def choose(slots: tuple[Slot, Slot]) -> tuple[Slot | None, Slot]:
    """(the slot serving now, the slot the new version goes to)."""
    first, second = slots
    if first.serving:
        return first, second  # both serving means an interrupted switch: the second is replaced
    if second.serving:
        return second, first
    return None, (second if first.instance and first.instance.running else first)


def swap(deploy: DeployContext, image: str, commit: str | None, slots: tuple[Slot, Slot] | None = None) -> Switch:
    """Bring `image` into rotation in the idle slot and retire the old one; SlotGateFailed leaves the old serving.

    `commit` None (a rollback to an image of unknown commit) gates on the image and health only. `slots`
    is what the caller has just read (`read_slots`), under the deploy lock; None reads them now.
    """
    params = deploy.params
    old, new = choose(slots or read_slots(deploy))
    deploy.account.note(f"zero-downtime swap: {old.name if old else 'no slot'} serves; the new version goes to "
                        f"slot {new.name} ({new.container} on port {new.port})")
    _set_state(deploy, new, "maint")
    deploy.run(docker.remove_container(new.container), mutating=True, check=False, quiet=True)
    started = time.monotonic()
    deploy.run(_start_command(params, new, image), mutating=True)
    passed, why = _gate_on_slot(deploy, new, image, commit)
    if not passed:
        _retire_new(deploy, new, why)
    gate_seconds = time.monotonic() - started
    deploy.account.note(f"slot {new.name} passed the gate on its own port in {gate_seconds:.1f}s; putting it in "
                        "rotation")
    _set_state(deploy, new, "ready")
    if not _wait_for(deploy, lambda: _server(deploy, new.name), lambda server: server and server.in_rotation,
                     PROXY_UP_TIMEOUT):
        _retire_new(deploy, new, f"haproxy did not see slot {new.name} healthy within {PROXY_UP_TIMEOUT:.0f}s")
    drain_seconds = 0.0
    if old:
        drain_started = time.monotonic()
        _set_state(deploy, old, "drain")
        drained = _wait_for(deploy, lambda: (_probe(deploy, proxy.sessions, params.proxy_socket,
                                                    params.proxy_backend) or {}).get(old.name, 0),
                            lambda count: count == 0, DRAIN_TIMEOUT)
        drain_seconds = time.monotonic() - drain_started
        if not drained:
            deploy.account.note(f"slot {old.name} still had requests after {DRAIN_TIMEOUT:.0f}s; retiring it anyway")
        _set_state(deploy, old, "maint")
    front = app.version.read(deploy.run, params.version_url, check=False) or ""
    if commit and front != commit:
        if old:
            _set_state(deploy, old, "ready")
        _retire_new(deploy, new, f"{params.version_url} (through the proxy) reports {front[:40]!r}, not "
                                 f"{commit[:12]}", served=True)
    if old:
        deploy.run(docker.remove_container(old.container), mutating=True, check=False)
    return Switch(old.name if old else None, new.name, new.container, gate_seconds, drain_seconds)


def _start_command(params, slot: Slot, image: str) -> list[str]:
    """The slot's container: the app on the slot's port, respawned by the engine if it crashes."""
    return docker.run(image, name=slot.container, network="host", restart="unless-stopped",
                      environment={"HERMES_BIND": SLOT_BIND, "HERMES_PORT": str(slot.port)},
                      labels={SLOT_LABEL: slot.name}, command=params.app_command.split())


def _gate_on_slot(deploy: DeployContext, slot: Slot, image: str, commit: str | None) -> tuple[bool, str]:
    """The default swap's gate, on the slot's own port: runs `image`, health 200 (waited for on the host, as the
    default swap waits), then version == commit."""
    params = deploy.params
    health, version = slot_url(params.health_url, slot.port), slot_url(params.version_url, slot.port)
    waited = app.serving_wait.read(deploy.run, slot.container, image, health, params.replace_timeout, POLL_SECONDS,
                                   check=False, quiet=True, timeout=params.replace_timeout + 30)
    if not waited.serving:
        return False, (f"slot {slot.name} not serving the new version within {params.replace_timeout:.0f}s "
                       f"(last seen: {waited.last_seen}; {health} must answer 200)")
    if commit is not None:
        answer = _probe(deploy, app.version, version) or ""
        if answer != commit:
            return False, f"{version} reports {answer[:40]!r}, not {commit[:12]}"
    return True, "healthy"


def _retire_new(deploy: DeployContext, new: Slot, why: str, *, served: bool = False) -> None:
    """Take the new slot out (logs kept), then fail: whatever served before still does."""
    result = deploy.run(docker.log_tail(new.container, LOG_LINES), check=False, quiet=True)
    logs = tuple((result.stdout + result.stderr).strip().splitlines()[-LOG_LINES:])
    _set_state(deploy, new, "maint", check=False)
    deploy.run(docker.remove_container(new.container), mutating=True, check=False)
    raise SlotGateFailed(why, logs, served=served)


def slot_url(url: str, port: int) -> str:
    """`url` (what users hit, through haproxy) aimed at one slot directly: same path, the slot's port."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"{SLOT_BIND}:{port}", parts.path, "", ""))


def _set_state(deploy: DeployContext, slot: Slot, state: str, *, check: bool = True) -> None:
    params = deploy.params
    result = deploy.run(proxy_commands.set_server_state(params.proxy_socket, params.proxy_backend, slot.name, state),
                        mutating=True, check=check)
    answer = result.stdout.strip()
    if check and answer and not result.dry_run:  # haproxy answers nothing when it did it
        raise SlotGateFailed(f"haproxy refused `set server {params.proxy_backend}/{slot.name} state {state}`: "
                             f"{answer[:200]}")


def _server(deploy: DeployContext, name: str) -> ProxyServer | None:
    params = deploy.params
    return (_probe(deploy, proxy.servers, params.proxy_socket, params.proxy_backend) or {}).get(name)


def _wait_for(deploy: DeployContext, read, done, timeout: float) -> bool:
    started = time.monotonic()
    while True:
        if done(read()):
            return True
        if time.monotonic() - started >= timeout:
            return False
        time.sleep(POLL_SECONDS)


def _probe(deploy: DeployContext, fact, *arguments):
    return fact.read(deploy.run, *arguments, check=False, quiet=True)
