"""What production serves right now, read from the host: the app container, its image and commit, /version, /health.

"Deployed" is a fact about the serving app, never about the admin checkout: a run that stopped
after pulling leaves the checkout ahead of what serves, and only these facts tell the truth.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from hermes_ops.commands import docker
from hermes_ops.commands import host as host_commands

COMMIT_LABEL = "io.hermes.commit"
_COMMIT = re.compile(r"[0-9a-f]{7,64}")
_TEMPLATE = "{{.Image}}|{{.State.Running}}|{{index .Config.Labels \"" + COMMIT_LABEL + "\"}}"


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
        return self.version if self.version and _COMMIT.fullmatch(self.version) else None

    def serves(self, commit: str) -> bool:
        """True only if the app is healthy, reports `commit`, and its image's label does not contradict it."""
        return (self.healthy and self.running and self.commit == commit
                and self.label_commit in (None, commit))

    def describe(self) -> str:
        health = "healthy" if self.healthy else "NOT healthy"
        return f"{(self.commit or self.version or 'no answer')[:12]} from image {short(self.image)} ({health})"

    def to_record(self) -> dict:
        return {**asdict(self), "commit": self.commit}


def parse_app_inspect(output: str) -> tuple[str | None, bool, str | None]:
    """`{{.Image}}|{{.State.Running}}|<label>` → (image id, running, label or None)."""
    parts = output.strip().split("|")
    if len(parts) != 3 or not parts[0]:
        return None, False, None
    label = parts[2].strip()
    return parts[0], parts[1] == "true", (label if label and label != "<no value>" else None)


def read(d) -> Serving:
    """Read-only probes through the deploy's journaled runner (quiet: they are facts, not actions)."""
    inspect = d.run(docker.inspect_format(d.params.app_container, _TEMPLATE, kind="container"),
                    check=False, quiet=True)
    image, running, label = parse_app_inspect(inspect.stdout) if inspect.ok else (None, False, None)
    healthy = d.run(host_commands.http_status(d.params.health_url), check=False, quiet=True).stdout.strip() == "200"
    body = d.run(host_commands.http_body(d.params.version_url), check=False, quiet=True)
    version = body.stdout.strip()[:200] if body.ok else None
    return Serving(image=image, running=running, label_commit=label, version=version or None, healthy=healthy)


def short(image: str | None) -> str:
    return (image or "none").removeprefix("sha256:")[:12]
