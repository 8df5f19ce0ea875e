"""How hermes-ops starts the kernels that run runbooks: over IPC sockets in a private folder, never TCP.

By default Jupyter kernels listen on TCP ports of 127.0.0.1, unencrypted, so any local user can
talk to a kernel that holds an SSH session to production (and ipykernel warns about it on every
run). With IPC transport the kernel's sockets are files; `KernelManager.ip` names them, and left
to its default it is a relative path, resolved against the kernel's working directory (the
runbooks' folder) while jupyter_client cleans up against its own: the sockets would be left
beside the runbooks. So each run (or JupyterLab server) gets a fresh private folder (mode 0700,
short enough for a socket path), removed when it ends.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def socket_folder() -> Iterator[Path]:
    """A private folder for one run's (or one server's) kernel sockets, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="hermes-kernel-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def kernel_config(folder: Path):
    """traitlets config for papermill's `config=`: IPC sockets named `<folder>/kernel-N`."""
    from traitlets.config import Config

    config = Config()
    config.KernelManager.transport = "ipc"
    config.KernelManager.ip = str(folder / "kernel")
    return config


def jupyter_arguments(folder: Path) -> list[str]:
    """The same for a JupyterLab command line (every kernel of the server: `kernel-N` numbers differ)."""
    return ["--KernelManager.transport=ipc", f"--KernelManager.ip={folder / 'kernel'}"]
