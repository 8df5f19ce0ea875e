"""App facts: its container (image, running, commit label), health status, version, log tail."""

from __future__ import annotations

import pytest

from hermes_ops.facts import app
from hermes_ops.facts.app import AppContainer
from tests.unit.batch_answers import answer_batch

IMAGE = "sha256:" + "a" * 64
COMMIT = "412353f2b94e6425dbcf582145595d61a3d29f51"


def test_commands_are_the_runbooks():
    assert app.container.command("hermes-app") == [
        "docker", "inspect", "--type", "container", "--format",
        '{{.Image}}|{{.State.Running}}|{{index .Config.Labels "io.hermes.commit"}}', "hermes-app"]
    assert app.health.command("http://127.0.0.1:8088/health") == [
        "curl", "--silent", "--output", "/dev/null", "--write-out", "%{http_code}", "--max-time", "5",
        "http://127.0.0.1:8088/health"]
    assert app.version.command("http://127.0.0.1:8088/version") == [
        "curl", "--silent", "--show-error", "--fail", "--max-time", "5", "http://127.0.0.1:8088/version"]
    assert app.log_tail.command(("journalctl", "-u", "hermes-app")) == ["journalctl", "-u", "hermes-app"]


@pytest.mark.parametrize("output, ok, expected", [
    (f"{IMAGE}|true|{COMMIT}\n", True, AppContainer(IMAGE, True, COMMIT)),
    (f"{IMAGE}|false|{COMMIT}\r\n", True, AppContainer(IMAGE, False, COMMIT)),
    (f"{IMAGE}|true|<no value>\n", True, AppContainer(IMAGE, True, None)),      # an image from before labels
    (f"{IMAGE}|true|\n", True, AppContainer(IMAGE, True, None)),
    (f"{IMAGE}|true| {COMMIT} \n", True, AppContainer(IMAGE, True, COMMIT)),
    (f"{IMAGE}|true|a|b\n", True, AppContainer(IMAGE, True, "a|b")),            # a label holding the separator
    (f"{IMAGE}|<no value>|<no value>\n", True, AppContainer(IMAGE, False, None)),
    ("|true|x\n", True, None),
    (f"{IMAGE} true\n", True, None),
    ("", True, None),
    ("Error: No such container: hermes-app\n", False, None),
])
def test_container(output, ok, expected):
    assert app.container.value(output, ok=ok) == expected
    if ok:
        assert app.parse_container(output) == expected


@pytest.mark.parametrize("output, ok, expected", [
    ("200", True, 200),
    ("200\r\n", True, 200),
    ("503", True, 503),
    ("000", True, None),            # nothing answered
    ("000", False, None),           # curl's timeout exits 28 and still prints 000
    ("", False, None),
    ("curl: (6) Could not resolve host", False, None),
])
def test_health(output, ok, expected):
    assert app.health.value(output, ok=ok) == expected


@pytest.mark.parametrize("output, ok, expected", [
    (f"{COMMIT}\n", True, COMMIT),
    (f"  {COMMIT}\r\n", True, COMMIT),
    ("<html>oops</html>", True, "<html>oops</html>"),   # judged later (runbook.serving), not here
    ("", True, None),
    ("\n", True, None),
    ("", False, None),              # --fail: an HTTP error prints nothing
    ("partial", False, None),       # cut off by --max-time
])
def test_version(output, ok, expected):
    assert app.version.value(output, ok=ok) == expected


def test_log_tail_keeps_the_last_lines():
    output = "".join(f"line {number}\n" for number in range(1, 31))
    assert app.log_tail.value(output) == tuple(f"line {number}" for number in range(11, 31))


@pytest.mark.parametrize("output, ok, expected", [
    ("hermes-app: crashed on start\n", False, ("hermes-app: crashed on start",)),  # exit code does not matter
    ("one\r\ntwo\r\n", True, ("one", "two")),
    ("\n\n  \n", True, ()),
    ("", True, ()),
])
def test_log_tail(output, ok, expected):
    assert app.log_tail.value(output, ok=ok) == expected


class FakeDeploy:
    """Answers the serving probes (one batch of them) from canned outputs; records how each was run."""

    def __init__(self, answers: dict[str, tuple[bool, str]]):
        self.params = type("Params", (), {"app_container": "hermes-app", "health_url": "http://h/health",
                                          "version_url": "http://h/version", "zero_downtime": False})()
        self.answers = answers
        self.calls = []
        self.batches = []

    def _part(self, argv):
        self.calls.append((argv[0], argv[-1]))
        ok, stdout = self.answers[argv[-1]]
        return (0 if ok else 1), stdout

    def run(self, argv, **options):
        self.batches.append(options)
        status, stdout = answer_batch(argv, self._part)
        return type("Answer", (), {"ok": status == 0, "stdout": stdout})()


@pytest.mark.parametrize("answers, expected", [
    ({"hermes-app": (True, f"{IMAGE}|true|{COMMIT}\n"), "http://h/health": (True, "200"),
      "http://h/version": (True, f"{COMMIT}\n")},
     dict(image=IMAGE, running=True, label_commit=COMMIT, version=COMMIT, healthy=True)),
    ({"hermes-app": (False, ""), "http://h/health": (False, "000"), "http://h/version": (False, "")},
     dict(image=None, running=False, label_commit=None, version=None, healthy=False)),
    ({"hermes-app": (True, f"{IMAGE}|true|<no value>\n"), "http://h/health": (True, "503"),
      "http://h/version": (True, "x" * 500)},
     dict(image=IMAGE, running=True, label_commit=None, version="x" * 200, healthy=False)),
])
def test_what_serves_is_composed_of_the_app_facts(answers, expected):
    from hermes_ops.runbook import serving

    deploy = FakeDeploy(answers)
    assert serving.read(deploy) == serving.Serving(**expected)
    assert deploy.calls == [("docker", "hermes-app"), ("curl", "http://h/health"), ("curl", "http://h/version")]
    assert deploy.batches == [{"check": False, "quiet": True}], "one command on the host, a quiet probe"
