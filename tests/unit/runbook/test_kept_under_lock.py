"""What a step keeps for a later step (`remember`/`recall`) holds only while the same hold of the lock lasts;
facts read in one `docker exec` keep the failures they always raised."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from hermes_ops.errors import CommandFailed
from hermes_ops.facts import checkout
from hermes_ops.facts.batch import Answer, Reading
from hermes_ops.params import DeployParameters
from hermes_ops.result import Result
from hermes_ops.runbook import Deploy, steps

COMMIT = "412353f2b94e6425dbcf582145595d61a3d29f51"


@dataclass
class Lock:
    held: bool = True
    lost: bool = False


@pytest.fixture
def deploy(tmp_path):
    deploy = Deploy(DeployParameters(operator="Ada", records_dir=str(tmp_path)).resolved())
    deploy.lock, deploy.lock_holds = Lock(), 1
    yield deploy
    deploy.signals.uninstall()


def test_a_fact_kept_under_the_lock_is_recalled_while_the_same_hold_lasts(deploy):
    deploy.remember("serving", "healthy")
    assert deploy.recall("serving") == "healthy"
    assert deploy.recall("something never kept", "read it") == "read it"


@pytest.mark.parametrize("change", ["lost", "released", "taken again"])
def test_a_lock_lost_released_or_taken_again_makes_what_was_kept_stale(deploy, change):
    deploy.remember("serving", "healthy")
    if change == "lost":
        deploy.lock.lost = True  # e.g. `hermes-ops lock break` ended our holder on the host
    elif change == "released":
        deploy.lock.held = False
    else:
        deploy.lock_holds += 1
    assert deploy.recall("serving") is None


def test_nothing_is_kept_before_the_lock_is_taken(deploy):
    deploy.lock.held = False
    deploy.remember("serving", "healthy")
    deploy.lock.held = True
    assert deploy.recall("serving") is None


def test_nothing_is_kept_in_a_dry_run(deploy):
    deploy.dry_run = True
    deploy.remember("serving", "healthy")
    assert deploy.recall("serving") is None


@dataclass
class InAdmin:
    """A stand-in for `Deploy.in_admin`: canned outputs by the command's first git words, the calls kept."""

    outputs: dict
    calls: list = field(default_factory=list)

    def __call__(self, argv, **options):
        self.calls.append((argv, options))
        stdout, code = self.outputs[tuple(argv[:2])]
        result = Result(host="core@h:22", command=" ".join(argv), exit_code=code, stdout=stdout,
                        stderr="fatal: bad object" if code else "", started_at=None, ended_at=None, duration=0.0)
        if code and options.get("check", True):
            raise CommandFailed(f"{argv[1]} failed", result=result)
        return result


@dataclass
class Stand:
    in_admin: InAdmin


def test_a_fact_that_must_not_fail_is_its_batch_answer_when_it_ran():
    stand = Stand(InAdmin({}))
    assert steps.checked_value(stand, Reading(checkout.head), Answer(COMMIT, 0)) == COMMIT
    assert stand.in_admin.calls == []


def test_a_fact_that_failed_in_the_batch_is_read_again_alone_and_raises_as_it_always_did():
    stand = Stand(InAdmin({("git", "status"): ("", 128)}))
    with pytest.raises(CommandFailed):
        steps.checked_value(stand, Reading(checkout.changes), Answer(None, 128), quiet=True)
    assert stand.in_admin.calls == [(checkout.changes.command(), {"quiet": True})]


def test_a_fact_lost_from_the_batch_and_fine_alone_is_its_value_alone():
    stand = Stand(InAdmin({("git", "status"): (" M Makefile\n", 0)}))
    assert steps.checked_value(stand, Reading(checkout.changes), Answer((), None)) == (" M Makefile",)
