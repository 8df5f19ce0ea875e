"""What production serves right now: the app container, its image and commit, /version, /health.

"Deployed" is a fact about the serving app, never about the admin checkout: a run that stopped
after pulling leaves the checkout ahead of what serves, and only these facts tell the truth.
The probes are `hermes_ops.facts.app`'s; this module composes them and judges what they say.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from hermes_ops.facts import app
from hermes_ops.facts.batch import Answer, Reading, together
from hermes_ops.facts.checkout import COMMIT
from hermes_ops.facts.images import short_id
from hermes_ops.runbook import slots
from hermes_ops.runbook.context import DeployContext


VERSION_LIMIT = 200  # characters of the version URL's answer kept in the record


@dataclass(frozen=True)
class Serving:
    """The app as the host runs it; `None` where the host could not tell."""

    image: str | None          # image id the app container runs
    running: bool
    label_commit: str | None   # the io.hermes.commit label that container carries (images from a deploy have it)
    version: str | None        # what version_url answers
    healthy: bool              # health_url answered 200

    @property
    def commit(self) -> str | None:
        """The commit the app reports serving (its /version), if it looks like one."""
        return self.version if self.version and COMMIT.fullmatch(self.version) else None

    def serves(self, commit: str) -> bool:
        """True only if the app is healthy, reports `commit`, and its image's label does not contradict it."""
        return (self.healthy and self.running and self.commit == commit
                and self.label_commit in (None, commit))

    def describe(self) -> str:
        health = "healthy" if self.healthy else "NOT healthy"
        return f"{(self.commit or self.version or 'no answer')[:12]} from image {short_id(self.image)} ({health})"

    def to_record(self) -> dict:
        return {**asdict(self), "commit": self.commit}


def read(deploy: DeployContext) -> Serving:
    """Read-only probes through the deploy's journaled runner (quiet: they are facts, not actions)."""
    return read_with(deploy)[0]


def read_with(deploy: DeployContext, *also: Reading) -> tuple[Serving, tuple[Answer, ...]]:
    """What serves, and the answers of `also` (other read-only facts), read in one command on the host."""
    name = deploy.params.app_container
    if deploy.params.zero_downtime:  # whichever slot haproxy sends users to
        slot = slots.serving_slot(deploy)
        name = slot.container if slot else None
    probes = [Reading(app.container, (name,))] if name else []
    probes += [Reading(app.health, (deploy.params.health_url,)), Reading(app.version, (deploy.params.version_url,))]
    answers = together(*probes, *also).read(deploy.run, check=False, quiet=True)
    *found, status, version = (answer.value for answer in answers[:len(probes)])
    container = found[0] if found else None
    return (Serving(image=container.image if container else None,
                    running=container.running if container else False,
                    label_commit=container.label_commit if container else None,
                    version=version[:VERSION_LIMIT] if version else None, healthy=status == 200),
            answers[len(probes):])
