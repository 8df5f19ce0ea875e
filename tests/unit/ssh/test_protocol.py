"""Both runners are `Runner`s: same members, same call signatures, so a step takes either."""

from __future__ import annotations

import inspect

import pytest

from hermes_ops.ssh import DryRunRunner, Runner, SSHRunner, SSHTarget

TARGET = SSHTarget(host="203.0.113.7", port=22, user="core")
RUNNERS = [SSHRunner, DryRunRunner]


def protocol_members() -> list[str]:
    """The members `Runner` declares (its own, not those every Protocol has)."""
    return sorted(name for name in vars(Runner) | Runner.__annotations__
                  if not name.startswith("_") or name in ("__enter__", "__exit__"))


def shape(function) -> list[tuple[str, inspect._ParameterKind, bool]]:
    """What a caller depends on: each parameter's name, kind, and whether it may be left out."""
    return [(parameter.name, parameter.kind, parameter.default is not inspect.Parameter.empty)
            for parameter in inspect.signature(function).parameters.values()]


def test_the_protocol_covers_what_the_runbook_calls():
    assert protocol_members() == ["__enter__", "__exit__", "close", "connect", "connected", "host_key_fingerprint",
                                  "run", "run_shell", "target"]


@pytest.mark.parametrize("runner_class", RUNNERS)
def test_both_runners_are_runners(runner_class):
    runner = runner_class(TARGET)  # SSHRunner connects lazily: nothing is contacted here
    assert isinstance(runner, Runner)
    assert not runner.connected and runner.host_key_fingerprint is None
    runner.close()


@pytest.mark.parametrize("runner_class", RUNNERS)
@pytest.mark.parametrize("member", protocol_members())
def test_signatures_match_the_protocol(runner_class, member):
    declared = inspect.getattr_static(Runner, member, None)
    implemented = inspect.getattr_static(runner_class, member, None)
    if isinstance(declared, property):
        assert isinstance(implemented, property), f"{runner_class.__name__}.{member} should be a property"
    elif callable(declared):
        assert shape(implemented) == shape(declared), f"{runner_class.__name__}.{member}"


def test_something_else_is_not_a_runner():
    class Half:
        target = TARGET

        def run(self, argv, *, timeout=None, check=True, stream=None, stdin=None):
            raise NotImplementedError

    assert not isinstance(Half(), Runner)
