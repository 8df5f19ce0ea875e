"""Container facts from `docker inspect --type container` and `docker ps`: state, what runs, which exist."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from hermes_ops.commands import docker
from hermes_ops.facts.fact import Fact, first_line


class ContainerState(str, Enum):
    """Docker's `.State.Status` (a `str`, so it prints and records as the plain word)."""

    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    REMOVING = "removing"
    EXITED = "exited"
    DEAD = "dead"
    UNKNOWN = "unknown"  # a word this code does not know yet: the container exists, in some other state

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class ContainerInstance:
    """One container as it runs now: its image id, whether it runs, and its own id."""

    image: str
    running: bool
    container_id: str


STATE_TEMPLATE = "{{.State.Status}}"
INSTANCE_TEMPLATE = "{{.Image}} {{.State.Running}} {{.Id}}"


def parse_state(output: str) -> ContainerState | None:
    """`{{.State.Status}}` → the state; None if docker printed nothing (or `<no value>`)."""
    word = first_line(output).lower()
    if not word or word == "<no value>":
        return None
    try:
        return ContainerState(word)
    except ValueError:
        return ContainerState.UNKNOWN


def parse_instance(output: str) -> ContainerInstance | None:
    """`{{.Image}} {{.State.Running}} {{.Id}}` → the instance; None unless exactly those three fields."""
    fields = first_line(output).split()
    if len(fields) != 3:
        return None
    image, running, container_id = fields
    return ContainerInstance(image=image, running=running == "true", container_id=container_id)


def parse_ids(output: str) -> tuple[str, ...]:
    """`docker ps --quiet` / `docker images --quiet` → the ids, in order, once each."""
    return tuple(dict.fromkeys(output.split()))


def _state_command(name: str) -> list[str]:
    return docker.inspect_format(name, STATE_TEMPLATE, kind="container")


def _instance_command(name: str) -> list[str]:
    return docker.inspect_format(name, INSTANCE_TEMPLATE, kind="container")


state = Fact("container state", _state_command, parse_state)
instance = Fact("container instance", _instance_command, parse_instance)
ids_matching = Fact("ids of the containers matching a filter", docker.list_container_ids, parse_ids, when_failed=())
