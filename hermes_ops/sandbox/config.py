"""What the sandbox host looks like: names, ports and paths, all with production-shaped defaults."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

from hermes_ops import paths

CONFIG_FILE = "config.json"


@dataclass(frozen=True)
class SandboxConfig:
    """Everything that names a sandbox; written to `config.json` so later commands agree with `up`."""

    state_dir: Path = dataclasses.field(default_factory=paths.sandbox_state_dir)
    cache_dir: Path = dataclasses.field(default_factory=paths.cache_dir)  # base images outlive `down`
    bind_address: str = "127.0.0.1"
    ssh_port: int = 2222
    app_port: int = 8088
    hostname: str = "texasca2"
    user: str = "core"
    droplet_container: str = "hermes-droplet"
    admin_container: str = "hermes-admin"
    app_container: str = "hermes-app"
    image_repository: str = "hermes/admin"
    repo_dir: str = "/srv/hermes"
    branch: str = "main"
    build_command: str = "make"
    debian_mirror: str = "http://deb.debian.org/debian"
    zero_downtime: bool = False  # haproxy on app_port in front of two app slots, instead of the supervisor's one app
    proxy_socket: str = "/run/haproxy/admin.sock"
    proxy_backend: str = "hermes_app"

    @property
    def image(self) -> str:
        return f"{self.image_repository}:latest"

    @property
    def health_url(self) -> str:
        return f"http://{self.bind_address}:{self.app_port}/health"

    @property
    def version_url(self) -> str:
        return f"http://{self.bind_address}:{self.app_port}/version"

    @property
    def app_slots(self) -> str:
        """The zero-downtime slots, `name:port name:port`: the two ports after app_port + 2."""
        return f"blue:{self.app_port + 3} green:{self.app_port + 4}"

    @property
    def app_containers(self) -> tuple[str, ...]:
        """The app's containers in this mode: the supervisor's one, or the two zero-downtime slots."""
        if not self.zero_downtime:
            return (self.app_container,)
        return tuple(f"{self.app_container}-{slot.split(':')[0]}" for slot in self.app_slots.split())

    @property
    def mode(self) -> str:
        return "zero-downtime" if self.zero_downtime else "supervisor"

    @property
    def sandbox_label(self) -> str:
        """Docker label put on everything the sandbox creates, so `down` removes exactly that."""
        return f"io.hermes-ops.sandbox={self.state_dir}"

    def to_json(self) -> dict:
        data = dataclasses.asdict(self)
        data["state_dir"] = str(self.state_dir)
        data["cache_dir"] = str(self.cache_dir)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "SandboxConfig":
        known = {field.name for field in dataclasses.fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["state_dir"] = Path(values["state_dir"])
        values["cache_dir"] = Path(values["cache_dir"])
        return cls(**values)

    @classmethod
    def load_or_default(cls, state_dir: Path | None = None, **overrides) -> "SandboxConfig":
        """The config `up` saved in the state directory, else defaults (env, then overrides)."""
        state_dir = Path(state_dir).resolve() if state_dir else paths.sandbox_state_dir()
        saved = state_dir / CONFIG_FILE
        if saved.is_file():
            config = cls.from_json(json.loads(saved.read_text()))
            overrides = {key: value for key, value in overrides.items() if value is not None}
            return dataclasses.replace(config, **overrides) if overrides else config
        env_ports = {
            "ssh_port": os.environ.get("HERMES_SANDBOX_SSH_PORT"),
            "app_port": os.environ.get("HERMES_SANDBOX_APP_PORT"),
        }
        values = {key: int(value) for key, value in env_ports.items() if value}
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(state_dir=state_dir, **values)
