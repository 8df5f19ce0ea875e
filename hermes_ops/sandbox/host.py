"""Brings the sandbox production host up, reports on it, adds commits to its origin, and takes it down."""

from __future__ import annotations

import dataclasses
import json
import shlex
import shutil
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from hermes_ops.commands import docker as docker_commands
from hermes_ops.facts import app as app_facts
from hermes_ops.facts import containers as container_facts
from hermes_ops.facts import images as image_facts
from hermes_ops.sandbox import baseimage, droplet, engine, origin
from hermes_ops.sandbox.config import CONFIG_FILE, SandboxConfig
from hermes_ops.sandbox.local import SandboxError, run_local

STATE_FILE = "state.json"
PARAMS_FILE = "params.yaml"
ORIGIN_MOUNT = "/srv/origin.git"
MODE_LABEL = "io.hermes-ops.app-mode"  # on the droplet: supervisor | zero-downtime


def _log(message: str) -> None:
    print(f"[sandbox] {message}", file=sys.stderr, flush=True)


class SandboxHost:
    """One sandbox, named by its state directory. Every method is safe to repeat."""

    def __init__(self, config: SandboxConfig, log=_log):
        self.config = config
        self.log = log
        self.docker = engine.docker_cli()
        self._engine: engine.Engine | None = None

    # -- facts -------------------------------------------------------------------------------
    @property
    def state_dir(self) -> Path:
        return self.config.state_dir

    @property
    def params_path(self) -> Path:
        return self.state_dir / PARAMS_FILE

    def params(self) -> dict:
        """What a deploy needs to reach this host: the papermill parameters file's content."""
        keys = droplet.key_paths(self.config)
        return {
            "host": self.config.bind_address,
            "port": self.config.ssh_port,
            "user": self.config.user,
            "key_path": str(keys["operator"]),
            "known_hosts": str(keys["known_hosts"]),
            "use_agent": False,  # a rehearsal offers the sandbox key only, whatever your ssh-agent holds
            "expected_hostname": self.config.hostname,
            "admin_container": self.config.admin_container,
            "app_container": self.config.app_container,
            "image": self.config.image,
            "repo_dir": self.config.repo_dir,
            "branch": self.config.branch,
            "build_command": self.config.build_command,
            "health_url": self.config.health_url,
            "version_url": self.config.version_url,
            **({"zero_downtime": True, "app_slots": self.config.app_slots, "proxy_socket": self.config.proxy_socket,
                "proxy_backend": self.config.proxy_backend} if self.config.zero_downtime else {}),
        }

    def _docker(self, *args: str, timeout: float = 120, check: bool = True, what: str | None = None):
        return run_local([self.docker, *args], timeout=timeout, env=self.engine.env, check=check,
                         what=what or f"docker {args[0]}")

    @property
    def engine(self) -> engine.Engine:
        if self._engine is None:
            self._engine = engine.find_or_start(self.state_dir)
        return self._engine

    # -- up ------------------------------------------------------------------------------------
    def up(self) -> Path:
        """Build whatever is missing, start whatever is stopped, prove sshd and the app answer."""
        started = time.monotonic()
        self._claim_state_dir()
        self._refuse_taken_ports_before_building()
        self._write_state(phase="building")
        self.log(f"state directory {self.state_dir}")
        docker_engine = self.engine
        self.log(("using this sandbox's dockerd" if docker_engine.owned else "using the reachable engine")
                 + f" at {docker_engine.url}")
        base = baseimage.ensure(self.config.cache_dir, self.docker, docker_engine.env, self.config.debian_mirror,
                                self.log)
        self.log(base.describe())
        keys_reused = droplet.ensure_keys(self.config)
        origin_path, origin_reused = origin.ensure(self.state_dir, self.config.branch)
        self.log(f"origin {origin_path} ({'reused' if origin_reused else 'created'})")
        image_reused = self._ensure_admin_image(base.name)
        self._ensure_admin_container()
        self._ensure_droplet(base.name)
        self._wait_healthy()
        self.params_path.write_text(yaml.safe_dump(self.params(), sort_keys=False))
        self._write_state(phase="ready", reused={
            "rootfs_tarball": base.tarball_reused, "base_image": base.image_reused, "keys": keys_reused,
            "origin": origin_reused, "admin_image": image_reused,
        }, base_image=base.name, engine={"socket": str(docker_engine.socket), "owned": docker_engine.owned},
            up_seconds=round(time.monotonic() - started, 1))
        self.log(f"ready in {time.monotonic() - started:.1f}s: ssh -p {self.config.ssh_port} "
                 f"-i {droplet.key_paths(self.config)['operator']} {self.config.user}@{self.config.bind_address}")
        return self.params_path

    def _claim_state_dir(self) -> None:
        saved = self.state_dir / CONFIG_FILE
        if self.state_dir.exists() and any(self.state_dir.iterdir()) and not saved.exists():
            raise SandboxError(
                f"{self.state_dir} exists but was not made by `hermes-ops sandbox up` (no {CONFIG_FILE})",
                host="localhost", hint="move it away, or set HERMES_SANDBOX_DIR to another directory",
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps(self.config.to_json(), indent=2) + "\n")

    def _refuse_taken_ports_before_building(self) -> None:
        """Fail in a second, not after a minute of building, when a fresh sandbox's ports are taken."""
        if self._saved_state().get("phase") in ("ready", "building"):
            # An earlier `up` got this far (even one that failed later, e.g. an unhealthy app): the ports are
            # probably ours; _ensure_droplet checks again if the droplet is gone.
            return
        droplet.refuse_taken_port(self.config.bind_address, self.config.ssh_port, "the droplet's sshd",
                                  "HERMES_SANDBOX_SSH_PORT or --ssh-port")
        droplet.refuse_taken_port(self.config.bind_address, self.config.app_port, "the Hermes app",
                                  "HERMES_SANDBOX_APP_PORT or --app-port")

    def _saved_state(self) -> dict:
        try:
            return json.loads((self.state_dir / STATE_FILE).read_text())
        except (OSError, ValueError):
            return {}

    def _write_state(self, **facts) -> None:
        state = {**self._saved_state(), **facts}
        (self.state_dir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")

    def run_docker(self, argv: list[str], *, timeout: float = 120, check: bool = True, what: str | None = None):
        """Run a `hermes_ops.commands.docker` argument list against this sandbox's engine."""
        return self._docker(*argv[1:], timeout=timeout, check=check, what=what)

    @property
    def _labels(self) -> dict[str, str]:
        key, value = self.config.sandbox_label.split("=", 1)
        return {key: value}

    @property
    def labels(self) -> dict[str, str]:
        """The label every container of this sandbox carries (so `down` removes it): for the bastion."""
        return self._labels

    @property
    def base_image(self) -> str:
        """The base image `up` built or reused (the droplet's and the bastion's)."""
        name = self._saved_state().get("base_image")
        if not name:
            raise SandboxError("the sandbox has no base image yet", host="localhost",
                               hint="run `hermes-ops sandbox up` first")
        return name

    def authorize_key(self, public_key: str) -> None:
        """Let `public_key` (one authorized_keys line) log in as the droplet's user, like an admin registering it."""
        self._droplet_authorized_keys('grep -qxF -- "$1" "$2" || printf "%s\\n" "$1" >> "$2"', public_key)

    def revoke_key(self, public_key: str) -> None:
        """Remove `public_key` from the droplet user's authorized_keys again."""
        self._droplet_authorized_keys('grep -vxF -- "$1" "$2" > "$2.new" || true; cat "$2.new" > "$2"; rm -f "$2.new"',
                                      public_key)

    def reset_authorized_keys(self) -> None:
        """Back to what `up` installs: the sandbox operator's key alone (grants made since are gone)."""
        operator_key = Path(f"{droplet.key_paths(self.config)['operator']}.pub").read_text()
        self._droplet_authorized_keys('printf "%s\\n" "$1" > "$2"', operator_key)

    def _droplet_authorized_keys(self, script: str, public_key: str) -> None:
        line = " ".join(public_key.split())
        if not line or "\n" in public_key.strip():
            raise SandboxError("expected one public key line", host="localhost", hint="pass the .pub file's text")
        path = f"/home/{self.config.user}/.ssh/authorized_keys"
        self._docker("exec", self.config.droplet_container, "/bin/sh", "-c", script, "sh", line, path,
                     timeout=30, what="edit the droplet's authorized_keys")

    @property
    def _origin_volume(self) -> str:
        return f"{self.state_dir / 'origin.git'}:{ORIGIN_MOUNT}:ro"

    def _ensure_admin_image(self, base_image: str) -> bool:
        if droplet.image_id(self.docker, self.engine.env, self.config.image):
            return True
        self.log(f"building {self.config.image}: clone origin into {self.config.repo_dir} and run "
                 f"`{self.config.build_command}`")
        builder = f"{self.config.admin_container}-sandbox-build"
        self.run_docker(docker_commands.remove_container(builder), check=False)
        script = " && ".join((
            shlex.join(["git", "clone", "--quiet", "--branch", self.config.branch, f"file://{ORIGIN_MOUNT}",
                        self.config.repo_dir]),
            shlex.join(["cd", self.config.repo_dir]),
            shlex.join(shlex.split(self.config.build_command)),
        ))
        self.run_docker(docker_commands.run(base_image, name=builder, detach=False, labels=self._labels,
                                             volumes=[self._origin_volume], command=["/bin/sh", "-c", script]),
                         timeout=600, what="sample service build")
        self.run_docker(docker_commands.commit(builder, self.config.image, labels=self._labels))
        self.run_docker(docker_commands.remove_container(builder))
        return False

    def _ensure_admin_container(self) -> None:
        name = self.config.admin_container
        state = droplet.container_state(self.docker, self.engine.env, name)
        if state == "running":
            return
        if state is not None:
            self.log(f"starting stopped {name}")
            self.run_docker(docker_commands.start(name))
            return
        self.log(f"creating {name} from {self.config.image}")
        self.run_docker(docker_commands.run(self.config.image, name=name, labels=self._labels,
                                             volumes=[self._origin_volume], command=["sleep", "infinity"]))

    def _droplet_mode(self) -> str | None:
        answer = run_local([self.docker, "inspect", "--type", "container", "--format",
                            '{{index .Config.Labels "' + MODE_LABEL + '"}}', self.config.droplet_container],
                           timeout=30, env=self.engine.env, check=False)
        return answer.stdout.decode().strip() or None if answer.returncode == 0 else None

    def _ensure_droplet(self, base_image: str) -> None:
        name = self.config.droplet_container
        files = droplet.write_files(self.config)
        running = droplet.container_state(self.docker, self.engine.env, name) == "running"
        if running and (self._droplet_mode() or "supervisor") == self.config.mode:
            return
        self.run_docker(docker_commands.remove_container(name), check=False)
        self._remove_other_mode_apps()
        droplet.refuse_taken_port(self.config.bind_address, self.config.ssh_port, "the droplet's sshd",
                                  "HERMES_SANDBOX_SSH_PORT or --ssh-port")
        app_state = droplet.container_state(self.docker, self.engine.env, self.config.app_container)
        if app_state != "running":
            droplet.refuse_taken_port(self.config.bind_address, self.config.app_port, "the Hermes app",
                                      "HERMES_SANDBOX_APP_PORT or --app-port")
        self.log(f"starting droplet {name}: {self.config.user}@{self.config.hostname} on "
                 f"{self.config.bind_address}:{self.config.ssh_port}")
        self.log(f"app mode: {self.config.mode}")
        self.run_docker(docker_commands.run(
            base_image, name=name, network="host", hostname=self.config.hostname,
            labels={**self._labels, MODE_LABEL: self.config.mode},
            environment=droplet.droplet_environment(self.config),
            volumes=[f"{self.engine.socket}:/var/run/docker.sock", f"{files}:/opt/hermes-sandbox:ro",
                     f"{self.state_dir / 'logs'}:/var/log/hermes"],
            command=["/bin/sh", "/opt/hermes-sandbox/entrypoint.sh"]))
        droplet.wait_for_ssh_banner(self.config.bind_address, self.config.ssh_port)

    def _remove_other_mode_apps(self) -> None:
        """Switching modes (the droplet is gone, so no supervisor respawns anything): the other mode's app goes."""
        other = dataclasses.replace(self.config, zero_downtime=not self.config.zero_downtime)
        for container in other.app_containers:
            self.run_docker(docker_commands.remove_container(container), check=False)

    def _wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if http_get(self.config.health_url)[0] == 200:
                return
            time.sleep(0.3)
        raise SandboxError(f"the sandbox app did not answer {self.config.health_url} within {timeout:.0f}s",
                           host="localhost", hint=f"read {self.state_dir / 'logs' / 'supervisor.log'}")

    # -- status ----------------------------------------------------------------------------------
    def status(self) -> dict:
        """Facts about the sandbox without changing anything (it never starts an engine)."""
        if not (self.state_dir / CONFIG_FILE).exists():
            return {"state_dir": str(self.state_dir), "up": False}
        state = self._saved_state()
        facts = {"state_dir": str(self.state_dir), "phase": state.get("phase"), **self.params(),
                 "params_file": str(self.params_path), "origin": str(self.state_dir / "origin.git"),
                 "reused": state.get("reused", {}), "base_image": state.get("base_image"),
                 "engine": state.get("engine"), "up_seconds": state.get("up_seconds")}
        try:
            facts["origin_head"] = origin.head(self.state_dir, self.config.branch)
        except SandboxError:
            facts["origin_head"] = None
        containers = {}
        reachable = self._existing_engine()
        for name in (self.config.droplet_container, self.config.admin_container, *self.config.app_containers):
            state = droplet.container_state(self.docker, reachable.env, name) if reachable else None
            containers[name] = state.value if state else None  # plain words: `status` prints this dict
        facts["containers"] = containers
        health_code, _ = http_get(self.config.health_url)
        version_code, version = http_get(self.config.version_url)
        facts["healthy"] = health_code == 200
        facts["serving_version"] = app_facts.version.value(version, ok=version_code == 200)
        facts["up"] = facts["healthy"] and all(containers[name] == "running" for name in
                                               (self.config.droplet_container, self.config.admin_container)) \
            and any(containers[name] == "running" for name in self.config.app_containers)
        return facts

    def _existing_engine(self) -> engine.Engine | None:
        saved = self._saved_state().get("engine") or {}
        socket = Path(saved.get("socket", "/nonexistent"))
        return engine.Engine(socket, owned=bool(saved.get("owned"))) if socket.exists() else None

    # -- commit ------------------------------------------------------------------------------------
    def commit(self, message: str | None = None, fault: str | None = None) -> str:
        return origin.add_commit(self.state_dir, self.config.branch, message, fault)

    # -- down ----------------------------------------------------------------------------------
    def down(self) -> None:
        """Remove every container and image this sandbox made, stop its dockerd, delete the state dir."""
        if not self.state_dir.exists():
            self.log(f"nothing to remove: {self.state_dir} does not exist")
            return
        if not (self.state_dir / CONFIG_FILE).exists() and any(self.state_dir.iterdir()):
            raise SandboxError(f"refusing to delete {self.state_dir}: it was not made by `hermes-ops sandbox up`",
                               host="localhost", hint="remove it yourself if it is really unwanted")
        reachable = self._existing_engine()
        if reachable and not reachable.owned:
            self._remove_from_shared_engine(reachable)
        stopped = engine.stop_owned(self.state_dir)
        if stopped:
            self.log("stopped this sandbox's dockerd")
        shutil.rmtree(self.state_dir)
        self.log(f"removed {self.state_dir}")

    def _remove_from_shared_engine(self, reachable: engine.Engine) -> None:
        label_filter = f"label={self.config.sandbox_label}"
        run = lambda *args: run_local([self.docker, *args], timeout=120, env=reachable.env, check=False)  # noqa: E731
        # The droplet first: its supervisor would respawn the app. Slot containers a deploy started carry no
        # sandbox label: they go by name.
        run("rm", "--force", self.config.droplet_container)
        run("rm", "--force", *dataclasses.replace(self.config, zero_downtime=True).app_containers)
        names = droplet.read_fact(self.docker, reachable.env, container_facts.ids_matching, label_filter,
                                  timeout=120)
        if names:
            run("rm", "--force", *names)
        images = droplet.read_fact(self.docker, reachable.env, image_facts.ids_matching, label_filter,
                                   timeout=120)
        if images:
            run("rmi", "--force", *sorted(set(images)))


def http_get(url: str, timeout: float = 3) -> tuple[int | None, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, ""
    except (urllib.error.URLError, OSError):
        return None, ""
