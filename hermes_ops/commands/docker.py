"""Argument lists for the docker CLI. No I/O here: callers run them locally or over SSH."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence


def _labels(labels: Mapping[str, str] | None) -> list[str]:
    return [part for key, value in sorted((labels or {}).items()) for part in ("--label", f"{key}={value}")]


def run(
    image: str,
    *,
    name: str,
    command: Sequence[str] = (),
    detach: bool = True,
    remove_on_exit: bool = False,
    network: str = "none",
    hostname: str | None = None,
    volumes: Iterable[str] = (),
    environment: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    restart: str | None = None,
) -> list[str]:
    """`docker run`: network defaults to `none` because this project never needs a bridge.

    `restart` is a restart policy (`unless-stopped`: the engine respawns a crashed container and a
    `docker stop`ped one stays stopped), for containers no other supervisor looks after.
    """
    argv = ["docker", "run"]
    if detach:
        argv.append("--detach")
    if remove_on_exit:
        argv.append("--rm")
    if restart:
        argv += ["--restart", restart]
    argv += ["--name", name, "--network", network]
    if hostname:
        argv += ["--hostname", hostname]
    for volume in volumes:
        argv += ["--volume", volume]
    for key, value in sorted((environment or {}).items()):
        argv += ["--env", f"{key}={value}"]
    argv += _labels(labels)
    return argv + [image, *command]


def inspect_format(target: str, template: str, *, kind: str | None = None) -> list[str]:
    """`docker inspect --format`: the one way probes read container and image facts."""
    argv = ["docker", "inspect"]
    if kind:
        argv += ["--type", kind]
    return argv + ["--format", template, target]


def start(container: str) -> list[str]:
    return ["docker", "start", container]


def remove_container(container: str, *, force: bool = True) -> list[str]:
    return ["docker", "rm", *(["--force"] if force else []), container]


def log_tail(container: str, lines: int) -> list[str]:
    """The container's last `lines` lines of output (stdout and stderr both)."""
    return ["docker", "logs", "--tail", str(lines), container]


def remove_image(image: str) -> list[str]:
    return ["docker", "rmi", image]


def commit(container: str, image: str, *, labels: Mapping[str, str] | None = None, changes: Iterable[str] = ()) -> list[str]:
    """`docker commit` with labels written as `LABEL` changes (commit has no --label flag).

    Values are JSON-quoted: Dockerfile syntax reads `LABEL k="two words"` as one value.
    """
    argv = ["docker", "commit"]
    for key, value in sorted((labels or {}).items()):
        argv += ["--change", f"LABEL {key}={json.dumps(value)}"]
    for change in changes:
        argv += ["--change", change]
    return argv + [container, image]


def tag(source: str, target: str) -> list[str]:
    return ["docker", "tag", source, target]


def exec_in(container: str, command: Sequence[str], *, workdir: str | None = None,
            environment: Mapping[str, str] | None = None) -> list[str]:
    """`docker exec` without a TTY, so output and exit codes pass through unchanged."""
    argv = ["docker", "exec"]
    if workdir:
        argv += ["--workdir", workdir]
    for key, value in sorted((environment or {}).items()):
        argv += ["--env", f"{key}={value}"]
    return argv + [container, *command]


def import_tarball(path: str, image: str, *, changes: Iterable[str] = ()) -> list[str]:
    argv = ["docker", "import"]
    for change in changes:
        argv += ["--change", change]
    return argv + [path, image]


def server_version() -> list[str]:
    """The engine's version (`docker version` answers it only when the daemon does)."""
    return ["docker", "version", "--format", "{{.Server.Version}}"]


def daemon_version() -> list[str]:
    """`docker info`'s server version: exits non-zero, saying why on stderr, when the daemon is down."""
    return ["docker", "info", "--format", "{{.ServerVersion}}"]


def list_container_ids(filter_expression: str) -> list[str]:
    """The ids of every container (running or not) matching a `--filter` such as `label=k=v`."""
    return ["docker", "ps", "--all", "--quiet", "--filter", filter_expression]


def list_image_ids(filter_expression: str) -> list[str]:
    """The ids of the images matching a `--filter` such as `label=k=v` (an image tagged twice comes twice)."""
    return ["docker", "images", "--quiet", "--filter", filter_expression]


def list_repository_tags(repository: str) -> list[str]:
    """One line per tag of `repository`: tag, image id, creation time (for keeping the last N)."""
    return ["docker", "images", "--no-trunc", "--format", "{{.Tag}} {{.ID}} {{.CreatedAt}}", repository]
