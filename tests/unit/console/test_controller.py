"""The controller on a real `Deploy` whose step functions are scripted: clicks, confirmations, failures, records.

Work runs on a real worker thread (joined at once), so the account's routing is the one the
kernel sees: lines from the worker belong to the console, lines from the main thread to a cell.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from hermes_ops.console import state
from hermes_ops.console.controller import Controller
from hermes_ops.console.state import Action
from hermes_ops.params import DeployParameters
from hermes_ops.runbook import Deploy
from hermes_ops.runbook import steps as step_functions
from hermes_ops.runbook.steps import StepError, StepOutcome

COMMIT = "790ec6b4a36e4d3b5a6a104d88136c49c651b97e"


class FakeLock:
    """The host's deploy lock, without a host (the console only cares that it is taken and released)."""

    held = False

    def acquire(self, *holder, **options):
        self.held = True

    def release(self):
        self.held = False


class Host:
    """What the scripted steps did, and what they should do next."""

    def __init__(self):
        self.ran: list[str] = []
        self.build_fails = False

    def step(self, name):
        def function(d):
            self.ran.append(name)
            d.account.note(f"{name} ran")
            if name == "connect":
                d.journal.fact(hostname="texasca2")
            if name == "pull":
                d.journal.set(commit_before="1" * 40, commit_after=COMMIT, changelog=["790ec6b A change (Ada)"])
            if name == "build" and self.build_fails:
                raise StepError("the build `make` failed with exit code 2:\n    SyntaxError: invalid syntax",
                                step="5 Build", hint="fix the code, push, deploy again")
            if name == "rollback":
                d.rolled_back = True
            return StepOutcome("done", f"{name} ok")
        return function


def run_now(target, name):
    worker = threading.Thread(target=target, name=name)
    worker.start()
    worker.join(10)


@pytest.fixture
def host(monkeypatch):
    host = Host()
    for name in ("ssh_key", "connect", "preflight", "start_admin", "pull", "build", "commit_image", "replace_app",
                 "rollback"):
        monkeypatch.setattr(step_functions, name, host.step(name))
    return host


@pytest.fixture
def cell_lines():
    return []


@pytest.fixture
def console(host, tmp_path, cell_lines):
    deploy = Deploy(DeployParameters(operator="Ada", records_dir=str(tmp_path)).resolved(), writer=cell_lines.append)
    deploy.lock = FakeLock()
    lines = []
    controller = Controller(deploy, start_thread=run_now, on_line=lambda row, text: lines.append((row, text)))
    controller.view_lines = lines
    return controller


def click_through(controller, last: int) -> None:
    for number in state.RUN_ORDER[:state.RUN_ORDER.index(last) + 1]:
        assert controller.request(Action.run(number)) is None, number
        if controller.confirming:
            controller.confirm()


def test_taking_over_a_deploy_puts_it_in_console_mode(console, cell_lines):
    assert console.deploy.console_active and not console.deploy.finish_on_failure
    assert console.deploy.step1_ssh_key() is None, "a step cell does nothing while the console drives"
    assert cell_lines == ["Step 1: run it from the step console above (this cell does nothing while the console "
                          "drives the deploy)"], "the cell's note goes to the cell, not into the console"


def test_steps_run_on_a_worker_thread_and_their_lines_go_to_their_rows(console, host):
    click_through(console, 2)
    assert host.ran == ["ssh_key", "connect"]
    assert (1, "  ssh_key ran") in console.view_lines and (2, "  connect ran") in console.view_lines
    assert console.transcript[0] == "Step 1 · SSH key"
    assert console.busy is None and console.elapsed() is None


def test_out_of_order_clicks_are_refused_and_run_nothing(console, host):
    reason = console.request(Action.run(5))
    assert reason == "step 5 · Build cannot run yet: step 1 · SSH key has not succeeded"
    assert console.message == "Refused: " + reason + "."
    assert host.ran == [] and state.journal_entries(console.deploy) == {}


def test_a_destructive_step_waits_for_confirmation_and_cancel_changes_nothing(console, host):
    click_through(console, 5)
    assert console.request(Action.run(6)) is None
    assert console.confirming == Action.run(6) and host.ran[-1] == "build", "nothing ran before the answer"
    assert console.request(Action.run(7)).startswith("answer the confirmation for step 6")
    console.cancel()
    assert console.confirming is None and host.ran[-1] == "build"
    assert console.message == "Cancelled: step 6 · Commit the image was not run; nothing was changed on the host."
    assert 6 not in state.journal_entries(console.deploy)
    console.request(Action.run(6))
    console.confirm()
    assert host.ran[-1] == "commit_image"
    assert state.status_of(console.deploy, 6) == "done"


def test_a_full_run_finishes_and_leaves_an_archived_record_with_the_account(console, host, tmp_path):
    click_through(console, 8)
    deploy = console.deploy
    assert deploy.finished and deploy.journal.data["outcome"] == "success"
    assert host.ran == ["ssh_key", "connect", "preflight", "start_admin", "pull", "build", "commit_image",
                        "replace_app"]
    assert not deploy.record_path.exists(), "the journal was archived under the record's name"
    record_path = Path(console.record)
    assert record_path.parent == tmp_path
    saved = json.loads(record_path.read_text())
    assert record_path.name.endswith(f"_texasca2_{COMMIT[:12]}_success.json")
    assert saved["run_id"] == deploy.run_id and saved["outcome"] == "success"
    assert "  build ran" in saved["console_account"] and "Step 8 · Exit" in saved["console_account"]
    assert state.banner(deploy, record=console.record)[0].startswith("✔ Deploy succeeded: texasca2 serves 790ec6b4a36e")


def test_a_failed_step_stays_open_with_retry_roll_back_and_stop(console, host):
    host.build_fails = True
    click_through(console, 4)
    assert console.request(Action.run(5)) is None
    deploy = console.deploy
    assert not deploy.finished and deploy.failed_step.number == 5
    report = console.failure()
    assert report.headline == "Step 5 · Build failed: the build `make` failed with exit code 2:"
    assert report.last_lines == ("SyntaxError: invalid syntax",)
    assert report.hint == "fix the code, push, deploy again"
    assert state.choices(deploy) == {"retry": True, "rollback": True, "stop": True}

    assert console.request(Action.run(5)) is None, "retry"
    assert host.ran.count("build") == 2 and deploy.failed_step.number == 5

    console.request(Action.stop())
    assert deploy.finished and deploy.journal.data["outcome"] == "failed"
    saved = json.loads(Path(console.record).read_text())
    assert saved["outcome"] == "failed" and saved["failed_step"] == "5 Build"
    assert saved["session_closed"] is True and saved["lock_released"] is True
    assert [step["status"] for step in saved["steps"] if step["number"] == 5] == ["failed", "failed"]


def test_roll_back_asks_first_then_finishes_the_deploy_as_rolled_back(console, host):
    host.build_fails = True
    click_through(console, 4)
    console.request(Action.run(5))
    assert console.request(Action.run(state.ROLLBACK.number)) is None
    assert console.confirming == Action.run(9) and "rollback" not in host.ran
    console.confirm()
    assert host.ran[-1] == "rollback"
    assert console.deploy.finished and console.deploy.journal.data["outcome"] == "rolled-back"


def test_a_retired_console_refuses_clicks_and_can_stop_its_deploy(console, host):
    click_through(console, 2)
    console.retire(stop_deploy=True)
    assert console.deploy.finished and console.deploy.journal.data["outcome"] == "stopped"
    assert console.request(Action.run(0)) == "this console was replaced by a newer one"


def test_a_kernel_shutting_down_stops_a_deploy_left_open_in_a_console(console, host):
    from hermes_ops.console.controller import stop_open_deploys

    click_through(console, 2)
    stop_open_deploys()
    assert console.deploy.finished and console.deploy.journal.data["outcome"] == "stopped"
    assert json.loads(Path(console.record).read_text())["outcome"] == "stopped"
