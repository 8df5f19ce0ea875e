"""Builds the sandbox's Debian base image offline: debootstrap once, cache the tarball, `docker import` it.

No registry is reachable, so images cannot be pulled. One rootfs serves both the droplet
(sshd, docker client) and the Hermes admin image (git, make, python3 for the sample service).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hermes_ops.commands import docker as docker_commands
from hermes_ops.sandbox.local import SandboxError, run_local

SUITE = "bookworm"
PACKAGES = (
    "ca-certificates", "curl", "docker.io", "git", "haproxy", "make", "openssh-server", "procps", "python3", "socat",
)


def recipe_id() -> str:
    """Changes whenever what goes into the rootfs changes, so a stale cache is never reused."""
    return hashlib.sha256(f"{SUITE} minbase {' '.join(PACKAGES)}".encode()).hexdigest()[:12]


@dataclass(frozen=True)
class BaseImage:
    name: str
    tarball: Path
    tarball_reused: bool
    image_reused: bool

    def describe(self) -> str:
        tarball = "reused cached rootfs" if self.tarball_reused else "built rootfs with debootstrap"
        image = "reused image" if self.image_reused else "imported image"
        return f"{self.name}: {tarball} {self.tarball}; {image}"


def ensure(cache_dir: Path, docker: str, env: dict[str, str], mirror: str, log) -> BaseImage:
    name = f"hermes-sandbox/base:{SUITE}-{recipe_id()}"
    tarball = cache_dir / f"rootfs-{SUITE}-{recipe_id()}.tar"
    tarball_reused = tarball.is_file()
    if not tarball_reused:
        _debootstrap(cache_dir, tarball, mirror, log)
    present = run_local([docker, "image", "inspect", name], timeout=60, env=env, check=False).returncode == 0
    if not present:
        log(f"importing {tarball.name} as {name}")
        argv = docker_commands.import_tarball(str(tarball), name, changes=['CMD ["/bin/bash"]'])
        run_local([docker, *argv[1:]], timeout=600, env=env, what="docker import")
    return BaseImage(name, tarball, tarball_reused, present)


def _debootstrap(cache_dir: Path, tarball: Path, mirror: str, log) -> None:
    if os.geteuid() != 0:
        raise SandboxError("building the base image needs root (debootstrap)", host="localhost",
                           hint="run as root once; later runs reuse the cached tarball")
    if not shutil.which("debootstrap"):
        raise SandboxError("debootstrap is not installed", host="localhost",
                           hint="run the README's set-up command (apt-get install debootstrap)")
    cache_dir.mkdir(parents=True, exist_ok=True)
    rootfs = cache_dir / f"rootfs-{recipe_id()}.building"
    shutil.rmtree(rootfs, ignore_errors=True)
    log(f"debootstrap {SUITE} (minbase + {len(PACKAGES)} packages) from {mirror}: about a minute, once")
    run_local(
        ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(rootfs), mirror],
        timeout=1800, what="debootstrap",
        hint="check that the Debian mirror is reachable (HERMES_DEBIAN_MIRROR overrides it)",
    )
    partial = tarball.with_suffix(".tar.partial")
    with open(partial, "wb") as out:
        subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=out, check=True, timeout=600)
    partial.rename(tarball)
    shutil.rmtree(rootfs, ignore_errors=True)
