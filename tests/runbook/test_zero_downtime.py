"""The zero-downtime swap on the sandbox switched to haproxy + two slots: deploys, a rollback and a failed gate
while a client probes the users' address every 10 ms. The claim is a count, not a time: no probe fails.

The module switches the shared sandbox to zero-downtime mode (`sandbox up --zero-downtime`, seconds) and back.
"""

from __future__ import annotations

import dataclasses
import http.client
import threading
from urllib.parse import urlsplit

import pytest

from hermes_ops.sandbox import SandboxHost
from hermes_ops.sandbox.host import http_get
from tests.runbook.conftest import droplet_docker, hermes_ops_cli, record_of

pytestmark = pytest.mark.sandbox


class Prober:
    """GET the health URL every 10 ms on a fresh connection, as a stream of users would; count what fails."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.address, self.path = (parts.hostname, parts.port), parts.path
        self.sent = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Prober":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            connection = http.client.HTTPConnection(*self.address, timeout=2)
            try:
                connection.request("GET", self.path)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    self.failures.append(f"HTTP {response.status}")
            except (OSError, http.client.HTTPException) as error:
                self.failures.append(f"{type(error).__name__}: {error}")
            finally:
                connection.close()
            self.sent += 1
            self._stop.wait(0.01)


@pytest.fixture(scope="module")
def proxied(sandbox_host):
    """The shared sandbox in zero-downtime mode for this module, serving origin's HEAD; back to the supervisor after."""
    from hermes_ops.sandbox.rehearsal import catch_up

    host = SandboxHost(dataclasses.replace(sandbox_host.config, zero_downtime=True))
    host.up()
    try:
        catch_up(host)
        yield host
    finally:
        sandbox_host.up()
        catch_up(sandbox_host)  # as the next module expects: what serves is what the admin checkout last built


def slot_containers(host) -> dict[str, str]:
    names = droplet_docker(host, "ps", "--filter", "label=io.hermes.slot", "--format", "{{.Names}} {{.Image}}")
    return dict(line.split(" ", 1) for line in names.splitlines())


def deploy(host, tmp_path, *extra: str, command: str = "deploy"):
    cli = hermes_ops_cli(command, "-f", str(host.params_path), "--records-dir", str(tmp_path), *extra)
    notebook, record = record_of(cli)
    return cli, record


def test_deploys_and_a_rollback_fail_no_request(proxied, tmp_path):
    first = proxied.commit("zero-downtime: first")
    with Prober(proxied.config.health_url) as prober:
        cli, record = deploy(proxied, tmp_path)
        assert cli.returncode == 0, cli.stdout[-3000:] + cli.stderr[-2000:]
        assert http_get(proxied.config.version_url)[1].strip() == first
        second = proxied.commit("zero-downtime: second")
        cli, second_record = deploy(proxied, tmp_path)
        assert cli.returncode == 0, cli.stdout[-3000:] + cli.stderr[-2000:]
        assert http_get(proxied.config.version_url)[1].strip() == second
        cli, rollback = deploy(proxied, tmp_path, command="rollback")
        assert cli.returncode == 0, cli.stdout[-3000:] + cli.stderr[-2000:]
        assert http_get(proxied.config.version_url)[1].strip() == first
    assert prober.sent > 100 and prober.failures == [], f"{len(prober.failures)} of {prober.sent}: {prober.failures[:5]}"

    swaps = [next(step for step in run["steps"] if step["name"] == name)["facts"]
             for run, name in ((record, "replace_app"), (second_record, "replace_app"))]
    assert all(swap["swap"]["mode"] == "zero-downtime" and swap["unavailable_seconds"] == 0.0 for swap in swaps)
    assert swaps[0]["swap"]["to_slot"] != swaps[1]["swap"]["to_slot"], "consecutive deploys alternate slots"
    assert rollback["outcome"] == "rolled-back" and rollback["rollback"]["unavailable_seconds"] == 0.0
    running = slot_containers(proxied)
    assert len(running) == 1, f"the old slot's container is removed after a swap: {running}"


def test_a_version_failing_its_gate_never_serves_a_request(proxied, tmp_path):
    serving = http_get(proxied.config.version_url)[1].strip()
    serving_slot = slot_containers(proxied)
    proxied.commit("zero-downtime: unhealthy", fault="unhealthy")
    with Prober(proxied.config.health_url) as prober:
        cli, record = deploy(proxied, tmp_path, "-p", "replace_timeout", "5")
    assert prober.failures == [], f"{len(prober.failures)} of {prober.sent}: {prober.failures[:5]}"
    assert record["outcome"] == "rolled-back" and "Replace the app container" in record["failed_step"], \
        cli.stdout[-3000:]
    assert "never served a request" in cli.stdout and "404" in cli.stdout, "the gate's reason and the app's log"
    assert record["rollback"]["unavailable_seconds"] == 0.0
    assert http_get(proxied.config.version_url)[1].strip() == serving
    assert slot_containers(proxied) == serving_slot, "the failed slot's container is gone, the serving one untouched"
    latest, previous = (droplet_docker(proxied, "image", "inspect", "--format", "{{.Id}}", f"hermes/admin:{tag}")
                        for tag in ("latest", "previous"))
    assert latest == previous, "latest points at what serves again, so a restart starts the good version"


def test_dry_run_shows_the_switch_and_changes_nothing(proxied, tmp_path):
    proxied.commit("zero-downtime: dry run")
    before = (slot_containers(proxied), http_get(proxied.config.version_url)[1])
    cli, record = deploy(proxied, tmp_path, "--dry-run")
    assert cli.returncode == 0, cli.stdout[-3000:]
    assert "docker run --detach --restart unless-stopped" in cli.stdout
    assert "state drain" in cli.stdout and "state ready" in cli.stdout
    assert (slot_containers(proxied), http_get(proxied.config.version_url)[1]) == before
