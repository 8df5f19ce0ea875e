"""The console's rules, from a real `Deploy` whose journal is written by hand: no host, no widgets."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hermes_ops.console import state
from hermes_ops.console.state import Action
from hermes_ops.errors import CommandFailed
from hermes_ops.params import DeployParameters
from hermes_ops.result import Result
from hermes_ops.runbook import Deploy
from hermes_ops.runbook.steps import StepError
from hermes_ops.runbook.vocabulary import STEPS
from hermes_ops.runbook.vocabulary import Outcome, StepStatus

COMMIT = "790ec6b4a36e4d3b5a6a104d88136c49c651b97e"


@pytest.fixture
def deploy(tmp_path):
    return Deploy(DeployParameters(operator="Ada", records_dir=str(tmp_path)).resolved())


def record(deploy, number: int, status: str, summary: str = "", error: str | None = None) -> None:
    step = state.step_of(number)
    entry = deploy.journal.begin_step(step)
    deploy.journal.end_step(entry, status, summary=summary, error=error, duration=0.25)


def succeed_until(deploy, last: int) -> None:
    for number in state.RUN_ORDER[:state.RUN_ORDER.index(last) + 1]:
        record(deploy, number, "done")


def test_steps_run_in_the_deploys_order_preflight_after_connect():
    assert state.RUN_ORDER == (1, 2, 0, 3, 4, 5, 6, 7, 8)
    assert [state.step_label(number) for number in (0, 5, 9)] == ["preflight", "step 5 · Build", "roll back"]


def test_a_fresh_deploy_offers_step_1_only(deploy):
    assert state.next_step(deploy) == 1
    assert state.refusal(deploy, Action.run(1)) is None
    assert state.refusal(deploy, Action.run(5)) == "step 5 · Build cannot run yet: step 1 · SSH key has not succeeded"
    assert [state.status_of(deploy, number) for number in state.RUN_ORDER] == ["pending"] * 9


def test_preflight_comes_after_connect_and_before_start_admin(deploy):
    succeed_until(deploy, 2)
    assert state.next_step(deploy) == 0
    assert "preflight has not succeeded" in state.refusal(deploy, Action.run(3))


def test_a_done_step_is_not_run_again_and_no_op_or_skipped_count_as_success(deploy):
    succeed_until(deploy, 3)
    record(deploy, 4, "no-op", "nothing new on main")
    assert state.refusal(deploy, Action.run(3)) == "step 3 · Start the admin client is already done; " \
                                                    "the next step is step 5 · Build"
    record(deploy, 5, "skipped")
    assert state.next_step(deploy) == 6


def test_a_failed_step_is_the_next_step_so_run_means_retry(deploy):
    succeed_until(deploy, 4)
    record(deploy, 5, "failed", "the build failed")
    deploy.failed_step = STEPS[4]
    assert state.status_of(deploy, 5) == "failed"
    assert state.next_step(deploy) == 5
    assert state.refusal(deploy, Action.run(6)).endswith("step 5 · Build has not succeeded")
    assert state.choices(deploy) == {"retry": True, "rollback": True, "stop": True}
    assert state.refusal(deploy, Action.run(state.ROLLBACK.number)) is None


def test_the_latest_attempt_of_a_retried_step_counts(deploy):
    succeed_until(deploy, 4)
    record(deploy, 5, "failed")
    record(deploy, 5, "done")
    assert state.status_of(deploy, 5) == "done" and state.next_step(deploy) == 6


def test_nothing_runs_while_a_step_runs_or_a_confirmation_waits(deploy):
    assert state.refusal(deploy, Action.run(1), busy=Action.run(2)) == "step 2 · Connect is running: wait for it to " \
                                                                       "finish"
    assert "answer the confirmation for step 6" in state.refusal(deploy, Action.stop(), confirming=Action.run(6))
    assert state.choices(deploy, busy=Action.run(1)) == {"retry": False, "rollback": False, "stop": False}


def test_roll_back_is_offered_only_after_a_failure_and_only_if_the_deploy_can(deploy):
    assert state.refusal(deploy, Action.run(9)) == "roll back is offered after a step has failed"
    deploy.failed_step = STEPS[4]
    old_style = SimpleNamespace(**{name: getattr(deploy, name) for name in
                                   ("finished", "failed_step", "journal", "params", "nothing_new")})
    assert not state.can_roll_back(old_style)
    assert state.choices(old_style)["rollback"] is False


def test_a_finished_deploy_refuses_everything_and_shows_the_exit_done(deploy):
    succeed_until(deploy, 7)
    deploy.run_step(8)
    assert state.next_step(deploy) is None
    assert state.status_of(deploy, 8) == "done"
    assert state.refusal(deploy, Action.stop()).startswith("this deploy has finished (success)")


def test_only_steps_that_change_production_ask_first(deploy):
    assert [number for number in (*state.RUN_ORDER, 9) if state.needs_confirmation(deploy, Action.run(number))] \
        == [6, 7, 9]
    assert not state.needs_confirmation(deploy, Action.stop())
    deploy.nothing_new = True
    assert [number for number in (6, 7, 9) if state.needs_confirmation(deploy, Action.run(number))] == [9]
    deploy.nothing_new, deploy.dry_run = False, True
    assert not any(state.needs_confirmation(deploy, Action.run(number)) for number in (6, 7, 9))


def test_the_confirmation_names_the_host_the_commit_and_the_change(deploy):
    deploy.journal.fact(hostname="texasca2")
    deploy.journal.set(commit_after=COMMIT, changelog=["790ec6b Fix the greeting (Ada)", "12ab34c Older (Bo)"])
    six = state.confirmation_text(deploy, Action.run(6))
    assert six.startswith("Commit the image on texasca2 (core@127.0.0.1:2222): save hermes-admin as "
                          "hermes/admin:790ec6b4a36e and point hermes/admin:latest at commit 790ec6b4a36e "
                          "(790ec6b Fix the greeting (Ada) and 1 more).")
    assert "kept as hermes/admin:previous" in six
    seven = state.confirmation_text(deploy, Action.run(7))
    assert "texasca2 (core@127.0.0.1:2222)" in seven and "commit 790ec6b4a36e" in seven
    assert "remove hermes-app" in seven
    back = state.confirmation_text(deploy, Action.run(9))
    assert back.startswith("Roll back on texasca2 (core@127.0.0.1:2222): point hermes/admin:latest at "
                           "hermes/admin:previous again")
    assert "taking commit 790ec6b4a36e" in back


def test_the_zero_downtime_confirmation_says_nothing_goes_down(tmp_path):
    deploy = Deploy(DeployParameters(operator="Ada", records_dir=str(tmp_path), zero_downtime=True).resolved())
    deploy.journal.set(commit_after=COMMIT)
    seven = state.confirmation_text(deploy, Action.run(7))
    assert "without downtime" in seven and "idle slot" in seven and "commit 790ec6b4a36e" in seven
    assert "unavailable" not in seven


def test_failure_report_prefers_the_failed_commands_output(deploy):
    result = Result(host="core@127.0.0.1:2222", command="docker commit x", exit_code=1, stdout="out 1\nout 2\n",
                    stderr="Error: no space left on device\n", started_at=None, ended_at=None, duration=0.1)
    cause = CommandFailed("`docker commit x` exited 1", result=result, hint="free some disk space")
    error = RuntimeError("deploy stopped at step 6")
    error.__cause__ = cause
    record(deploy, 6, "failed", "`docker commit x` exited 1", error=str(cause))
    deploy.failed_step = STEPS[5]
    report = state.failure_report(deploy, error)
    assert report.headline == "Step 6 · Commit the image failed: `docker commit x` exited 1"
    assert report.last_lines == ("Error: no space left on device", "out 1", "out 2")
    assert report.hint == "free some disk space"


def test_failure_report_uses_the_lines_a_build_failure_quotes(deploy):
    cause = StepError("the build `make` failed with exit code 2:\n    File \"x\", line 9\n    SyntaxError: bad",
                      step="5 Build", hint="fix the code, push, deploy again")
    error = RuntimeError("deploy stopped")
    error.__cause__ = cause
    record(deploy, 5, "failed", "the build `make` failed with exit code 2:")
    deploy.failed_step = STEPS[4]
    report = state.failure_report(deploy, error, account_lines=["ignored"])
    assert report.last_lines == ('File "x", line 9', "SyntaxError: bad")


def test_failure_report_without_the_error_falls_back_to_the_journal_and_the_output(deploy):
    record(deploy, 2, "failed", "connection refused", error="[host 127.0.0.1] connection refused")
    deploy.failed_step = STEPS[1]
    report = state.failure_report(deploy, None, account_lines=["Step 2 · Connect", "", "  ✘ failed: refused"])
    assert report.headline == "Step 2 · Connect failed: connection refused"
    assert report.last_lines == ("Step 2 · Connect", "  ✘ failed: refused")
    assert state.failure_report(Deploy(deploy.params), None) is None


def test_banner_says_what_happens_and_what_is_next(deploy):
    assert state.banner(deploy) == ("Next: step 1 · SSH key", "neutral")
    assert state.banner(deploy, busy=Action.run(1)) == ("Running step 1 · SSH key …", "active")
    deploy.failed_step = STEPS[0]
    assert state.banner(deploy)[1] == "failure"
    deploy.failed_step = None
    deploy.journal.fact(hostname="texasca2")
    deploy.journal.set(commit_after=COMMIT)
    deploy.run_step(8)
    text, tone = state.banner(deploy, record="./records/x.json")
    assert tone == "success"
    assert text == ("✔ Deploy succeeded: texasca2 serves 790ec6b4a36e · deploy lock released, SSH session closed · "
                    "record: ./records/x.json")


def test_banner_of_a_stopped_or_rolled_back_deploy_is_a_warning(deploy):
    record(deploy, 1, "done")
    deploy.stop()
    text, tone = state.banner(deploy)
    assert tone == "warning"
    assert text.startswith("■ Deploy stopped by the operator after step 1 · SSH key · deploy lock released")


@pytest.mark.parametrize("outcome, text, tone", [
    (Outcome.SUCCESS, "✔ Deploy succeeded: texasca2 serves 790ec6b4a36e", "success"),
    (Outcome.NOTHING_NEW, "✔ Nothing new to deploy: texasca2 already serves 790ec6b4a36e", "success"),
    (Outcome.DRY_RUN, "✔ Dry run finished: nothing was changed on texasca2", "success"),
    (Outcome.ROLLED_BACK, "↩ Rolled back: texasca2 serves 790ec6b4a36e again", "warning"),
    (Outcome.STOPPED, "■ Deploy stopped by the operator after step 1 · SSH key", "warning"),
    (Outcome.FAILED, "✘ Deploy failed at step 5 Build", "failure"),
    (Outcome.INTERRUPTED, "✘ Deploy interrupted at step 5 Build", "failure"),
])
def test_the_banner_reads_each_outcome_from_the_record(deploy, outcome, text, tone):
    record(deploy, 1, "done")
    deploy.journal.fact(hostname="texasca2")
    deploy.journal.set(commit_after=COMMIT)
    deploy.journal.finish(outcome, failed_step="5 Build" if outcome in (Outcome.FAILED, Outcome.INTERRUPTED) else None)
    deploy.finished = True
    banner, banner_tone = state.banner(deploy)
    assert banner.startswith(text) and banner_tone == tone
    assert banner.endswith(" · deploy lock released, SSH session closed")
    assert state.refusal(deploy, Action.run(2)) == (f"this deploy has finished ({outcome.value}); run the notebook "
                                                    "from the top for a new one")


def test_statuses_are_the_records_words_plus_the_consoles_own(deploy):
    record(deploy, 1, "done")
    record(deploy, 2, "failed")
    assert state.status_of(deploy, 1) is StepStatus.DONE and state.status_of(deploy, 2) is StepStatus.FAILED
    assert state.status_of(deploy, 0) == state.PENDING == "pending"
    assert state.status_of(deploy, 0, running=0) is StepStatus.RUNNING
    deploy.finished = True
    assert state.status_of(deploy, 0) == state.NOT_RUN == "not run"
    assert state.status_of(deploy, state.EXIT) is StepStatus.DONE
    assert state.SUCCEEDED == {"done", "no-op", "skipped", "resumed", "dry-run"}
