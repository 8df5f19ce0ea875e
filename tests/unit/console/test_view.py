"""The widgets, driven without a browser: what is enabled, shown and hidden as the deploy moves on."""

from __future__ import annotations

import time

import pytest

import hermes_ops.console as console_package
from hermes_ops.console import show_console
from hermes_ops.console.controller import Controller
from hermes_ops.console.view import ConsoleView
from hermes_ops.params import DeployParameters
from hermes_ops.runbook import Deploy
from tests.unit.console.test_controller import COMMIT, FakeLock, host, run_now  # noqa: F401  (fixture)


@pytest.fixture
def view(host, tmp_path):
    deploy = Deploy(DeployParameters(operator="Ada", records_dir=str(tmp_path)).resolved(), writer=lambda text: None)
    deploy.lock = FakeLock()
    return ConsoleView(Controller(deploy, start_thread=run_now))


def enabled_runs(view) -> list[int]:
    return [number for number, row in view.rows.items() if not row.run.disabled]


def click(view, *numbers: int) -> None:
    for number in numbers:
        view.rows[number].run.click()
        if view.controller.confirming is not None:
            view.confirm_yes.click()


def test_only_the_next_step_can_be_clicked_and_the_others_say_why(view):
    assert enabled_runs(view) == [1]
    assert view.rows[5].run.tooltip == "step 5 · Build cannot run yet: step 1 · SSH key has not succeeded"
    assert view.confirm_box.layout.display == "none" and view.failure_box.layout.display == "none"
    click(view, 1, 2)
    assert enabled_runs(view) == [0]
    assert "Next: preflight" in view.banner.value


def test_a_steps_lines_go_to_its_own_output(view):
    click(view, 1)
    text = "".join(output["text"] for output in view.rows[1].output.outputs)
    assert text.startswith("Step 1 · SSH key\n") and "ssh_key ran" in text
    assert view.rows[2].output.outputs == ()
    assert view.rows[1].show_log.value is True


def test_a_destructive_step_shows_its_question_and_cancel_hides_it(view):
    click(view, 1, 2, 0, 3, 4, 5)
    view.rows[6].run.click()
    assert view.confirm_box.layout.display is None
    assert "Commit the image on texasca2 (core@127.0.0.1:2222)" in view.confirm_text.value
    assert f"commit {COMMIT[:12]}" in view.confirm_text.value
    assert enabled_runs(view) == [], "nothing else runs while the question is open"
    view.confirm_no.click()
    assert view.confirm_box.layout.display == "none" and view.confirm_text.value == ""
    assert "Cancelled: step 6 · Commit the image was not run" in view.message.value
    assert enabled_runs(view) == [6]


def test_a_failure_shows_what_failed_its_last_lines_and_the_three_choices(view, host):
    host.build_fails = True
    click(view, 1, 2, 0, 3, 4, 5)
    assert view.failure_box.layout.display is None
    assert "Step 5 · Build failed: the build `make` failed" in view.failure_text.value
    assert "SyntaxError: invalid syntax" in view.failure_text.value
    assert "fix the code, push, deploy again" in view.failure_text.value
    assert [button.disabled for button in (view.retry, view.rollback, view.stop)] == [False, False, False]
    assert view.retry.description == "Retry step 5 · Build"
    assert view.stop_idle.layout.display == "none", "one Stop button, in the failure panel"
    view.stop.click()
    assert view.failure_box.layout.display == "none" and enabled_runs(view) == []
    assert "Deploy failed at step 5 Build" in view.banner.value and "data-tone='failure'" in view.banner.value


def test_show_console_in_jupyterlab_displays_it_and_a_second_one_stops_the_first_deploy(host, tmp_path,
                                                                                      monkeypatch):
    shown = []
    monkeypatch.setattr(console_package, "in_jupyter_server", lambda: True)
    monkeypatch.setattr("IPython.display.display", shown.append)
    monkeypatch.setattr(console_package, "_latest", None)
    params = DeployParameters(operator="Ada", records_dir=str(tmp_path)).resolved()
    first_deploy, second_deploy = (Deploy(params, writer=lambda text: None) for _ in range(2))
    first = show_console(first_deploy)
    assert shown == [first.widget] and first_deploy.console_active
    second = show_console(second_deploy)
    assert shown[-1] is second.widget
    for _ in range(200):  # the stop runs on a worker thread
        if first.controller.busy is None and first_deploy.finished:
            break
        time.sleep(0.05)
    assert first_deploy.journal.data["outcome"] == "stopped"
    assert first.controller.retired and not second.controller.retired
    assert "replaced this one" in first.view.message.value


def test_the_idle_stop_button_ends_the_deploy_and_hides(view):
    click(view, 1, 2)
    assert view.stop_idle.layout.display is None and not view.stop_idle.disabled
    view.stop_idle.click()
    deploy = view.controller.deploy
    assert deploy.finished and deploy.journal.data["outcome"] == "stopped"
    assert view.stop_idle.layout.display == "none"
    assert "Deploy stopped by the operator after step 2 · Connect" in view.banner.value
