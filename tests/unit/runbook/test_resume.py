"""Resume reads the earlier run's record through the type: today's records and older ones."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from hermes_ops.errors import ConfigError
from hermes_ops.runbook import resume
from hermes_ops.runbook.vocabulary import Outcome
from tests.unit.runbook.record_samples import AFTER, BEFORE, BEFORE_ISSUE_9, IMAGE_AFTER, TODAY, step


def write(tmp_path, data, name=None):
    (tmp_path / (name or data["record"]["summary"])).write_text(json.dumps(data))


def test_a_failed_run_resumes_after_its_finished_mutating_steps(tmp_path):
    failed = {**BEFORE_ISSUE_9, "outcome": "failed", "failed_step": "6 Commit the image",
              "steps": [step(number, "x", "X", status) for number, status in
                        ((1, "done"), (2, "done"), (0, "done"), (3, "no-op"), (4, "done"), (5, "resumed"),
                         (6, "failed"), (7, "skipped"))]}
    write(tmp_path, failed)
    point = resume.load(SimpleNamespace(records_dir=str(tmp_path), resume=failed["run_id"]))
    assert point.finished_steps == {3, 4, 5}
    assert point.outcome is Outcome.FAILED and point.failed_step == "6 Commit the image"
    assert (point.commit_before, point.commit_after, point.image_after) == (BEFORE, AFTER, IMAGE_AFTER)
    assert point.summary()["outcome"] == "failed" and json.dumps(point.summary())


@pytest.mark.parametrize("outcome", ["success", "nothing-new", "dry-run"])
def test_a_run_that_succeeded_is_not_resumed(tmp_path, outcome):
    write(tmp_path, {**TODAY, "outcome": outcome})
    with pytest.raises(ConfigError, match=f"ended with {outcome}: there is nothing to resume"):
        resume.load(SimpleNamespace(records_dir=str(tmp_path), resume=TODAY["run_id"]))


def test_a_record_is_found_by_its_run_id_whatever_its_file_name(tmp_path):
    write(tmp_path, BEFORE_ISSUE_9)
    (tmp_path / "broken.json").write_text("{")
    assert resume.find_record(tmp_path, BEFORE_ISSUE_9["run_id"]).name == BEFORE_ISSUE_9["record"]["summary"]
    assert resume.find_record(tmp_path, "20260101T000000Z-ffffff") is None
