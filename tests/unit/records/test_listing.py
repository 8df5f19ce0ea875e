"""Browsing records: rows from real record files, the filters, the table, a run's details and the index page."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest

from hermes_ops.records import store
from hermes_ops.records.index_page import render_index
from hermes_ops.records.listing import (RecordRow, RowFilter, format_details, format_table, parse_since,
                                        row_from_record, rows_from_folder)
from hermes_ops.runbook.record import Record, StepEntry
from hermes_ops.runbook.vocabulary import Outcome, StepStatus

BEFORE = "8c855e5ba0f75bf43553249dba0067dfad5978ef"
AFTER = "71346f5a42ddb6e6fe00d5e227ac0b14ad86afa7"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
LONG_HOST = "hermes-production-frankfurt-1.internal.example.org"


def record(run_id: str, started_at: str, **values) -> Record:
    fields = {"kind": "deploy", "outcome": Outcome.SUCCESS, "operator": "Ada", "host": "core@203.0.113.7:22",
              "facts": {"hostname": "texasca2"}, "parameters": {"host": "203.0.113.7"}, "commit_before": BEFORE,
              "commit_after": AFTER, "duration": 12.34, **values}
    return Record(run_id=run_id, started_at=started_at, **fields)


def write(folder, run: Record) -> str:
    """The record archived as the store names it; returns its stem."""
    stem = store.record_stem(run)
    (folder / f"{stem}.json").write_text(json.dumps(run.to_json()))
    return stem


def failed_build() -> Record:
    output = "".join(f"build line {number}\n" for number in range(1, 41))
    command = {"host": "core@203.0.113.7:22", "command": "docker build -t hermes/admin:latest .", "exit_code": 2,
               "stdout": output, "stderr": "make: *** [all] Error 2\n"}
    steps = [StepEntry(number=2, name="connect", title="Connect", status=StepStatus.DONE),
             StepEntry(number=5, name="build", title="Build", status=StepStatus.FAILED, commands=[command],
                       error="[step 5 Build] the build failed")]
    return record("20261126T080000Z-cccccc", "2026-11-26T08:00:00+00:00", outcome=Outcome.FAILED,
                  operator="Grace", failed_step="5 Build", failure="the build `make` failed (exit 2)",
                  reason="ticket 7", commit_after=None, steps=steps, ended_at="2026-11-26T08:01:00+00:00")


@pytest.fixture
def folder(tmp_path):
    write(tmp_path, record("20261120T100000Z-aaaaaa", "2026-11-20T10:00:00+00:00", operator="Ada Lovelace"))
    write(tmp_path, failed_build())
    # Started 2026-11-27 09:30 UTC, written with a +02:00 offset: newer than the run of 08:00 UTC.
    write(tmp_path, record("20261127T093000Z-bbbbbb", "2026-11-27T11:30:00+02:00", outcome=Outcome.ROLLED_BACK,
                           operator="Linus", facts={}, extra={"integrity": {"sha256": "00"}}))
    write(tmp_path, record("20261127T080000Z-dddddd", "2026-11-27T08:00:00+00:00", outcome=Outcome.DRY_RUN,
                           facts={"hostname": LONG_HOST}, duration=None, commit_before=None, commit_after=None))
    (tmp_path / "20261127T110000Z-eeeeee.json").write_text(json.dumps(record("20261127T110000Z-eeeeee",
                                                                             "2026-11-27T11:00:00+00:00").to_json()))
    (tmp_path / "20261127T120000Z_x_y_z.json").write_text("not json")
    return tmp_path


def run_ids(rows) -> list[str]:
    return [row.run_id for row in rows]


def test_every_archived_record_is_a_row_and_nothing_else(folder):
    rows = {row.run_id: row for row in rows_from_folder(folder)}
    assert sorted(rows) == ["20261120T100000Z-aaaaaa", "20261126T080000Z-cccccc", "20261127T080000Z-dddddd",
                            "20261127T093000Z-bbbbbb"], "running journals and unreadable files are left out"
    failed = rows["20261126T080000Z-cccccc"]
    assert failed == RecordRow(run_id="20261126T080000Z-cccccc", started_at="2026-11-26T08:00:00+00:00",
                               operator="Grace", host="texasca2", kind="deploy", commit_before=BEFORE,
                               commit_after=None, outcome="failed", duration=12.34, failed_step="5 Build",
                               failure="the build `make` failed (exit 2)",
                               stem="20261126T080000Z_texasca2_8c855e5ba0f7_failed", sealed=False)
    assert (folder / f"{failed.stem}.json").exists()
    assert rows["20261127T093000Z-bbbbbb"].host == "203.0.113.7", "no hostname fact: the host parameter"
    assert rows["20261127T093000Z-bbbbbb"].sealed
    assert json.loads(json.dumps(failed.to_json()))["outcome"] == "failed"


def test_a_record_with_no_host_at_all_reads_as_unknown():
    row = row_from_record(Record(run_id="r", started_at=None, facts={}, parameters={}), "stem")
    assert (row.host, row.started_at, row.operator, row.outcome) == ("?", "", "?", "running")


def test_rows_are_listed_newest_first_whatever_the_offset(folder):
    assert run_ids(RowFilter().apply(rows_from_folder(folder))) == [
        "20261127T093000Z-bbbbbb", "20261127T080000Z-dddddd", "20261126T080000Z-cccccc", "20261120T100000Z-aaaaaa"]


def test_since_an_absolute_time_or_an_age(folder):
    rows = rows_from_folder(folder)
    assert run_ids(RowFilter(since=parse_since("2026-11-27", NOW)).apply(rows)) == [
        "20261127T093000Z-bbbbbb", "20261127T080000Z-dddddd"]
    assert run_ids(RowFilter(since=parse_since("2026-11-27T09:00Z", NOW)).apply(rows)) == ["20261127T093000Z-bbbbbb"]
    assert run_ids(RowFilter(since=parse_since("2d", NOW)).apply(rows)) == [
        "20261127T093000Z-bbbbbb", "20261127T080000Z-dddddd", "20261126T080000Z-cccccc"]
    assert run_ids(RowFilter(since=parse_since("3h", NOW)).apply(rows)) == ["20261127T093000Z-bbbbbb"]
    assert run_ids(RowFilter(since=parse_since("150m", NOW)).apply(rows)) == ["20261127T093000Z-bbbbbb"]
    assert run_ids(RowFilter(since=parse_since("149m", NOW)).apply(rows)) == []


def test_since_reads_dates_times_and_ages():
    assert parse_since("2026-11-20", NOW) == datetime(2026, 11, 20, tzinfo=timezone.utc)
    assert parse_since(" 2026-11-20T10:00Z ", NOW) == datetime(2026, 11, 20, 10, tzinfo=timezone.utc)
    assert parse_since("2026-11-20T12:00+02:00", NOW) == datetime(2026, 11, 20, 10, tzinfo=timezone.utc)
    assert parse_since("90m", NOW) == datetime(2026, 11, 27, 10, 30, tzinfo=timezone.utc)
    assert parse_since("12h", NOW.replace(tzinfo=None)) == datetime(2026, 11, 27, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["", "yesterday", "3 days", "-3d", "3w", "2026-13-01", "99999999999d"])
def test_since_refuses_anything_else_and_says_what_it_takes(text):
    with pytest.raises(ValueError, match=r"a date \(2026-11-20\).*an age \(3d, 12h, 90m\)"):
        parse_since(text, NOW)


def test_outcome_operator_host_and_limit(folder):
    rows = rows_from_folder(folder)
    assert run_ids(RowFilter(outcome="failed").apply(rows)) == ["20261126T080000Z-cccccc"]
    assert run_ids(RowFilter(outcome="Rolled-Back").apply(rows)) == ["20261127T093000Z-bbbbbb"]
    assert run_ids(RowFilter(operator="ada").apply(rows)) == ["20261127T080000Z-dddddd", "20261120T100000Z-aaaaaa"]
    assert run_ids(RowFilter(operator="LOVELACE").apply(rows)) == ["20261120T100000Z-aaaaaa"]
    assert run_ids(RowFilter(host="FRANKFURT").apply(rows)) == ["20261127T080000Z-dddddd"]
    assert run_ids(RowFilter(host="texas", limit=1).apply(rows)) == ["20261126T080000Z-cccccc"]
    assert run_ids(RowFilter(limit=2).apply(rows)) == ["20261127T093000Z-bbbbbb", "20261127T080000Z-dddddd"]
    assert RowFilter(limit=0).apply(rows) == []
    with pytest.raises(ValueError, match="limit"):
        RowFilter(limit=-1)


def test_the_table_never_cuts_a_long_host(folder):
    table = format_table(RowFilter().apply(rows_from_folder(folder)))
    header, *lines = table.splitlines()
    assert header.split("  ")[0] == "run id" and "started (UTC)" in header and "duration" in header
    assert len(lines) == 4
    long_line = next(line for line in lines if "20261127T080000Z-dddddd" in line)
    assert LONG_HOST in long_line
    assert "none → none" in long_line and re.search(r"  dry-run +\?$", long_line)
    texas = next(line for line in lines if "20261120T100000Z-aaaaaa" in line)
    assert "2026-11-20 10:00:00" in texas and "Ada Lovelace" in texas
    assert "8c855e5ba0f7 → 71346f5a42dd" in texas and texas.endswith("12.3s")
    host_column = header.index("host")
    assert all(line[host_column - 2:host_column] == "  " for line in lines), "columns line up under the header"
    assert "2026-11-27 09:30:00" in next(line for line in lines if "bbbbbb" in line), "shown in UTC"


def test_the_table_shows_control_characters_never_obeys_them():
    row = row_from_record(record("r1", "2026-11-20T10:00:00+00:00", operator="Eve\x1b]0;pwned\x07\nroot"), "s")
    table = format_table([row])
    assert "\x1b" not in table and "\\x1b]0;pwned\\x07\\nroot" in table
    assert len(table.splitlines()) == 2


def test_details_show_the_summary_and_the_failed_commands_last_lines():
    run = failed_build()
    text = format_details(row_from_record(run, "stem"), run)
    for expected in ("run 20261126T080000Z-cccccc (deploy)", "outcome:     failed", "operator:    Grace",
                     "reason:      ticket 7", "host:        texasca2 (core@203.0.113.7:22)",
                     "started:     2026-11-26 08:00:00 UTC", "ended:       2026-11-26 08:01:00 UTC",
                     f"commit:      {BEFORE} → none", "failed step: 5 Build",
                     "why:         the build `make` failed (exit 2)",
                     "docker build -t hermes/admin:latest . (exit 2)", "stdout, last 15 of 40 lines:",
                     "| build line 26", "| build line 40", "stderr, last 1 of 1 lines:", "| make: *** [all] Error 2"):
        assert expected in text, expected
    assert "build line 25\n" not in text


def test_details_of_a_rollback_find_the_failed_step_without_a_failed_step_label():
    run = failed_build()
    run.update(failed_step=None, failure=None, outcome=Outcome.ROLLED_BACK)
    text = format_details(row_from_record(run, "stem"), run)
    assert "failed step: 5 Build" in text and "why:         [step 5 Build] the build failed" in text


def test_details_of_a_success_have_no_failure_part():
    run = record("r1", "2026-11-20T10:00:00+00:00", reason="line one\nline two: pretends to be a field")
    text = format_details(row_from_record(run, "stem"), run)
    assert "failed step" not in text and "duration:    12.3s" in text
    assert "  reason:      line one\n               line two" in text, "a second line is indented under its field"


def test_the_index_escapes_untrusted_text_and_links_each_run():
    rows = [row_from_record(record("20261120T100000Z-aaaaaa", "2026-11-20T10:00:00+00:00",
                                   operator="<script>alert(1)</script>"), "20261120T100000Z_texasca2_a_success"),
            row_from_record(failed_build(), "20261126T080000Z_texasca2_b_failed")]
    page = render_index(rows, generated_at="2026-11-27 12:00 UTC")
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<script>") == 1, "only the page's own script"
    assert '<a href="20261120T100000Z_texasca2_a_success.html">' in page
    assert '<a href="20261126T080000Z_texasca2_b_failed.html">' in page
    assert page.index('data-run-id="20261126T080000Z-cccccc"') < page.index('data-run-id="20261120T100000Z-aaaaaa"')
    assert 'data-outcome="failed"' in page and 'id="search"' in page and 'id="count">2 of 2 records shown<' in page
    assert '<option value="failed">failed (1)</option>' in page
    assert "http://" not in page and "https://" not in page, "nothing is fetched"


def test_the_index_link_can_never_be_a_script_url():
    row = row_from_record(record("r1", "2026-11-20T10:00:00+00:00"), 'javascript:alert("x")//')
    page = render_index([row], generated_at="now")
    assert 'href="javascript%3Aalert%28%22x%22%29%2F%2F.html"' in page
