"""The zero-downtime swap's pure parts: which slot serves, where a slot answers, which slots the parameters name."""

from __future__ import annotations

import pytest

from hermes_ops.errors import ConfigError
from hermes_ops.facts.containers import ContainerInstance
from hermes_ops.facts.proxy import ProxyServer
from hermes_ops.params import DeployParameters
from hermes_ops.runbook.slots import Slot, choose, slot_url


def slot(name: str, *, running: bool, in_rotation: bool) -> Slot:
    instance = ContainerInstance(image="sha256:a", running=running, container_id="c") if running is not None else None
    server = ProxyServer(name, "127.0.0.1", 1, "running" if in_rotation else "stopped", not in_rotation, False)
    return Slot(name, 1, f"hermes-app-{name}", instance, server)


@pytest.mark.parametrize("blue, green, old, new", [
    ((True, True), (False, False), "blue", "green"),
    ((False, False), (True, True), "green", "blue"),
    ((True, True), (True, True), "blue", "green"),      # an interrupted switch: the second is replaced
    ((False, False), (False, False), None, "blue"),     # nothing serves: the first slot
    ((True, False), (False, False), None, "green"),     # blue runs but is out of rotation: keep it, use green
])
def test_the_old_slot_serves_and_the_new_one_is_the_other(blue, green, old, new):
    chosen_old, chosen_new = choose((slot("blue", running=blue[0], in_rotation=blue[1]),
                                     slot("green", running=green[0], in_rotation=green[1])))
    assert (chosen_old.name if chosen_old else None, chosen_new.name) == (old, new)


def test_a_slot_url_keeps_the_path_and_aims_at_the_slot_port_on_loopback():
    assert slot_url("http://127.0.0.1:8088/health", 8091) == "http://127.0.0.1:8091/health"
    assert slot_url("https://hermes.example.com/version", 8092) == "https://127.0.0.1:8092/version"


def test_app_slots_are_two_named_ports():
    assert DeployParameters(app_slots="a:1 b-2:65535").slots() == (("a", 1), ("b-2", 65535))


@pytest.mark.parametrize("value", ["blue:8091", "blue:8091 blue:8092", "a:1 b:1", "A:1 b:2", "a:0 b:2",
                                   "a:1 b:2 c:3", "a:x b:2", "a;rm:1 b:2"])
def test_other_app_slots_are_refused_before_anything_runs(value):
    with pytest.raises(ConfigError, match="app_slots"):
        DeployParameters(app_slots=value)._check_zero_downtime_parameters()


@pytest.mark.parametrize("name, value", [("zero_downtime", "yes"), ("app_command", "run && rm -rf /"),
                                         ("proxy_socket", "relative/admin.sock"), ("proxy_backend", "a b")])
def test_other_zero_downtime_parameters_are_checked(name, value):
    with pytest.raises(ConfigError, match=name):
        DeployParameters(**{name: value})._check_zero_downtime_parameters()
