"""What `hermes-ops status` and `hermes-ops images` report: frozen values, built from facts by pure functions.

Nothing here touches a host: `read.py` gathers the facts, these functions judge them, and
`render.py` shows them. Every value that came from the host is kept as the host said it (JSON
escapes it); the terminal rendering neutralises it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from hermes_ops.facts.images import (COMMIT_LABEL, DEPLOYED_AT_LABEL, OPERATOR_LABEL, REASON_LABEL, RUN_ID_LABEL,
                                     DeployImage)
from hermes_ops.facts.lock import LockAnswer, LockState, parse_holder
from hermes_ops.runbook.audit import parse_audit_line
from hermes_ops.runbook.serving import Serving
from hermes_ops.runbook.vocabulary import Outcome

# The host log's kinds of run that change what serves (a deploy's or a rollback's line).
RUN_KINDS = ("deploy", "rollback")
# The outcome with which each kind of run leaves a version serving.
SERVED_BY = {"deploy": Outcome.SUCCESS.value, "rollback": Outcome.ROLLED_BACK.value}
# How far back in the host log the last run is looked for.
HOST_LOG_LINES = 200


@dataclass(frozen=True)
class LockInfo:
    """The deploy lock as probed: `state` is "free", "held" or "unknown" (the probe's answer was not understood)."""

    state: str
    holder: str | None = None             # the holder line as the host has it (held), or what the probe said (unknown)
    holder_fields: dict[str, str] = field(default_factory=dict)  # run, operator, commit, since, pid

    def to_json(self) -> dict:
        fields = {key: self.holder_fields.get(key) for key in ("run", "operator", "commit", "since", "pid")}
        return {"state": self.state, "holder": self.holder, **fields}


def lock_info(answer: LockAnswer) -> LockInfo:
    """The lock probe's answer (`facts.lock.probe`) as status reports it."""
    if answer.state is LockState.FREE:
        return LockInfo("free")
    if answer.state is LockState.BUSY:
        return LockInfo("held", answer.holder or None, parse_holder(answer.holder))
    return LockInfo("unknown", answer.first_line or None)


@dataclass(frozen=True)
class LastDeploy:
    """The newest deploy or rollback line of the host log (`~/.hermes/deploys.log`), as `parse_audit_line` reads it."""

    fields: dict[str, str]
    line: str

    KEYS = ("time", "kind", "run", "operator", "host", "commit", "image", "outcome", "reason")

    def to_json(self) -> dict:
        return {**{key: self.fields.get(key) for key in self.KEYS}, "line": self.line}


def last_deploy(host_log: str, *, succeeded: bool = False) -> LastDeploy | None:
    """The last line of `host_log` whose kind is a deploy or a rollback; None if it has none.

    `succeeded`: the last one that put a version into service (a deploy that ended `success`, a
    rollback that ended `rolled-back`), passing over refused, failed and dry runs.
    """
    for line in reversed(host_log.splitlines()):
        fields = parse_audit_line(line)
        kind = fields.get("kind")
        if kind in RUN_KINDS and (not succeeded or fields.get("outcome") == SERVED_BY[kind]):
            return LastDeploy(fields, line)
    return None


@dataclass(frozen=True)
class ProductionStatus:
    """What production is doing now: what serves, whether it is healthy, who holds the lock, the last run.

    `problems` lists, in words, everything that is not as a finished deploy leaves it; empty when
    the app runs, answers its health check, reports a commit its image's label agrees with, and
    the host is the one the parameters expect.
    """

    host: str                      # where we connected, `user@host:port`
    hostname: str                  # what the host calls itself
    expected_hostname: str
    checked_at: str                # UTC, ISO 8601
    serving: Serving
    image_tags: tuple[str, ...]    # the repository's tags naming the serving image (`hermes/admin:<commit>`, …)
    health_url: str
    version_url: str
    lock: LockInfo
    last_deploy: LastDeploy | None
    last_success: LastDeploy | None  # the last run that put a version into service (often `last_deploy` itself)

    @property
    def healthy(self) -> bool:
        return self.serving.healthy

    @property
    def problems(self) -> tuple[str, ...]:
        serving = self.serving
        found = []
        if self.hostname != self.expected_hostname:
            found.append(f"the host calls itself {self.hostname or 'nothing'!r}, not {self.expected_hostname!r}")
        if serving.image is None:
            found.append("no app container")
        elif not serving.running:
            found.append("the app container is not running")
        if not serving.healthy:
            found.append(f"{self.health_url} did not answer 200")
        if serving.commit is None:
            found.append(f"{self.version_url} did not report a commit")
        elif serving.label_commit not in (None, serving.commit):
            found.append(f"the image's {COMMIT_LABEL} label says {serving.label_commit}, "
                         f"{self.version_url} says {serving.commit}")
        if self.lock.state == "unknown":
            found.append("the lock probe gave an answer this version does not understand")
        return tuple(found)

    def to_json(self) -> dict:
        return {
            "host": self.host, "hostname": self.hostname, "expected_hostname": self.expected_hostname,
            "checked_at": self.checked_at, "healthy": self.healthy,
            "serving": {**self.serving.to_record(), "image_tags": list(self.image_tags),
                        "health_url": self.health_url, "version_url": self.version_url},
            "lock": self.lock.to_json(),
            "last_deploy": self.last_deploy.to_json() if self.last_deploy else None,
            "last_success": self.last_success.to_json() if self.last_success else None,
            "problems": list(self.problems),
        }


# What each label of a deploy image (step 6) is called in a `KeptImage`.
LABEL_FIELDS = {COMMIT_LABEL: "commit", OPERATOR_LABEL: "operator", DEPLOYED_AT_LABEL: "deployed_at",
                REASON_LABEL: "reason", RUN_ID_LABEL: "run_id"}


@dataclass(frozen=True)
class KeptImage:
    """One image of the deploy repository kept for rollback, with what its labels say about its deploy.

    The label fields are None when the image has no such label (an image no deploy made).
    """

    reference: str                 # how to name it to `hermes-ops rollback --to` (`hermes/admin:<commit tag>`)
    image_id: str
    tags: tuple[str, ...]          # every tag of the repository naming it (`412353f2b94e`, `latest`, `previous`)
    created: str | None            # when docker made it, ISO 8601 (None if docker's date could not be read)
    serving: bool                  # the app container runs it now
    commit: str | None = None
    operator: str | None = None
    deployed_at: str | None = None
    reason: str | None = None
    run_id: str | None = None

    @property
    def roles(self) -> tuple[str, ...]:
        """"serving", "latest" (what the supervisor respawns from), "previous" (the default rollback target)."""
        return (("serving",) if self.serving else ()) + tuple(tag for tag in ("latest", "previous")
                                                                if tag in self.tags)

    def to_json(self) -> dict:
        shown = asdict(self)
        del shown["serving"]
        return {**shown, "tags": list(self.tags), "roles": list(self.roles)}


@dataclass(frozen=True)
class KeptImages:
    """The deploy images on a host, newest first; iterates as its `KeptImage`s."""

    host: str
    repository: str
    keep_images: int               # how many a successful deploy keeps (older ones are pruned)
    images: tuple[KeptImage, ...]

    def __iter__(self):
        return iter(self.images)

    def __len__(self) -> int:
        return len(self.images)

    def to_json(self) -> dict:
        return {"host": self.host, "repository": self.repository, "keep_images": self.keep_images,
                "images": [image.to_json() for image in self.images]}


def tags_by_image(deploy_images: tuple[DeployImage, ...], named: dict[str, str | None]) -> dict[str, list[str]]:
    """Image id → its tags: the commit tags (newest image first), then the named ones (`latest`, `previous`) ids.

    `named` maps a tag to the image id it points at (None: no such tag). An image only a named tag
    points at (say, `previous` made before deploy images had commit tags) comes after the others.
    """
    tags: dict[str, list[str]] = {}
    for image in deploy_images:
        tags.setdefault(image.image_id, []).append(image.tag)
    for tag, image_id in named.items():
        if image_id:
            tags.setdefault(image_id, []).append(tag)
    return tags


def kept_image(repository: str, image_id: str, tags: list[str], labels: dict[str, str] | None,
               created: DeployImage | None, serving_image: str | None) -> KeptImage:
    """One kept image from its tags, its labels (None: it could not be inspected) and its `docker images` row."""
    from_labels = {name: (labels or {}).get(label) for label, name in LABEL_FIELDS.items()}
    return KeptImage(reference=f"{repository}:{tags[0]}", image_id=image_id, tags=tuple(tags),
                     created=created.created.isoformat() if created and created.created else None,
                     serving=image_id == serving_image, **from_labels)
