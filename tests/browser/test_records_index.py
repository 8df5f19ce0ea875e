"""The records index page in Debian's Chromium: opened from file://, searched, filtered, and followed to a record.

No JupyterLab and no sandbox: a folder of real record files, the page rendered into it, and a browser.
The page's Content-Security-Policy allows only its own inline style and script by their sha256, so
the filters working (and no CSP report in the console) also proves those hashes are right.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from hermes_ops.records import store
from hermes_ops.records.index_page import render_index
from hermes_ops.records.listing import rows_from_folder
from hermes_ops.runbook.record import Record
from hermes_ops.runbook.vocabulary import Outcome
from tests.browser.conftest import ARTIFACTS

AFTER = "71346f5a42ddb6e6fe00d5e227ac0b14ad86afa7"
HOSTILE_OPERATOR = '<script>alert("owned")</script><img src=x onerror=alert(2)>'
# (run id, start, outcome, operator, host), newest first as the page must show them.
RUNS = (
    ("20261127T110000Z-ffffff", "2026-11-27T11:00:00+00:00", Outcome.DRY_RUN, "Ada", "texasca2"),
    ("20261127T093000Z-eeeeee", "2026-11-27T11:30:00+02:00", Outcome.ROLLED_BACK, "Grace Hopper", "texasca2"),
    ("20261127T080000Z-dddddd", "2026-11-27T08:00:00+00:00", Outcome.FAILED, "grace", "frankfurt-1.example.org"),
    ("20261126T080000Z-cccccc", "2026-11-26T08:00:00+00:00", Outcome.INTERRUPTED, HOSTILE_OPERATOR, "texasca2"),
    ("20261125T080000Z-bbbbbb", "2026-11-25T08:00:00+00:00", Outcome.SUCCESS, "Linus", "frankfurt-1.example.org"),
    ("20261124T080000Z-aaaaaa", "2026-11-24T08:00:00+00:00", Outcome.SUCCESS, "Ada", "texasca2"),
)
NEWEST_FIRST = [run[0] for run in RUNS]


@pytest.fixture(scope="module", autouse=True)
def sandbox_left_serving_origin_head():
    """This page needs no sandbox: the browser conftest's sandbox clean-up does not apply here."""
    yield


@pytest.fixture(scope="module")
def records_dir(tmp_path_factory):
    """A records folder: each run's `<stem>.json` and a small `<stem>.html`, and the `index.html` rendered there."""
    folder = tmp_path_factory.mktemp("records")
    stems = {}
    for run_id, started_at, outcome, operator, hostname in reversed(RUNS):
        record = Record(run_id=run_id, started_at=started_at, outcome=outcome, operator=operator,
                        facts={"hostname": hostname}, host=f"core@{hostname}:22", commit_after=AFTER, duration=4.2,
                        failed_step="5 Build" if outcome == Outcome.FAILED else None,
                        failure="the build failed" if outcome == Outcome.FAILED else None)
        stem = stems[run_id] = store.record_stem(record)
        (folder / f"{stem}.json").write_text(json.dumps(record.to_json()))
        (folder / f"{stem}.html").write_text(f"<!DOCTYPE html><title>{run_id}</title><h1>record {run_id}</h1>")
    page = render_index(rows_from_folder(folder), generated_at="2026-11-27 12:00 UTC")
    (folder / "index.html").write_text(page, encoding="utf-8")
    return folder, stems


@pytest.fixture(scope="module")
def browser(chromium):
    """The session's Chromium (tests/browser/conftest.py): one Playwright per process, or the second one fails."""
    return chromium


@pytest.fixture
def index(browser, records_dir, request):
    """The index page, opened from file://; its console errors and any dialog are collected as `page.problems`."""
    folder, _ = records_dir
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.problems = []
    page.on("console", lambda message: message.type == "error" and page.problems.append(message.text))
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.on("dialog", lambda dialog: (page.problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.goto((folder / "index.html").as_uri())
    yield page
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-failed.png"), full_page=True)
    context.close()


def shown_run_ids(page) -> list[str]:
    return page.locator("#records tbody tr:visible").evaluate_all(
        "rows => rows.map(row => row.dataset.runId)")


def test_every_run_is_a_row_newest_first_coloured_by_outcome(index):
    rows = index.locator("#records tbody tr")
    expect(rows).to_have_count(len(RUNS))
    assert rows.evaluate_all("rows => rows.map(row => row.dataset.runId)") == NEWEST_FIRST
    assert rows.evaluate_all("rows => rows.map(row => row.dataset.outcome)") == [str(run[2]) for run in RUNS]
    expect(index.locator("#count")).to_have_text(f"{len(RUNS)} of {len(RUNS)} records shown")
    failed = index.locator('tr[data-outcome="failed"] td').first
    assert failed.evaluate("cell => getComputedStyle(cell).backgroundColor") == "rgb(248, 208, 208)"
    hostile = index.locator('tr[data-run-id="20261126T080000Z-cccccc"] td').nth(2)
    expect(hostile).to_have_text(HOSTILE_OPERATOR)  # shown as text, never run
    assert index.problems == [], "no script error, CSP report or dialog"


def test_typing_in_the_search_box_filters_rows_and_updates_the_count(index):
    search = index.locator("#search")
    search.fill("grace")
    expect(index.locator("#count")).to_have_text(f"2 of {len(RUNS)} records shown")
    assert shown_run_ids(index) == ["20261127T093000Z-eeeeee", "20261127T080000Z-dddddd"]
    search.fill("frankfurt LINUS")
    expect(index.locator("#count")).to_have_text(f"1 of {len(RUNS)} records shown")
    assert shown_run_ids(index) == ["20261125T080000Z-bbbbbb"]
    search.fill("<script>")
    assert shown_run_ids(index) == ["20261126T080000Z-cccccc"]
    search.fill("")
    expect(index.locator("#count")).to_have_text(f"{len(RUNS)} of {len(RUNS)} records shown")
    assert shown_run_ids(index) == NEWEST_FIRST
    assert index.problems == []


def test_the_outcome_select_filters_and_combines_with_the_search(index):
    options = index.locator("#outcome option").evaluate_all("options => options.map(option => option.value)")
    assert options == ["", "success", "dry-run", "failed", "rolled-back", "interrupted"]
    index.locator("#outcome").select_option("success")
    expect(index.locator("#count")).to_have_text(f"2 of {len(RUNS)} records shown")
    assert shown_run_ids(index) == ["20261125T080000Z-bbbbbb", "20261124T080000Z-aaaaaa"]
    index.locator("#search").fill("ada")
    expect(index.locator("#count")).to_have_text(f"1 of {len(RUNS)} records shown")
    assert shown_run_ids(index) == ["20261124T080000Z-aaaaaa"]
    index.locator("#outcome").select_option("")
    assert shown_run_ids(index) == ["20261127T110000Z-ffffff", "20261124T080000Z-aaaaaa"]
    assert index.problems == []


def test_a_run_ids_link_opens_that_records_html(index, records_dir):
    folder, stems = records_dir
    run_id = "20261127T080000Z-dddddd"
    index.locator(f'tr[data-run-id="{run_id}"] a').click()
    expect(index.locator("h1")).to_have_text(f"record {run_id}")
    assert index.url == (folder / f"{stems[run_id]}.html").as_uri()
