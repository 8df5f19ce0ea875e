"""Pure pieces behind issue 9's fixes: serving facts, build markers, exclusive records, abandoned runs."""

from __future__ import annotations

import json
import subprocess

import pytest

from hermes_ops.records import store as records
from hermes_ops.errors import ConfigError
from hermes_ops.runbook import abandoned
from hermes_ops.runbook.journal import Journal, new_run_id
from hermes_ops.runbook.serving import Serving

COMMIT = "412353f2b94e6425dbcf582145595d61a3d29f51"
OTHER = "7bf0b5ff53a43242bf566f55b81b290b918e9f6b"


def serving(**changes) -> Serving:
    facts = dict(image="sha256:" + "a" * 64, running=True, label_commit=COMMIT, version=COMMIT, healthy=True)
    return Serving(**{**facts, **changes})


def test_nothing_is_new_only_when_the_commit_serves_healthy_and_its_label_agrees():
    assert serving().serves(COMMIT)
    assert serving(label_commit=None).serves(COMMIT), "an image from before labels is judged by /version"
    assert not serving(healthy=False).serves(COMMIT)
    assert not serving(running=False).serves(COMMIT)
    assert not serving(version=OTHER, label_commit=OTHER).serves(COMMIT), "the checkout may be ahead"
    assert not serving(label_commit=OTHER).serves(COMMIT), "label and /version disagree"
    assert not serving(version="<html>oops</html>").serves(COMMIT)


def test_a_journal_never_claims_an_existing_file(tmp_path):
    run_id = new_run_id()
    existing = tmp_path / f"{run_id}.json"
    existing.write_text("someone else's file\n")
    with pytest.raises(ConfigError, match="already exists"):
        Journal(run_id, tmp_path).create()
    assert existing.read_text() == "someone else's file\n"


def test_a_symlinked_records_dir_is_refused(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(ConfigError, match="symlink"):
        Journal(new_run_id(), tmp_path / "link").create()
    assert not list((tmp_path / "real").iterdir())


def test_archiving_never_overwrites_an_existing_record(tmp_path):
    journal = Journal(new_run_id(), tmp_path)
    journal.set(facts={"hostname": "texasca2"}, commit_after=COMMIT)
    journal.finish("success")
    stem = records.record_stem(journal.data)
    (tmp_path / f"{stem}.json").write_text("an older record\n")
    notebook = records.archive(tmp_path, journal.run_id, None, fallback={})
    assert (tmp_path / f"{stem}.json").read_text() == "an older record\n"
    assert notebook.name.startswith(stem) and notebook.name != f"{stem}.ipynb"
    assert json.loads(notebook.with_suffix(".json").read_text())["run_id"] == journal.run_id


def test_a_running_journal_whose_process_is_gone_is_closed_as_abandoned(tmp_path):
    gone = subprocess.Popen(["true"])
    gone.wait()
    journal = Journal(new_run_id(), tmp_path)
    journal.set(pid=gone.pid, process_start=1, facts={"hostname": "texasca2"})
    journal.create()
    alive = Journal(new_run_id(), tmp_path)  # this very process: still running
    alive.create()
    assert abandoned.find(tmp_path) == [journal.path]
    closed = abandoned.close(tmp_path)
    assert [entry["run_id"] for entry in closed] == [journal.run_id]
    record = json.loads(open(closed[0]["record"]).read())
    assert record["outcome"] == "abandoned" and record["failure"] and not record["audit_logged"]
    assert [entry["run_id"] for entry in abandoned.unlogged(tmp_path)] == [journal.run_id]
    abandoned.mark_logged(closed[0], "a line")
    assert abandoned.unlogged(tmp_path) == []
    assert alive.path.exists(), "a live run is left alone"
