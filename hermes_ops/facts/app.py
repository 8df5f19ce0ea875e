"""Facts about the serving app: its container (image, running, commit label), its health and its version.

"Deployed" is a fact about the serving app, never about the admin checkout: these are the
probes `hermes_ops.runbook.serving` composes into what production serves.
"""

from __future__ import annotations

from dataclasses import dataclass

from hermes_ops.commands import docker
from hermes_ops.commands import host as host_commands
from hermes_ops.facts.fact import Fact, first_line
from hermes_ops.facts.images import COMMIT_LABEL, parse_label_value, short_id

CONTAINER_TEMPLATE = "{{.Image}}|{{.State.Running}}|{{index .Config.Labels \"" + COMMIT_LABEL + "\"}}"
LOG_TAIL_LINES = 20


@dataclass(frozen=True)
class AppContainer:
    """The app container as docker reports it."""

    image: str                 # the image id it runs
    running: bool
    label_commit: str | None   # its io.hermes.commit label (images from a deploy have it)


def parse_container(output: str) -> AppContainer | None:
    """`{{.Image}}|{{.State.Running}}|<commit label>` → the container; None if it is not in that shape."""
    parts = first_line(output).split("|", 2)
    if len(parts) != 3 or not parts[0].strip():
        return None
    image, running, label = (part.strip() for part in parts)
    return AppContainer(image=image, running=running == "true", label_commit=parse_label_value(label))


def parse_http_status(output: str) -> int | None:
    """curl's `%{http_code}` → the status; None when nothing answered (curl prints 000) or for anything else."""
    code = first_line(output)
    return int(code) if code.isdigit() and int(code) > 0 else None


def parse_version(output: str) -> str | None:
    """The version URL's body, stripped; None if it was empty."""
    return output.strip() or None


def parse_log_tail(output: str) -> tuple[str, ...]:
    """The last `LOG_TAIL_LINES` lines the app's log command printed."""
    return tuple(output.strip().splitlines()[-LOG_TAIL_LINES:])


@dataclass(frozen=True)
class AppWait:
    """What waiting for the app on the host ended with (`host.wait_for_app`)."""

    serving: bool
    seconds: float | None          # until it served, or until the wait gave up
    containers_seen: int           # containers started from the wanted image meanwhile (a crash loop starts many)
    last: str                      # what was last seen when it gave up

    @property
    def last_seen(self) -> str:
        """`last` for people: image ids shortened."""
        return " ".join(short_id(word) if word.startswith("sha256:") else word for word in self.last.split())


def parse_wait(output: str) -> AppWait:
    """`seen ID` lines, then `serving MS`, or `last WHAT` and `gave-up MS`; a cut-off answer is a wait that gave up."""
    seen, last, serving, milliseconds = set(), "no answer from the wait", False, None
    for line in output.splitlines():
        word, _, rest = line.partition(" ")
        if word == "seen" and rest:
            seen.add(rest.strip())
        elif word == "last":
            last = rest.strip()
        elif word in ("serving", "gave-up") and rest.strip().isdigit():
            serving, milliseconds = word == "serving", int(rest.strip())
    return AppWait(serving, milliseconds / 1000 if milliseconds is not None else None, len(seen), last)


def _container_command(name: str) -> list[str]:
    return docker.inspect_format(name, CONTAINER_TEMPLATE, kind="container")


def _log_command(argv: list[str]) -> list[str]:
    """The app's log command comes from the parameters (`app_logs_command`), already an argument list."""
    return list(argv)


container = Fact("app container", _container_command, parse_container)
health = Fact("app health (HTTP status)", host_commands.http_status, parse_http_status, parse_failures=True)
version = Fact("app version", host_commands.http_body, parse_version)
log_tail = Fact("app log tail", _log_command, parse_log_tail, parse_failures=True)
serving_wait = Fact("app serving the wanted image (waited for on the host)", host_commands.wait_for_app, parse_wait,
                    parse_failures=True)
