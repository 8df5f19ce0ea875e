"""The verdict cell: the archived notebook opens with the outcome, from the record alone."""

from __future__ import annotations

from hermes_ops.records.verdict import VERDICT_CELL_ID, verdict_markdown, with_verdict
from hermes_ops.runbook.record import Record


def _failed() -> Record:
    return Record(run_id="20261127T120000Z-abc123", kind="deploy", started_at="2026-11-27T12:00:00+00:00",
                  ended_at="2026-11-27T12:00:09+00:00", duration=9.04, outcome="rolled-back", failed_step="7 Swap",
                  failure="the new container never answered /health", operator="Ada <script>x</script> | L",
                  reason="TICKET-1: ship it", host="core@droplet:22",
                  facts={"hostname": "texasca2", "host_key_fingerprint": "SHA256:abc"},
                  commit_before="a" * 40, commit_after="b" * 40, image_before="sha256:" + "c" * 64,
                  image_after="sha256:" + "d" * 64)


def test_the_verdict_names_outcome_people_host_versions_and_the_failure():
    text = verdict_markdown(_failed())
    assert text.startswith("# ↩️ Verdict: rolled-back")
    for expected in ("**rolled-back**", "texasca2", "SHA256:abc", "`aaaaaaaaaaaa` → `bbbbbbbbbbbb`",
                     "`cccccccccccc` → `dddddddddddd`", "9.0 s", "| Failed step | 7 Swap |",
                     "never answered /health", "TICKET-1: ship it"):
        assert expected in text, expected


def test_untrusted_text_cannot_break_the_cell():
    text = verdict_markdown(_failed())
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "Ada &lt;script&gt;x&lt;/script&gt; &#124; L" in text  # a pipe would split the table row


def test_the_verdict_goes_first_once():
    notebook = {"cells": [{"cell_type": "markdown", "source": "# Deploy"}], "metadata": {}, "nbformat": 4,
                "nbformat_minor": 5}
    once = with_verdict(notebook, _failed())
    twice = with_verdict(once, _failed())
    assert [cell.get("id") for cell in twice["cells"]] == [VERDICT_CELL_ID, None]
    assert notebook["cells"][0]["source"] == "# Deploy"  # the input is not changed
