"""Production at a glance without a host: the judgements, the JSON, the text, and exactly which commands it runs."""

from __future__ import annotations

import datetime
import json
from types import SimpleNamespace

import pytest

from hermes_ops.commands import host as host_commands
from hermes_ops.errors import CommandFailed, HermesOpsError
from hermes_ops.facts import app, images
from hermes_ops.facts import host as host_facts
from hermes_ops.facts import lock as lock_facts
from hermes_ops.facts.lock import LockAnswer, LockState
from hermes_ops.glance import model, read
from hermes_ops.glance.render import render_images, render_status
from hermes_ops.params import DeployParameters
from hermes_ops.result import Result
from hermes_ops.runbook.serving import Serving
from tests.unit.batch_answers import answer_batch

COMMIT = "412353f2b94e4e1b2c3d4e5f60718293a4b5c6d7"
OLD_COMMIT = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
IMAGE = "sha256:" + "3c" * 32
OLD_IMAGE = "sha256:" + "9a" * 32
FIRST_IMAGE = "sha256:" + "11" * 32
LONG_HOST = "core@" + "a-very-long-production-host-name." * 3 + "example.org:2222"
DEPLOY_LINE = (f"2026-11-27T12:00:05Z kind=deploy run=20261127T115900Z-abc123 operator='Ann Smith' host=texasca2 "
               f"commit='{OLD_COMMIT[:12]}->{COMMIT[:12]}' image={IMAGE[7:19]} outcome=success "
               "reason='TICKET-123: what this ships'")
BROKEN_LINE = "2026-11-27T12:30:00Z kind=lock-broken operator=bob holder='run=x operator=y pid=3'"
HEALTHY = Serving(image=IMAGE, running=True, label_commit=COMMIT, version=COMMIT, healthy=True)


def production_status(**changes) -> model.ProductionStatus:
    values = dict(host="core@203.0.113.7:22", hostname="texasca2", expected_hostname="texasca2",
                  checked_at="2026-11-27T12:31:00Z", serving=HEALTHY,
                  image_tags=(f"hermes/admin:{COMMIT[:12]}", "hermes/admin:latest"),
                  health_url="http://127.0.0.1:8088/health", version_url="http://127.0.0.1:8088/version",
                  lock=model.LockInfo("free"), last_deploy=model.last_deploy(DEPLOY_LINE),
                  last_success=model.last_deploy(DEPLOY_LINE))
    return model.ProductionStatus(**{**values, **changes})


def kept(operator: str = "Ann Smith", reason: str = "TICKET-123: what this ships", host: str = "core@203.0.113.7:22"):
    labels = {images.COMMIT_LABEL: COMMIT, images.OPERATOR_LABEL: operator, images.REASON_LABEL: reason,
              images.DEPLOYED_AT_LABEL: "2026-11-27T12:00:00+00:00", images.RUN_ID_LABEL: "20261127T115900Z-abc123"}
    created = datetime.datetime(2026, 11, 27, 12, 0, 3, tzinfo=datetime.timezone.utc)
    row = images.DeployImage(COMMIT[:12], IMAGE, created, "2026-11-27 12:00:03 +0000 UTC")
    newest = model.kept_image("hermes/admin", IMAGE, [COMMIT[:12], "latest"], labels, row, serving_image=IMAGE)
    previous = model.kept_image("hermes/admin", FIRST_IMAGE, ["previous"], None, None, serving_image=IMAGE)
    return model.KeptImages(host=host, repository="hermes/admin", keep_images=5, images=(newest, previous))


# -- judgements ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer, expected", [
    (LockAnswer(LockState.FREE, "", "FREE"), model.LockInfo("free")),
    (LockAnswer(LockState.BUSY, "run=r1 operator='Ann Smith' commit=abc since=2026-11-27T12:00:00Z pid=42", "BUSY"),
     model.LockInfo("held", "run=r1 operator='Ann Smith' commit=abc since=2026-11-27T12:00:00Z pid=42",
                    {"run": "r1", "operator": "Ann Smith", "commit": "abc", "since": "2026-11-27T12:00:00Z",
                     "pid": "42"})),
    (LockAnswer(LockState.BUSY, "", "BUSY"), model.LockInfo("held", None, {})),
    (LockAnswer(None, "", "sh: flock: not found"), model.LockInfo("unknown", "sh: flock: not found")),
])
def test_the_lock_probe_answer_as_status_shows_it(answer, expected):
    assert model.lock_info(answer) == expected


def test_last_deploy_is_the_newest_deploy_or_rollback_line():
    rollback = DEPLOY_LINE.replace("kind=deploy", "kind=rollback").replace("12:00:05", "12:10:00")
    log = "\n".join([DEPLOY_LINE, rollback, BROKEN_LINE, "garbage that is no line", ""])
    found = model.last_deploy(log)
    assert found.line == rollback and found.fields["kind"] == "rollback"
    assert model.last_deploy(BROKEN_LINE) is None and model.last_deploy("") is None


def test_last_success_passes_over_runs_that_put_nothing_into_service():
    refused = DEPLOY_LINE.replace("outcome=success", "outcome=failed").replace("12:00:05", "12:20:00")
    dry = DEPLOY_LINE.replace("outcome=success", "outcome=dry-run").replace("12:00:05", "12:25:00")
    rolled_back_deploy = DEPLOY_LINE.replace("outcome=success", "outcome=rolled-back")
    log = "\n".join([DEPLOY_LINE, refused, dry, BROKEN_LINE])
    assert model.last_deploy(log).line == dry
    assert model.last_deploy(log, succeeded=True).line == DEPLOY_LINE
    rollback = DEPLOY_LINE.replace("kind=deploy", "kind=rollback").replace("outcome=success", "outcome=rolled-back")
    assert model.last_deploy("\n".join([DEPLOY_LINE, rollback, refused]), succeeded=True).line == rollback
    assert model.last_deploy(rolled_back_deploy, succeeded=True) is None


def test_last_deploy_reads_the_old_host_log_format_too():
    found = model.last_deploy("[2026-01-02T03:04:05Z] [alice] deploy run=r0 outcome=success reason='old style'")
    assert found.to_json()["operator"] == "alice" and found.fields["reason"] == "old style"


@pytest.mark.parametrize("changes, problems", [
    ({}, ()),
    ({"hostname": "other"}, ("the host calls itself 'other', not 'texasca2'",)),
    ({"serving": Serving(image=None, running=False, label_commit=None, version=None, healthy=False)},
     ("no app container", "http://127.0.0.1:8088/health did not answer 200",
      "http://127.0.0.1:8088/version did not report a commit")),
    ({"serving": Serving(image=IMAGE, running=True, label_commit=OLD_COMMIT, version=COMMIT, healthy=True)},
     (f"the image's io.hermes.commit label says {OLD_COMMIT}, http://127.0.0.1:8088/version says {COMMIT}",)),
    ({"serving": Serving(image=IMAGE, running=False, label_commit=COMMIT, version=None, healthy=False)},
     ("the app container is not running", "http://127.0.0.1:8088/health did not answer 200",
      "http://127.0.0.1:8088/version did not report a commit")),
    ({"lock": model.LockInfo("unknown", "???")}, ("the lock probe gave an answer this version does not understand",)),
])
def test_problems_name_everything_a_finished_deploy_would_not_leave(changes, problems):
    assert production_status(**changes).problems == problems


def test_tags_by_image_groups_commit_tags_then_the_named_ones():
    listed = images.parse_deploy_images(f"{COMMIT[:12]} {IMAGE} 2026-11-27 12:00:00 +0000 UTC\n"
                                        f"{OLD_COMMIT[:12]} {OLD_IMAGE} 2026-11-26 12:00:00 +0000 UTC\n")
    grouped = model.tags_by_image(listed, {"latest": IMAGE, "previous": FIRST_IMAGE})
    assert list(grouped.items()) == [(IMAGE, [COMMIT[:12], "latest"]), (OLD_IMAGE, [OLD_COMMIT[:12]]),
                                     (FIRST_IMAGE, ["previous"])]
    assert model.tags_by_image((), {"latest": None, "previous": None}) == {}


# -- JSON ---------------------------------------------------------------------------------------------

def test_status_json_has_the_documented_keys():
    shown = json.loads(json.dumps(production_status(lock=model.lock_info(
        LockAnswer(LockState.BUSY, "run=r1 operator=ann since=2026-11-27T12:00:00Z pid=42", "BUSY")))
        .to_json()))
    assert list(shown) == ["host", "hostname", "expected_hostname", "checked_at", "healthy", "serving", "lock",
                           "last_deploy", "last_success", "problems"]
    assert shown["last_success"] == shown["last_deploy"]
    assert set(shown["serving"]) == {"image", "running", "label_commit", "version", "healthy", "commit",
                                     "image_tags", "health_url", "version_url"}
    assert shown["lock"] == {"state": "held", "holder": "run=r1 operator=ann since=2026-11-27T12:00:00Z pid=42",
                             "run": "r1", "operator": "ann", "commit": None, "since": "2026-11-27T12:00:00Z",
                             "pid": "42"}
    assert shown["last_deploy"] == {"time": "2026-11-27T12:00:05Z", "kind": "deploy", "run": "20261127T115900Z-abc123",
                                    "operator": "Ann Smith", "host": "texasca2",
                                    "commit": f"{OLD_COMMIT[:12]}->{COMMIT[:12]}", "image": IMAGE[7:19],
                                    "outcome": "success", "reason": "TICKET-123: what this ships",
                                    "line": DEPLOY_LINE}
    assert shown["healthy"] is True and shown["problems"] == [] and shown["serving"]["commit"] == COMMIT


def test_status_json_without_a_last_deploy():
    shown = production_status(last_deploy=None, last_success=None).to_json()
    assert shown["last_deploy"] is None and shown["last_success"] is None


def test_images_json_has_the_documented_keys():
    shown = json.loads(json.dumps(kept().to_json()))
    assert list(shown) == ["host", "repository", "keep_images", "images"]
    assert shown["images"][0] == {
        "reference": f"hermes/admin:{COMMIT[:12]}", "image_id": IMAGE, "tags": [COMMIT[:12], "latest"],
        "created": "2026-11-27T12:00:03+00:00", "commit": COMMIT, "operator": "Ann Smith",
        "deployed_at": "2026-11-27T12:00:00+00:00", "reason": "TICKET-123: what this ships",
        "run_id": "20261127T115900Z-abc123", "roles": ["serving", "latest"]}
    assert shown["images"][1]["commit"] is None and shown["images"][1]["roles"] == ["previous"]
    assert len(kept()) == 2 and [image.reference for image in kept()][1] == "hermes/admin:previous"


# -- text ---------------------------------------------------------------------------------------------

def test_status_text():
    assert render_status(production_status()) == "\n".join([
        "host         core@203.0.113.7:22 (hostname texasca2)",
        f"serving      {COMMIT}",
        f"image        3c3c3c3c3c3c  hermes/admin:{COMMIT[:12]}, hermes/admin:latest",
        "health       healthy: http://127.0.0.1:8088/health answers 200",
        "lock         free",
        f"last deploy  2026-11-27T12:00:05Z deploy success by Ann Smith, commit {OLD_COMMIT[:12]}->{COMMIT[:12]}, "
        f"image {IMAGE[7:19]}, run 20261127T115900Z-abc123",
        "             reason: TICKET-123: what this ships",
        "checked      2026-11-27T12:31:00Z",
    ])


def test_status_text_adds_the_last_success_when_the_last_deploy_failed():
    failed = DEPLOY_LINE.replace("outcome=success", "outcome=failed").replace("12:00:05", "12:20:00")
    text = render_status(production_status(last_deploy=model.last_deploy(failed)))
    assert "last deploy  2026-11-27T12:20:00Z deploy failed by Ann Smith" in text
    assert "last success 2026-11-27T12:00:05Z deploy success by Ann Smith" in text


def test_status_text_never_cuts_the_host_and_shows_what_is_wrong():
    text = render_status(production_status(
        host=LONG_HOST, serving=Serving(image=None, running=False, label_commit=None, version=None, healthy=False),
        last_deploy=None, last_success=None))
    assert f"host         {LONG_HOST} (hostname texasca2)" in text.splitlines()
    assert "serving      nothing: no app container" in text
    assert "health       NOT healthy: http://127.0.0.1:8088/health did not answer 200" in text
    assert "last deploy  none in the host log's last 200 lines" in text
    assert "last success" not in text
    assert "problem      no app container" in text


def test_status_text_neutralises_what_the_host_says():
    holder = "run=r1 operator='\x1b]0;pwned\x07' pid=4\nFAKE line"
    text = render_status(production_status(lock=model.LockInfo("held", holder, {}),
                                           last_deploy=model.last_deploy(DEPLOY_LINE.replace(
                                               "TICKET-123", "\x1b[2J\x1b[HTICKET"))))
    assert "\x1b" not in text and "\x07" not in text
    assert "lock         held by run=r1 operator='\\x1b]0;pwned\\x07' pid=4\\nFAKE line" in text
    assert "reason: \\x1b[2J\\x1b[HTICKET" in text


def test_images_text_is_a_table_with_nothing_cut():
    operator = "Someone With A Really Quite Long Name From The Operations Team"
    lines = render_images(kept(operator=operator, host=LONG_HOST), "production.yaml").splitlines()
    assert lines[0] == (f"hermes/admin on {LONG_HOST}: 2 image(s) kept for rollback "
                        "(a successful deploy keeps the newest 5)")
    header, newest, previous = lines[1:4]
    assert header.split() == ["IMAGE", "COMMIT", "DEPLOYED", "OPERATOR", "ROLE", "REASON"]
    assert newest.startswith(f"hermes/admin:{COMMIT[:12]}  {COMMIT[:12]}  2026-11-27T12:00:00+00:00  {operator}  "
                             "serving, latest  TICKET-123: what this ships")
    assert previous.split() == ["hermes/admin:previous", "-", "-", "-", "previous", "-"]
    assert [line.index("ROLE") if "ROLE" in line else line.index("serving") for line in (header, newest)] == \
        [header.index("ROLE")] * 2, "columns line up"
    assert lines[4] == "roll back to one: hermes-ops rollback -f production.yaml --to IMAGE"


def test_images_text_neutralises_labels_and_says_when_there_are_none():
    text = render_images(kept(reason="fix\x1b[8m hidden\nsecond line"))
    assert "\x1b" not in text and "fix hidden\\nsecond line" in text  # colour codes dropped, newline shown
    empty = model.KeptImages(host="core@203.0.113.7:22", repository="hermes/admin", keep_images=5, images=())
    assert render_images(empty) == ("hermes/admin on core@203.0.113.7:22: 0 image(s) kept for rollback "
                                    "(a successful deploy keeps the newest 5)")


# -- reading: exactly the facts' commands, each bounded, nothing else ---------------------------------

class AnsweringRunner:
    """Answers exactly the commands it knows (the facts' read-only ones); any other command fails the test."""

    target = SimpleNamespace(display="core@203.0.113.7:22")

    def __init__(self, answers: dict[tuple, tuple[int, str]]):
        self.answers = answers
        self.calls: list[tuple[tuple, float | None]] = []

    def run(self, argv, *, timeout=None, check=True):
        # A batch of facts (one command on the host): each of its parts must be one glance may run.
        batch = answer_batch(argv, lambda part: self._answer(part, timeout))
        exit_code, stdout = batch if batch is not None else self._answer(argv, timeout)
        now = datetime.datetime.now(datetime.timezone.utc)
        result = Result(host=self.target.display, command=" ".join(argv), exit_code=exit_code, stdout=stdout,
                        stderr="" if exit_code == 0 else "Cannot connect to the Docker daemon", started_at=now,
                        ended_at=now, duration=0.0)
        if check and exit_code != 0:
            raise CommandFailed(f"command exited {exit_code}", result=result)
        return result

    def _answer(self, argv, timeout) -> tuple[int, str]:
        key = tuple(argv)
        assert key in self.answers, f"a command glance must not run: {argv}"
        self.calls.append((key, timeout))
        return self.answers[key]


PARAMS = DeployParameters(command_timeout=42.0, health_url="http://127.0.0.1:8088/health",
                          version_url="http://127.0.0.1:8088/version")


def answers(docker_exit: int = 0) -> dict[tuple, tuple[int, str]]:
    listing = (f"{COMMIT[:12]} {IMAGE} 2026-11-27 12:00:03 +0000 UTC\nlatest {IMAGE} 2026-11-27 12:00:03 +0000 UTC\n"
               f"previous {FIRST_IMAGE} 2026-11-20 08:00:00 +0000 UTC\n")
    labels = json.dumps({images.COMMIT_LABEL: COMMIT, images.OPERATOR_LABEL: "Ann Smith"})
    return {
        tuple(host_facts.hostname.command()): (0, "texasca2\n"),
        tuple(host_facts.docker_version.command()): (docker_exit, "24.0.5\n" if docker_exit == 0 else ""),
        tuple(app.container.command("hermes-app")): (0, f"{IMAGE}|true|{COMMIT}\n"),
        tuple(app.health.command(PARAMS.health_url)): (0, "200"),
        tuple(app.version.command(PARAMS.version_url)): (0, f"{COMMIT}\n"),
        tuple(images.deploy_images.command("hermes/admin")): (docker_exit, listing if docker_exit == 0 else ""),
        tuple(images.image_id.command("hermes/admin:latest")): (0, f"{IMAGE}\n"),
        tuple(images.image_id.command("hermes/admin:previous")): (0, f"{FIRST_IMAGE}\n"),
        tuple(images.labels.command(IMAGE)): (0, labels + "\n"),
        tuple(images.labels.command(FIRST_IMAGE)): (0, "null\n"),
        tuple(lock_facts.probe.command()): (0, "FREE\n"),
        tuple(host_commands.read_audit_log(model.HOST_LOG_LINES)): (0, DEPLOY_LINE + "\n" + BROKEN_LINE + "\n"),
    }


def test_status_runs_only_probes_each_bounded_by_the_command_timeout():
    runner = AnsweringRunner(answers())
    status = read.read_status(read.ReadOnlyHost(runner, PARAMS, "status"))
    assert status.serving == HEALTHY and status.hostname == "texasca2" and status.host == "core@203.0.113.7:22"
    assert status.image_tags == (f"hermes/admin:{COMMIT[:12]}", "hermes/admin:latest")
    assert status.lock == model.LockInfo("free") and status.last_deploy.line == DEPLOY_LINE
    assert [argv[0] for argv, _ in runner.calls] == ["hostname", "docker", "docker", "curl", "curl", "docker",
                                                     "docker", "docker", "sh", "sh"]
    assert {timeout for _, timeout in runner.calls} == {42.0}


def test_images_run_only_probes_and_carry_the_labels():
    runner = AnsweringRunner(answers())
    kept_images = read.read_kept_images(read.ReadOnlyHost(runner, PARAMS, "images"))
    assert [(image.reference, image.tags, image.roles) for image in kept_images] == [
        (f"hermes/admin:{COMMIT[:12]}", (COMMIT[:12], "latest"), ("serving", "latest")),
        ("hermes/admin:previous", ("previous",), ("previous",))]
    newest = kept_images.images[0]
    assert (newest.commit, newest.operator, newest.created) == (COMMIT, "Ann Smith", "2026-11-27T12:00:03+00:00")
    assert {timeout for _, timeout in runner.calls} == {42.0}


@pytest.mark.parametrize("reader, step", [(read.read_status, "status"), (read.read_kept_images, "images")])
def test_docker_not_answering_means_the_host_cannot_be_read(reader, step):
    with pytest.raises(read.HostUnreadable) as raised:
        reader(read.ReadOnlyHost(AnsweringRunner(answers(docker_exit=1)), PARAMS, step))
    assert raised.value.step == step and raised.value.host == "core@203.0.113.7:22"
    assert "docker version" in raised.value.hint


def test_the_read_only_host_refuses_a_mutating_command():
    runner = AnsweringRunner(answers())
    with pytest.raises(HermesOpsError, match="refusing a command that changes the host"):
        read.ReadOnlyHost(runner, PARAMS, "status").run(["docker", "rm", "-f", "hermes-app"], mutating=True)
    assert runner.calls == []


# -- the CLI's contract, up to the point it would connect ------------------------------------------------

def test_the_cli_refuses_bad_parameters_with_exit_2_before_connecting(tmp_path, capsys):
    import argparse
    from pathlib import Path

    from hermes_ops.cli import glance as glance_cli

    parser = argparse.ArgumentParser(prog="hermes-ops")
    params = argparse.ArgumentParser(add_help=False)
    params.add_argument("-f", "--params-file", type=Path, default=None)
    params.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"))
    glance_cli.add_commands(parser.add_subparsers(dest="command", required=True), params,
                            overrides=lambda args: list(args.parameter or []))
    for command in ("status", "images"):
        args = parser.parse_args([command, "--json", "-f", str(tmp_path / "missing.yaml")])
        assert args.json is True
        assert args.handler(args) == 2
        out, err = capsys.readouterr()
        assert out == "" and "[step parameters]" in err and "missing.yaml" in err
