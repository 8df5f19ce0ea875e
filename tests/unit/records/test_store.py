"""Archiving and listing read records through the `Record` type, old formats included."""

from __future__ import annotations

import copy
import json

from hermes_ops.records import store
from hermes_ops.runbook.record import Record
from hermes_ops.runbook.vocabulary import Outcome
from tests.unit.runbook.record_samples import BEFORE_ISSUE_9, OLD_FALLBACK, TODAY


def test_old_and_new_records_are_listed_alike(tmp_path):
    for data in (BEFORE_ISSUE_9, TODAY):
        (tmp_path / data["record"]["summary"]).write_text(json.dumps(data))
    (tmp_path / "20261127T050000Z_127.0.0.1_nocommit_failed.json").write_text(json.dumps(OLD_FALLBACK))
    (tmp_path / "20261127T060000Z_x_y_z.json").write_text("not json")
    rows = store.list_records(tmp_path)
    assert [(row.started_at, row.operator, row.host, row.commit, row.outcome, row.duration) for row in rows] == [
        ("2026-11-27 05:00:00", "Ada", "?", "none→none", Outcome.FAILED, None),
        ("2026-11-27 09:42:37", "Ada", "texasca2", "8c855e5b→71346f5a", Outcome.SUCCESS, 3.454),
        ("2026-11-27 10:08:51", "Ada", "texasca2", "8c855e5b→71346f5a", Outcome.ROLLED_BACK, 6.824),
    ]
    assert rows[1].path.name == BEFORE_ISSUE_9["record"]["notebook"]


def test_the_stem_is_the_same_from_a_record_or_its_json():
    assert store.record_stem(TODAY) == store.record_stem(Record.from_json(TODAY)) == \
        "20261127T100851Z_texasca2_71346f5a42dd_rolled-back"
    assert store.record_stem(OLD_FALLBACK) == "20261127T050000Z_unknown-host_nocommit_failed"


def test_a_typed_fallback_is_archived_and_neither_input_is_changed(tmp_path):
    fallback = Record(run_id="20261127T050000Z-00aa11", kind="rollback", started_at="2026-11-27T05:00:00+00:00",
                      outcome=Outcome.FAILED, failure="ConfigError: bad port", operator="Ada",
                      parameters={"host": "203.0.113.7"})
    before = fallback.to_json()
    notebook = store.archive(tmp_path, fallback.run_id, None, fallback=fallback)
    assert notebook.name == "20261127T050000Z_203.0.113.7_nocommit_failed.ipynb"
    saved = json.loads(notebook.with_suffix(".json").read_text())
    assert saved["kind"] == "rollback" and saved["failure"] == "ConfigError: bad port"
    assert saved["record"] == {"notebook": notebook.name, "html": notebook.with_suffix(".html").name,
                               "summary": notebook.with_suffix(".json").name}
    assert fallback.to_json() == before, "the caller's record is not changed"


def test_a_journal_left_running_takes_the_fallbacks_outcome(tmp_path):
    running = {**copy.deepcopy(BEFORE_ISSUE_9), "outcome": "running"}
    del running["record"]
    (tmp_path / f"{running['run_id']}.json").write_text(json.dumps(running))
    notebook = store.archive(tmp_path, running["run_id"], None,
                             fallback=Record(outcome=Outcome.INTERRUPTED, failure="SIGTERM"))
    saved = json.loads(notebook.with_suffix(".json").read_text())
    assert saved["outcome"] == "interrupted" and saved["failure"] == "SIGTERM"
    assert saved["steps"] == running["steps"] and saved["audit_line"] == running["audit_line"]
    assert not (tmp_path / f"{running['run_id']}.json").exists()


def _executed_notebook(path):
    from nbformat import v4, write

    notebook = v4.new_notebook(metadata={"language_info": {"name": "python", "pygments_lexer": "ipython3"}},
                               cells=[v4.new_markdown_cell("# Deploy"),
                                      v4.new_code_cell("print('hi')", outputs=[
                                          v4.new_output("stream", name="stdout", text="hi\n")])])
    write(notebook, str(path))
    return path


def test_alongside_runs_once_the_summary_and_notebook_exist_and_the_index_follows_both(tmp_path, monkeypatch):
    """A headless run uploads to the host while the HTML renders; the index then shows what the upload sealed."""
    fallback = Record(run_id="20261127T050000Z-00aa11", kind="deploy", started_at="2026-11-27T05:00:00+00:00",
                      outcome=Outcome.SUCCESS, operator="Ada", parameters={"host": "203.0.113.7"})
    executed = _executed_notebook(store.running_notebook(tmp_path, fallback.run_id))
    seen = []
    monkeypatch.setattr(store, "rebuild_index", lambda folder: seen.append(("index", sorted(
        path.suffix for path in folder.iterdir() if path.name.startswith("2026")))))

    def alongside(summary):
        seen.append(("alongside", summary.name, summary.exists(), summary.with_suffix(".ipynb").exists()))

    notebook = store.archive(tmp_path, fallback.run_id, executed, fallback=fallback, alongside=alongside)
    assert seen == [("alongside", notebook.with_suffix(".json").name, True, True),
                    ("index", [".html", ".ipynb", ".json"])]


def test_the_warmed_exporter_renders_what_a_fresh_one_renders(tmp_path):
    from nbconvert import HTMLExporter
    import nbformat

    notebook = _executed_notebook(tmp_path / "run.ipynb")
    store.prepare_rendering().join()
    store.render_html(notebook, tmp_path / "warm.html")
    fresh, _ = HTMLExporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    assert (tmp_path / "warm.html").read_text() == fresh
