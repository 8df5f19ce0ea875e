"""The typed run record: today's records and older ones load, and are written back key for key."""

from __future__ import annotations

import copy
import json

import pytest

from hermes_ops.runbook.journal import Journal, new_run_id
from hermes_ops.runbook.record import Record, RecordFiles, StepEntry, as_record, load_record
from hermes_ops.runbook.vocabulary import PREFLIGHT, Outcome, StepStatus
from tests.unit.runbook.record_samples import (AFTER, BEFORE_ISSUE_9, COMMAND, OLD_FALLBACK, SERVING_BEFORE, TODAY,
                                               step)


def test_a_record_written_today_loads_typed_and_is_written_back_key_for_key():
    record = Record.from_json(copy.deepcopy(TODAY))
    assert record.outcome is Outcome.ROLLED_BACK
    assert [entry.status for entry in record.steps] == [StepStatus.DONE, StepStatus.DONE, StepStatus.FAILED,
                                                        StepStatus.DONE]
    assert [entry.label for entry in record.steps] == ["2 Connect", "preflight", "5 Build", "9 Roll back"]
    assert record.steps[2].commands == [COMMAND] and record.steps[2].error.startswith("[step 5 Build]")
    assert record.serving_after["commit"] == AFTER and record.pid == 28827 and record.abandoned_runs == []
    assert record.record == RecordFiles.named("20261127T100851Z_texasca2_71346f5a42dd_rolled-back")
    assert record.extra == {}
    written = record.to_json()
    assert written == TODAY
    assert list(written) == list(TODAY), "the keys in the order a run writes them"
    assert json.loads(json.dumps(written)) == TODAY, "plain JSON values: the enums are written as their strings"


def test_a_record_from_before_issue_9_loads_and_loses_nothing():
    record = Record.from_json(copy.deepcopy(BEFORE_ISSUE_9))
    assert record.outcome is Outcome.SUCCESS
    assert (record.local_host, record.pid, record.process_start) == (None, None, None)
    assert record.serving_before is None and record.serving_after is None and record.checkout_before is None
    assert [entry.number for entry in record.steps] == [1, 2, 3, 4, 5, 6, 7]
    written = record.to_json()
    assert {key: written[key] for key in BEFORE_ISSUE_9} == BEFORE_ISSUE_9
    assert {key: written[key] for key in written.keys() - BEFORE_ISSUE_9.keys()} == \
        {"local_host": None, "pid": None, "process_start": None}, "only the keys every record has are added"


def test_an_old_fallback_record_loads_with_defaults():
    record = Record.from_json(OLD_FALLBACK)
    assert record.outcome is Outcome.FAILED and record.failure.startswith("ConfigError")
    assert record.kind == "deploy" and record.steps == [] and record.changelog == []
    assert record.parameters == {"port": "twenty-two"} and record.commit_after is None
    assert {key: record.to_json()[key] for key in OLD_FALLBACK} == OLD_FALLBACK


def test_keys_and_words_this_version_does_not_know_are_kept_as_they_were():
    future = {**TODAY, "outcome": "paused", "approved_by": "Bo", "record": "somewhere/else.json",
              "steps": [step(10, "smoke_test", "Smoke test", "flaky", retries=2)]}
    record = Record.from_json(future)
    assert record.outcome == "paused" and not isinstance(record.outcome, Outcome)
    assert record.steps[0].status == "flaky" and record.steps[0].label == "10 Smoke test"
    assert record.steps[0].extra == {"retries": 2}
    assert record.extra == {"approved_by": "Bo", "record": "somewhere/else.json"}
    assert record.to_json() == future


def test_steps_that_are_not_a_list_of_steps_are_kept_as_read():
    odd = {**TODAY, "steps": "lost in a crash"}
    record = Record.from_json(odd)
    assert record.steps == [] and record.extra == {"steps": "lost in a crash"}
    assert record.to_json() == odd


def test_nulls_where_a_list_or_mapping_belongs_read_as_empty():
    record = Record.from_json({"run_id": "r", "outcome": None, "facts": None, "steps": None, "changelog": None,
                               "parameters": None})
    assert (record.outcome, record.facts, record.steps, record.changelog, record.parameters) == \
        (Outcome.RUNNING, {}, [], [], {})


def test_later_keys_appear_once_the_run_has_a_value_for_them():
    record = Record(run_id="r", started_at="2026-11-27T10:00:00+00:00")
    written = record.to_json()
    assert "serving_before" not in written and "rollback" not in written and "record" not in written
    assert written["commit_after"] is None and written["changelog"] == [], "the keys every record has, even empty"
    record.update(serving_before=SERVING_BEFORE, lock_lost=True)
    assert record.to_json()["serving_before"] == SERVING_BEFORE and record.to_json()["lock_lost"] is True


def test_update_checks_field_names_and_reads_the_outcome_as_a_word():
    record = Record(run_id="r")
    record.update(outcome="nothing-new", commit_after=AFTER)
    assert record.outcome is Outcome.NOTHING_NEW and record.commit_after == AFTER
    with pytest.raises(TypeError, match="no field 'comit_after'"):
        record.update(comit_after=AFTER)


def test_as_record_takes_a_record_or_its_json_form():
    record = Record.from_json(TODAY)
    assert as_record(record) is record
    assert as_record(TODAY).to_json() == TODAY


def test_load_record_reads_a_file_and_refuses_what_is_not_a_record(tmp_path):
    (tmp_path / "good.json").write_text(json.dumps(BEFORE_ISSUE_9))
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "broken.json").write_text("{not json")
    assert load_record(tmp_path / "good.json").run_id == BEFORE_ISSUE_9["run_id"]
    assert load_record(tmp_path / "list.json") is None
    assert load_record(tmp_path / "broken.json") is None
    assert load_record(tmp_path / "missing.json") is None


def test_the_journal_fills_the_record_and_its_file_is_the_records_json(tmp_path):
    journal = Journal(new_run_id(), tmp_path, kind="rollback")
    journal.set(operator="Ada", commit_after=AFTER)
    journal.fact(hostname="texasca2")
    entry = journal.begin_step(PREFLIGHT)
    assert isinstance(entry, StepEntry) and entry.status is StepStatus.RUNNING
    journal.end_step(entry, "done", summary="all checks passed", facts={"free_disk_mb": 9000}, duration=0.1234)
    journal.finish("failed", failed_step="preflight", failure="why")
    saved = json.loads(journal.path.read_text())
    assert saved == journal.record.to_json() == dict(journal.data)
    assert saved["kind"] == "rollback" and saved["outcome"] == "failed" and saved["facts"] == {"hostname": "texasca2"}
    assert saved["steps"][0]["status"] == "done" and saved["steps"][0]["duration"] == 0.123
    assert journal.outcome is Outcome.FAILED
    assert Record.from_json(saved).to_json() == saved
    with pytest.raises(TypeError):
        journal.data["outcome"] = "success"  # a read-only view: write through set()
    with pytest.raises(TypeError):
        journal.set(no_such_field=1)
