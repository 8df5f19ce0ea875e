"""Reading production at a glance: one verified SSH connection, read-only probes only, each bounded.

Every command run here is a fact's (`hermes_ops.facts`) or the host log's tail, run through
`ReadOnlyHost.run` with the parameters' `command_timeout`; nothing is built here, so nothing here
can change the host. The deploy lock is probed (`facts.lock.probe`: a non-blocking `flock`
released at once), never held. What serves is read exactly as the runbook reads it
(`runbook.serving.read`: the app container, then health and version with curl on the host).
"""

from __future__ import annotations

from pathlib import Path

from hermes_ops.errors import CommandError, HermesOpsError
from hermes_ops.facts import Fact, images
from hermes_ops.facts import host as host_facts
from hermes_ops.glance import model
from hermes_ops.params import DeployParameters
from hermes_ops.runbook import hostlog, serving
from hermes_ops.runbook.journal import utc_now

# The named tags of the deploy repository that matter for a rollback, besides the commit tags.
NAMED_TAGS = ("latest", "previous")


class HostUnreadable(HermesOpsError):
    """The host answered over SSH, but a probe that must answer did not (e.g. docker is down)."""


class ReadOnlyHost:
    """What `serving.read` needs of a deploy (`params`, `run`), over a plain runner; refuses any change.

    Args:
        runner: an open `SSHRunner` (or anything with its `run`).
        params: the resolved parameters; `command_timeout` bounds every command.
        step: named in errors ("status" or "images").
    """

    def __init__(self, runner, params: DeployParameters, step: str):
        self.runner = runner
        self.params = params
        self.step = step

    def run(self, argv, *, check: bool = True, quiet: bool = False, timeout: float | None = None,
            mutating: bool = False):
        if mutating:  # no fact is mutating; a future caller that passes it gets a refusal, not a change
            raise HermesOpsError("refusing a command that changes the host in a read-only command",
                                 step=self.step, hint="this is a bug in hermes-ops: report it")
        return self.runner.run(argv, timeout=timeout or self.params.command_timeout, check=check)

    def must_read(self, fact: Fact, *arguments):
        """A fact whose command must succeed: a failure means the host cannot be read, not that nothing is there."""
        try:
            return fact.read(self.run, *arguments)
        except CommandError as error:
            raise HostUnreadable(f"could not read the {fact.name}: {error.message}", host=error.host, step=self.step,
                                 hint=f"check that docker answers on the host for {self.params.user} "
                                      "(`docker version`), then run this again") from error

    def may_read(self, fact: Fact, *arguments):
        """A fact whose command may fail because the thing is absent (its `when_failed` value then)."""
        return fact.read(self.run, *arguments, check=False)


def status(params_file: Path | None, overrides=()) -> model.ProductionStatus:
    """What serves on the parameters' host, its health, the deploy lock and the host log's last run.

    Raises:
        ConfigError: a parameter is refused (step "parameters"); nothing was connected to.
        HermesOpsError: the host could not be reached or read (connection, host key, docker down).
    """
    params, session = hostlog.open_session(params_file, overrides)
    with session as runner:
        return read_status(ReadOnlyHost(runner, params, "status"))


def kept_images(params_file: Path | None, overrides=()) -> model.KeptImages:
    """The deploy images kept on the parameters' host for a rollback, newest first, with their labels.

    Raises: as `status`.
    """
    params, session = hostlog.open_session(params_file, overrides)
    with session as runner:
        return read_kept_images(ReadOnlyHost(runner, params, "images"))


def read_status(host: ReadOnlyHost) -> model.ProductionStatus:
    """`status` through an open connection."""
    params = host.params
    hostname = host.must_read(host_facts.hostname)
    host.must_read(host_facts.docker_version)  # docker must answer, or "no app container" would be a guess
    now = serving.read(host)
    tags = _tags_by_image(host).get(now.image or "", [])
    log = hostlog.host_log(host, params, model.HOST_LOG_LINES)
    return model.ProductionStatus(
        host=host.runner.target.display, hostname=hostname, expected_hostname=params.expected_hostname,
        checked_at=utc_now().strftime("%Y-%m-%dT%H:%M:%SZ"), serving=now,
        image_tags=tuple(f"{params.image_repository}:{tag}" for tag in tags),
        health_url=params.health_url, version_url=params.version_url,
        lock=model.lock_info(hostlog.lock_answer(host, params)),
        last_deploy=model.last_deploy(log), last_success=model.last_deploy(log, succeeded=True))


def read_kept_images(host: ReadOnlyHost) -> model.KeptImages:
    """`kept_images` through an open connection."""
    params = host.params
    repository = params.image_repository
    listed = host.must_read(images.deploy_images, repository)
    rows = {image.image_id: image for image in reversed(listed)}  # the newest row of an image id wins
    serving_image = serving.read(host).image  # the app container, or the slot users reach (zero_downtime)
    kept = []
    for image_id, tags in _tags_by_image(host, listed).items():
        labels = host.may_read(images.labels, image_id)
        kept.append(model.kept_image(repository, image_id, tags, labels, rows.get(image_id),
                                     serving_image))
    return model.KeptImages(host=host.runner.target.display, repository=repository,
                            keep_images=params.keep_images, images=tuple(kept))


def _tags_by_image(host: ReadOnlyHost, listed=None) -> dict[str, list[str]]:
    repository = host.params.image_repository
    if listed is None:
        listed = host.must_read(images.deploy_images, repository)
    named = {tag: host.may_read(images.image_id, f"{repository}:{tag}") for tag in NAMED_TAGS}
    return model.tags_by_image(listed, named)
