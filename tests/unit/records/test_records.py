"""Record naming and listing (pure file logic)."""

import json

from hermes_ops.records import store as records


def journal(**overrides):
    data = {"run_id": "r1", "started_at": "2026-11-27T04:41:25.123+00:00", "operator": "ana",
            "facts": {"hostname": "texasca2"}, "commit_before": "a" * 40, "commit_after": "b" * 40,
            "outcome": "success", "duration": 3.2}
    data.update(overrides)
    return data


def test_stem_names_time_host_commit_outcome():
    assert records.record_stem(journal()) == "20261127T044125Z_texasca2_bbbbbbbbbbbb_success"


def test_stem_of_a_run_that_failed_before_connecting():
    stem = records.record_stem(journal(facts={}, commit_after=None, commit_before=None, outcome="failed",
                                       parameters={"host": "127.0.0.1"}))
    assert stem == "20261127T044125Z_127.0.0.1_nocommit_failed"


def test_stem_never_carries_path_characters():
    stem = records.record_stem(journal(facts={"hostname": "../../etc"}, outcome="rolled back/x"))
    assert "/" not in stem


def test_archive_renames_the_journal_and_marks_an_unfinished_run(tmp_path):
    (tmp_path / "r1.json").write_text(json.dumps(journal(outcome="running")))
    path = records.archive(tmp_path, "r1", None, fallback={"outcome": "interrupted"})
    assert path.name == "20261127T044125Z_texasca2_bbbbbbbbbbbb_interrupted.ipynb"
    saved = json.loads(path.with_suffix(".json").read_text())
    assert saved["outcome"] == "interrupted"
    assert not (tmp_path / "r1.json").exists()
    rows = records.list_records(tmp_path)
    assert [(row.operator, row.host, row.outcome) for row in rows] == [("ana", "texasca2", "interrupted")]
