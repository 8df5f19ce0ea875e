"""The runbook's words: outcomes and statuses are the strings records hold; labels come from the steps."""

from __future__ import annotations

import json

from hermes_ops.runbook.vocabulary import (DEPLOY_SUCCESS, FINISHED_STATUSES, PREFLIGHT, ROLLBACK, RUN_ORDER, STEPS,
                                           ROLLBACK_SUCCESS, Outcome, StepStatus, step_numbered)


def test_outcomes_and_statuses_are_the_strings_records_hold():
    assert [outcome.value for outcome in Outcome] == ["running", "success", "nothing-new", "dry-run", "failed",
                                                      "rolled-back", "interrupted", "stopped", "abandoned"]
    assert [status.value for status in StepStatus] == ["running", "done", "no-op", "skipped", "dry-run", "resumed",
                                                       "failed"]
    assert Outcome("rolled-back") is Outcome.ROLLED_BACK and Outcome.ROLLED_BACK == "rolled-back"
    assert json.dumps({"outcome": Outcome.NOTHING_NEW, "status": StepStatus.NO_OP}) == \
        '{"outcome": "nothing-new", "status": "no-op"}'
    assert f"{Outcome.DRY_RUN} at step {StepStatus.FAILED}" == "dry-run at step failed"
    assert str(Outcome.SUCCESS) == "success" and f"{Outcome.SUCCESS:12}|" == "success     |"


def test_which_outcomes_are_successes_and_which_steps_need_no_second_run():
    assert DEPLOY_SUCCESS == {"success", "nothing-new", "dry-run"}
    assert ROLLBACK_SUCCESS == {"rolled-back", "dry-run"}
    assert "rolled-back" not in DEPLOY_SUCCESS and "success" not in ROLLBACK_SUCCESS
    assert FINISHED_STATUSES == {"done", "no-op", "resumed"}
    assert {outcome for outcome in Outcome if outcome.needs_failure_text} == \
        {Outcome.FAILED, Outcome.ROLLED_BACK, Outcome.INTERRUPTED, Outcome.ABANDONED}


def test_step_labels_are_the_names_records_and_errors_use():
    assert [step.label for step in STEPS] == ["1 SSH key", "2 Connect", "3 Start the admin client", "4 Pull",
                                              "5 Build", "6 Commit the image", "7 Replace the app container",
                                              "8 Exit"]
    assert PREFLIGHT.label == "preflight"
    assert ROLLBACK.label == "9 Roll back", "what a failed rollback's record has always said"


def test_steps_by_number_and_the_order_a_deploy_runs_them():
    assert [step_numbered(number).name for number in RUN_ORDER] == [
        "ssh_key", "connect", "preflight", "start_admin", "pull", "build", "commit_image", "replace_app", "exit"]
    assert step_numbered(9) is ROLLBACK and step_numbered(0) is PREFLIGHT
