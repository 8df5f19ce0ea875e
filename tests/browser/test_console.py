"""The step console in a real browser: JupyterLab, Chromium, the runbook notebook, the sandbox host.

An operator's session, click by click: open `notebooks/deploy.ipynb`, Run All (the step cells
leave the steps to the console), then drive the deploy from the console's buttons.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time

import pytest
from playwright.sync_api import expect

from hermes_ops import paths
from hermes_ops.sandbox.host import http_get
from tests.browser.conftest import (ARTIFACTS, REPO_ROOT, api, droplet_docker, production_state,
                                    wait_for_free_lock)

pytestmark = pytest.mark.sandbox

RUNBOOK = REPO_ROOT / "notebooks" / "deploy.ipynb"
RECORDS = paths.default_records_dir()  # the session's temporary folder ($HERMES_OPS_RECORDS, set by conftest.py)
DOCS_SCREENSHOT = REPO_ROOT / "docs" / "console.png"
ROWS = ("hermes-step-1", "hermes-step-2", "hermes-step-preflight", "hermes-step-3", "hermes-step-4",
        "hermes-step-5", "hermes-step-6", "hermes-step-7", "hermes-step-8")
DESTRUCTIVE = ("hermes-step-6", "hermes-step-7")
SUCCEEDED = re.compile(r"^(done|no-op)$")
STEP_TIMEOUT = 150_000  # ms: a build or a container swap on a loaded 2-core machine


# -- what an operator does ---------------------------------------------------------------------------
def open_runbook(page, lab) -> None:
    page.goto(f"{lab.url}/lab/tree/notebooks/deploy.ipynb?token={lab.token}&reset")
    wait_for_kernel(lab)
    choose_from_menu(page, "Run", "Run All Cells")
    wait_for_run_all(page)


def wait_for_kernel(lab, timeout: float = 60) -> None:
    """The notebook's kernel has started and the page is connected to it (before that, Run All is lost)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kernels = [session["kernel"] for session in api(lab, "GET", "/api/sessions")
                   if session["path"] == "notebooks/deploy.ipynb"]
        if kernels and kernels[0]["execution_state"] == "idle" and kernels[0]["connections"] >= 1:
            return
        time.sleep(0.25)
    raise AssertionError(f"the runbook's kernel did not start within {timeout:.0f}s")


def restart_and_run_all(page) -> None:
    """Kernel ▸ Restart Kernel and Run All Cells: a new kernel, a new deploy, a new console."""
    previous = run_id(page)
    choose_from_menu(page, "Kernel", "Restart Kernel and Run All Cells…")
    page.locator(".jp-Dialog .jp-mod-accept").click()
    expect(page.locator(".hermes-header code")).not_to_have_text(previous, timeout=60_000)
    wait_for_run_all(page)


def choose_from_menu(page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()


def wait_for_run_all(page) -> None:
    """The last cell has run (it printed the console's note) and exactly one console is shown."""
    last_cell = page.locator(".jp-CodeCell").last
    expect(last_cell.locator(".jp-OutputArea-output")).to_contain_text("run it from the step console above",
                                                                      timeout=60_000)
    expect(console(page)).to_have_count(1)


def console(page):
    return page.locator(".hermes-console")


def row_status(page, row: str):
    return page.locator(f".{row} .hermes-status [data-status]")


def run_steps(page, rows) -> None:
    for row in rows:
        run_step(page, row)


def asks_first(page, *names: str):
    """The confirmation that must have opened, naming each of `names`; returned for yes or no."""
    confirmation = page.locator(".hermes-confirm")
    expect(confirmation).to_be_visible()
    for text in names:
        expect(confirmation.locator(".hermes-confirm-text")).to_contain_text(text)
    return confirmation


def run_step(page, row: str, *, confirm_with: tuple[str, ...] = ()) -> None:
    """Click Run; a destructive step must ask first, naming what `confirm_with` lists; then wait for success."""
    page.locator(f".{row} .hermes-run").click()
    if row in DESTRUCTIVE:
        confirmation = asks_first(page, *confirm_with)
        confirmation.locator(".hermes-confirm-yes").click()
        expect(confirmation).to_be_hidden()
    expect(row_status(page, row)).to_have_attribute("data-status", SUCCEEDED, timeout=STEP_TIMEOUT)


def run_id(page) -> str:
    return page.locator(".hermes-header code").inner_text().strip()


def record_of(run: str) -> dict:
    """The run's JSON record in records/ (the console archives it under its final name when it ends)."""
    for path in sorted(RECORDS.glob("*.json"), reverse=True):
        data = json.loads(path.read_text())
        if data.get("run_id") == run:
            return data
    raise AssertionError(f"no record of run {run} in {RECORDS}")


def fingerprint(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def push(sandbox_host, sandbox, message: str, fault: str | None = None) -> str:
    """A new commit on origin, made right before the deploy takes the host's lock (step 3) and pulls it
    (step 4), so that no other deploy of this shared sandbox ships it first."""
    wait_for_free_lock(sandbox)
    return sandbox_host.commit(message, fault=fault)


# -- the tests -----------------------------------------------------------------------------------------
def test_click_through_every_step_deploys_the_new_commit(page, jupyter_lab, serving_head, sandbox):
    runbook_before = fingerprint(RUNBOOK)
    open_runbook(page, jupyter_lab)
    expect(page.locator(".jp-CodeCell", has_text="deploy.step5_build()")).to_contain_text(
        "Step 5: run it from the step console above"), "the step cells leave the steps to the console"
    expect(page.locator(".hermes-banner")).to_contain_text("Next: step 1 · SSH key")
    run = run_id(page)

    run_steps(page, ROWS[:3])  # read-only: SSH key, connect, preflight
    new_commit = push(serving_head, sandbox, "Browser test: a change deployed from the step console")
    run_steps(page, ROWS[3:6])
    expect(page.locator(".hermes-step-4 .hermes-summary")).to_contain_text("1 new commit(s)")
    expect(page.locator(".hermes-step-5 .hermes-output")).to_contain_text(f"built hermes-app at commit {new_commit}")
    run_step(page, "hermes-step-6", confirm_with=("Commit the image on texasca2 (core@127.0.0.1:2222)",
                                                  f"commit {new_commit[:12]}"))

    # Step 7 takes seconds (the app is swapped and health-checked): while it runs, its output arrives
    # and the kernel is idle (the step runs on a worker thread; nothing waits for a click).
    page.locator(".hermes-step-7 .hermes-run").click()
    confirmation = asks_first(page, "Replace the app container on texasca2 (core@127.0.0.1:2222)",
                              f"commit {new_commit[:12]}")
    confirmation.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "console-confirm-step-7.png"))
    confirmation.locator(".hermes-confirm-yes").click()
    expect(row_status(page, "hermes-step-7")).to_have_attribute("data-status", "running")
    expect(page.locator(".hermes-step-7 .hermes-output")).to_contain_text("docker rm --force hermes-app")
    expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_be_visible()
    still_running = row_status(page, "hermes-step-7").get_attribute("data-status") == "running"
    expect(row_status(page, "hermes-step-7")).to_have_attribute("data-status", SUCCEEDED, timeout=STEP_TIMEOUT)
    assert still_running, "the step's output and an idle kernel were seen only after the step ended"

    run_step(page, "hermes-step-8")
    banner = page.locator(".hermes-banner [data-tone]")
    expect(banner).to_have_attribute("data-tone", "success")
    expect(banner).to_contain_text(f"Deploy succeeded: texasca2 serves {new_commit[:12]}")
    expect(page.locator(".hermes-connection [data-session]")).to_have_text("closed")
    expect(page.locator(".hermes-step-8 .hermes-output")).to_contain_text("outcome: success")
    assert page.locator(".hermes-run:enabled").count() == 0, "a finished deploy offers nothing more to run"

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    console(page).screenshot(path=str(ARTIFACTS / "console-success.png"))
    page.locator(".hermes-log-toggle.mod-active").evaluate_all("buttons => buttons.forEach(b => b.click())")
    # The README's picture is refreshed on request only, so a test run never dirties the checkout.
    readme_shot = DOCS_SCREENSHOT if os.environ.get("HERMES_UPDATE_DOCS_SCREENSHOT") else ARTIFACTS / "console.png"
    console(page).screenshot(path=str(readme_shot))
    assert readme_shot.stat().st_size < 300_000

    assert http_get(sandbox.version_url)[1].strip() == new_commit
    record = record_of(run)
    assert record["outcome"] == "success" and record["commit_after"] == new_commit
    assert record["operator"] == "Browser Test" and record["facts"]["hostname"] == "texasca2"
    assert [step["number"] for step in record["steps"]] == [1, 2, 0, 3, 4, 5, 6, 7]
    assert all(step["status"] in ("done", "no-op") for step in record["steps"])
    assert any(command["command"].startswith("docker commit") for step in record["steps"]
               for command in step["commands"])
    assert record["audit_logged"] is True and record["session_closed"] is True
    assert "Step 7 · Replace the app container" in record["console_account"]
    assert record["record"]["summary"].endswith(f"_texasca2_{new_commit[:12]}_success.json")
    assert fingerprint(RUNBOOK) == runbook_before, "running the runbook in JupyterLab did not rewrite it"


def test_out_of_order_cancel_and_a_failed_build(page, jupyter_lab, serving_head, sandbox):
    open_runbook(page, jupyter_lab)
    first_run = run_id(page)

    # Out of order: step 5's button is disabled, says why, and a click (forced past the disabled state) runs nothing.
    build = page.locator(".hermes-step-5 .hermes-run")
    expect(build).to_be_disabled()
    expect(build).to_have_attribute("title", "step 5 · Build cannot run yet: step 1 · SSH key has not succeeded")
    build.click(force=True)
    page.wait_for_timeout(1000)
    expect(row_status(page, "hermes-step-5")).to_have_attribute("data-status", "pending")
    expect(row_status(page, "hermes-step-1")).to_have_attribute("data-status", "pending")

    run_steps(page, ROWS[:3])
    good_commit = push(serving_head, sandbox, "Browser test: a change the operator decides not to ship")
    run_steps(page, ROWS[3:6])
    serving = http_get(sandbox.version_url)[1].strip()
    before = production_state(serving_head)

    # Cancel a destructive step: nothing changes on the host.
    page.locator(".hermes-step-6 .hermes-run").click()
    confirmation = asks_first(page, "Commit the image on texasca2 (core@127.0.0.1:2222)", f"commit {good_commit[:12]}")
    confirmation.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "console-confirm-step-6.png"))
    confirmation.locator(".hermes-confirm-no").click()
    expect(confirmation).to_be_hidden()
    expect(page.locator(".hermes-message")).to_contain_text("Cancelled: step 6 · Commit the image was not run")
    expect(row_status(page, "hermes-step-6")).to_have_attribute("data-status", "pending")
    expect(page.locator(".hermes-step-7 .hermes-run")).to_be_disabled()
    assert production_state(serving_head) == before, "cancelling changed nothing"
    assert http_get(sandbox.version_url)[1].strip() == serving

    # The operator starts over: the kernel restarts, and the deploy it left open is stopped and recorded.
    restart_and_run_all(page)
    first_record = record_of(first_run)
    assert first_record["outcome"] == "stopped" and first_record["session_closed"] is True

    # A build that fails: the failure, its last lines, and the three choices.
    failed_run = run_id(page)
    run_steps(page, ROWS[:3])
    push(serving_head, sandbox, "Browser test: this breaks the build", fault="break-build")
    run_steps(page, ROWS[3:5])
    page.locator(".hermes-step-5 .hermes-run").click()
    expect(row_status(page, "hermes-step-5")).to_have_attribute("data-status", "failed", timeout=STEP_TIMEOUT)
    failure = page.locator(".hermes-failure")
    expect(failure).to_be_visible()
    expect(failure.locator(".hermes-failure-text")).to_contain_text("Step 5 · Build failed: the build `make` failed")
    expect(failure.locator(".hermes-last-lines")).to_contain_text("this line is not python")
    expect(failure.locator(".hermes-failure-text")).to_contain_text("What to do:")
    for choice in ("hermes-retry", "hermes-rollback", "hermes-stop"):
        expect(failure.locator(f".{choice}")).to_be_enabled()
    expect(page.locator(".hermes-banner [data-tone]")).to_have_attribute("data-tone", "failure")
    failure.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "console-failed-build.png"))

    # Retry runs the step again (and it fails again); roll back asks first, and cancelling it changes nothing.
    failure.locator(".hermes-retry").click()
    expect(row_status(page, "hermes-step-5")).to_have_attribute("data-status", "failed", timeout=STEP_TIMEOUT)
    expect(failure.locator(".hermes-retry")).to_be_enabled()
    failure.locator(".hermes-rollback").click()
    expect(confirmation).to_be_visible()
    expect(confirmation).to_contain_text("Roll back on texasca2 (core@127.0.0.1:2222)")
    confirmation.locator(".hermes-confirm-no").click()
    expect(page.locator(".hermes-message")).to_contain_text("Cancelled: roll back was not run")

    # Stop: the lock is released, the session closed, the record says failed.
    failure.locator(".hermes-stop").click()
    banner = page.locator(".hermes-banner [data-tone]")
    expect(banner).to_contain_text("Deploy failed at step 5 Build")
    expect(banner).to_contain_text("SSH session closed")
    expect(page.locator(".hermes-connection [data-session]")).to_have_text("closed")
    expect(failure).to_be_hidden()
    console(page).screenshot(path=str(ARTIFACTS / "console-stopped-after-failure.png"))

    record = record_of(failed_run)
    assert record["outcome"] == "failed" and record["failed_step"] == "5 Build"
    assert record["session_closed"] is True and record["lock_released"] is True
    assert [step["status"] for step in record["steps"] if step["number"] == 5] == ["failed", "failed"]
    assert "this line is not python" in record["failure"]
    assert http_get(sandbox.version_url)[1].strip() == serving, "the app kept serving the previous version"


def test_roll_back_after_a_failed_build(page, jupyter_lab, serving_head, sandbox):
    config = serving_head.config
    previous = f"{config.image.rsplit(':', 1)[0]}:previous"
    kept_commit = droplet_docker(serving_head, "image", "inspect", "--format",
                                 '{{index .Config.Labels "io.hermes.commit"}}', previous)
    open_runbook(page, jupyter_lab)
    run = run_id(page)
    run_steps(page, ROWS[:3])
    broken = push(serving_head, sandbox, "Browser test: a broken build, rolled back", fault="break-build")
    run_steps(page, ROWS[3:5])
    page.locator(".hermes-step-5 .hermes-run").click()
    expect(row_status(page, "hermes-step-5")).to_have_attribute("data-status", "failed", timeout=STEP_TIMEOUT)

    page.locator(".hermes-failure .hermes-rollback").click()
    confirmation = asks_first(page, f"Roll back on texasca2 (core@127.0.0.1:2222): point {config.image} at "
                                    f"{previous} again", f"taking commit {broken[:12]}")
    confirmation.locator(".hermes-confirm-yes").click()
    expect(page.locator(".hermes-step-rollback")).to_be_visible()
    banner = page.locator(".hermes-banner [data-tone]")
    expect(banner).to_contain_text(f"Rolled back: texasca2 serves {kept_commit[:12]} again", timeout=STEP_TIMEOUT)
    expect(row_status(page, "hermes-step-rollback")).to_have_attribute("data-status", "done")
    expect(page.locator(".hermes-connection [data-session]")).to_have_text("closed")
    console(page).screenshot(path=str(ARTIFACTS / "console-rolled-back.png"))

    assert http_get(sandbox.version_url)[1].strip() == kept_commit
    record = record_of(run)
    assert record["outcome"] == "rolled-back" and record["session_closed"] is True
    assert [step["status"] for step in record["steps"] if step["name"] == "rollback"] == ["done"]
