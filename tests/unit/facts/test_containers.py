"""Container facts: `docker inspect` state and instance, `docker ps --quiet` ids."""

from __future__ import annotations

import json

import pytest

from hermes_ops.facts import containers
from hermes_ops.facts.containers import ContainerInstance, ContainerState

IMAGE = "sha256:" + "a" * 64
CONTAINER = "f" * 64


def test_commands_are_the_runbooks():
    assert containers.state.command("hermes-admin") == [
        "docker", "inspect", "--type", "container", "--format", "{{.State.Status}}", "hermes-admin"]
    assert containers.instance.command("hermes-app") == [
        "docker", "inspect", "--type", "container", "--format", "{{.Image}} {{.State.Running}} {{.Id}}",
        "hermes-app"]
    assert containers.ids_matching.command("label=io.hermes.sandbox=1") == [
        "docker", "ps", "--all", "--quiet", "--filter", "label=io.hermes.sandbox=1"]


@pytest.mark.parametrize("output, ok, expected", [
    ("running\n", True, ContainerState.RUNNING),
    ("exited\r\n", True, ContainerState.EXITED),
    ("  paused  ", True, ContainerState.PAUSED),
    ("created\n", True, ContainerState.CREATED),
    ("restarting\n", True, ContainerState.RESTARTING),
    ("removing\n", True, ContainerState.REMOVING),
    ("dead\n", True, ContainerState.DEAD),
    ("Running\n", True, ContainerState.RUNNING),
    ("hibernating\n", True, ContainerState.UNKNOWN),        # a state newer than this code: still there
    ("", True, None),
    ("<no value>\n", True, None),
    ("Error: No such container: hermes-admin\n", False, None),
    ("", False, None),
])
def test_state(output, ok, expected):
    assert containers.state.value(output, ok=ok) is expected


def test_a_state_prints_and_records_as_the_plain_word():
    assert f"was {ContainerState.EXITED}" == "was exited"
    assert ContainerState.RUNNING == "running"
    assert json.dumps({"admin_state": ContainerState.RUNNING}) == '{"admin_state": "running"}'


@pytest.mark.parametrize("output, ok, expected", [
    (f"{IMAGE} true {CONTAINER}\n", True, ContainerInstance(IMAGE, True, CONTAINER)),
    (f"{IMAGE} false {CONTAINER}\r\n", True, ContainerInstance(IMAGE, False, CONTAINER)),
    (f"  {IMAGE}   true   {CONTAINER}  ", True, ContainerInstance(IMAGE, True, CONTAINER)),
    (f"{IMAGE} true\n", True, None),
    (f"{IMAGE} <no value> {CONTAINER} extra\n", True, None),
    ("", True, None),
    ("Error: No such container: hermes-app\n", False, None),
])
def test_instance(output, ok, expected):
    assert containers.instance.value(output, ok=ok) == expected


@pytest.mark.parametrize("output, expected", [
    ("3f1c2a\n9b8d7e\n", ("3f1c2a", "9b8d7e")),
    ("3f1c2a\r\n3f1c2a\r\n", ("3f1c2a",)),
    ("", ()),
    ("\n\n", ()),
])
def test_ids(output, expected):
    assert containers.parse_ids(output) == expected
    assert containers.ids_matching.value(output) == expected


def test_ids_of_a_failed_listing_are_none_found():
    assert containers.ids_matching.value("Cannot connect to the Docker daemon", ok=False) == ()
