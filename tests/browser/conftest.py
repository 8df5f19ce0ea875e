"""JupyterLab on 127.0.0.1 (token auth) against this repository, and Debian's Chromium driven by Playwright.

The server runs with its own config, data, runtime and settings directories, so nothing of this
machine's Jupyter set-up leaks in, and with autosave off, so running the runbook in the browser
never rewrites `notebooks/deploy.ipynb` (its stored outputs are living documentation).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
OPERATOR = "Browser Test"
LAB_SETTINGS = {
    # Never write the runbook back: its stored outputs are checked by nbval.
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    # Every cell stays in the DOM, so the console's cell is there wherever the page is scrolled; the
    # notebook's kernel starts without a "Select Kernel" dialog.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none",
                                                                   "autoStartDefaultKernel": True},
    # No news or update toasts over the buttons (and no requests off this machine).
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def api(server, method: str, path: str):
    request = urllib.request.Request(f"{server.url}{path}", method=method,
                                     headers={"Authorization": f"token {server.token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
    return json.loads(body) if body else None


@pytest.fixture(scope="session")
def jupyter_lab(tmp_path_factory):
    """A JupyterLab server for the repository; stopped (with its kernels) at the end of the session."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    home = tmp_path_factory.mktemp("jupyter")
    env, isolation = isolated_lab(home)
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.root_dir={REPO_ROOT}", *isolation]  # checkpoints under home: no .ipynb_checkpoints/
    with lab_started_by(argv, env, home) as server:
        yield server


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, jupyter_lab, request):
    """A fresh browser page; every kernel is shut down before and after, so each test starts a new deploy."""
    for session in api(jupyter_lab, "GET", "/api/sessions"):
        api(jupyter_lab, "DELETE", f"/api/sessions/{session['id']}")
    context = chromium.new_context(viewport={"width": 1400, "height": 1500})
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-failed.png"), full_page=True)
    context.close()
    for session in api(jupyter_lab, "GET", "/api/sessions"):
        api(jupyter_lab, "DELETE", f"/api/sessions/{session['id']}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def serving_head(sandbox_host, sandbox):
    """The sandbox serving origin's HEAD, and no other deploy holding its lock."""
    from hermes_ops.sandbox.rehearsal import catch_up

    wait_for_free_lock(sandbox)
    catch_up(sandbox_host)
    return sandbox_host


@pytest.fixture(scope="module", autouse=True)
def sandbox_left_serving_origin_head(sandbox_host, sandbox):
    """Whatever the tests deployed, broke or stopped, the sandbox ends serving origin's HEAD."""
    yield
    from hermes_ops.sandbox.rehearsal import catch_up

    wait_for_free_lock(sandbox)
    catch_up(sandbox_host)


# -- the sandbox host, as the tests check it ---------------------------------------------------------
def droplet_docker(sandbox_host, *args: str) -> str:
    return subprocess.run([sandbox_host.docker, *args], capture_output=True, text=True, timeout=60,
                          env=sandbox_host.engine.env, check=True).stdout.strip()


def production_state(sandbox_host) -> dict:
    """What a destructive step changes: the image `latest` names and the app container serving it."""
    config = sandbox_host.config
    return {"image": droplet_docker(sandbox_host, "image", "inspect", "--format", "{{.Id}}", config.image),
            "app": droplet_docker(sandbox_host, "inspect", "--format", "{{.Id}}", config.app_container)}


def wait_for_free_lock(sandbox, timeout: float = 300) -> None:
    """Another deploy of this sandbox (a parallel test run) must end before a test starts its own."""
    from hermes_ops.runbook.hostlog import lock_status

    deadline = time.monotonic() + timeout
    while (status := lock_status(sandbox.params_file)) != "free":
        if time.monotonic() > deadline:
            raise RuntimeError(f"the sandbox's deploy lock stayed {status} for {timeout:.0f}s")
        time.sleep(2)


# -- a JupyterLab server another command starts (`hermes-ops lab` on a prepared copy) -------------------
def isolated_lab(home: Path) -> tuple[dict, list[str]]:
    """The `jupyter_lab` fixture's isolation, for a server a command under test starts: the environment,
    and the JupyterLab arguments (a fresh token and port, settings, workspaces, checkpoints under `home`)."""
    for name, values in LAB_SETTINGS.items():
        path = home / "settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    token, port = secrets.token_hex(16), free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_DATA_DIR": str(home / "data"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "IPYTHONDIR": str(home / "ipython"),
           "HERMES_OPS_OPERATOR": OPERATOR}
    env.pop("JPY_SESSION_NAME", None)
    arguments = ["--allow-root", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
                 f"--IdentityProvider.token={token}", f"--LabApp.user_settings_dir={home / 'settings'}",
                 f"--LabApp.workspaces_dir={home / 'workspaces'}",
                 f"--FileCheckpoints.checkpoint_dir={home / 'checkpoints'}",
                 "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    return env, arguments


@contextmanager
def lab_started_by(argv: list[str], env: dict, home: Path, *, cwd: Path = REPO_ROOT, port: int | None = None,
                   token: str | None = None):
    """Run `argv` (it starts JupyterLab with `isolated_lab(home)`'s arguments, or on `port` with `token` set
    some other way, e.g. a Jupyter config file); yield the server once it answers; stop the command and its
    server (with its kernels) at the end."""
    port = port or next(argument for argument in argv if argument.startswith("--ServerApp.port=")).split("=")[1]
    token = token or next(argument for argument in argv
                          if argument.startswith("--IdentityProvider.token=")).split("=")[1]
    with (home / "jupyterlab.log").open("w") as log:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        server = SimpleNamespace(url=f"http://127.0.0.1:{port}", token=token, process=process,
                                 log=home / "jupyterlab.log")
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    api(server, "GET", "/api/status")
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"JupyterLab did not start:\n{server.log.read_text()[-3000:]}") from None
                    time.sleep(0.5)
            yield server
        finally:
            os.killpg(process.pid, signal.SIGTERM)  # the command and its server; the server stops its kernels
            try:
                process.wait(30)
                _wait_for_group_gone(process.pid, 30)
            except (subprocess.TimeoutExpired, TimeoutError):
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def _wait_for_group_gone(group: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"process group {group} still runs")
        time.sleep(0.25)


def wait_for_kernel_of(lab, notebook: str, timeout: float = 60) -> None:
    """The kernel of `notebook` (its path under the server's root) has started and the page is connected to
    it (before that, Run All is lost)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kernels = [session["kernel"] for session in api(lab, "GET", "/api/sessions") if session["path"] == notebook]
        if kernels and kernels[0]["execution_state"] == "idle" and kernels[0]["connections"] >= 1:
            return
        time.sleep(0.25)
    raise AssertionError(f"the kernel of {notebook} did not start within {timeout:.0f}s")
