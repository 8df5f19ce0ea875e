"""Is a person looking? The console appears only in kernels a Jupyter server started for a notebook.

jupyter_server starts a notebook's kernel with `JPY_SESSION_NAME` (the notebook's path) in its
environment and writes the same path as `jupyter_session` into the kernel's connection file
(`SessionManager.get_kernel_env`, `LocalProvisioner.pre_launch`). papermill, nbclient and nbval
set neither, but their kernels inherit the environment of whoever started them: papermill run
from a JupyterLab terminal or notebook would see a `JPY_SESSION_NAME` that is not its own. Only
the connection file, written for this kernel by the process that started it, tells them apart.
"""

from __future__ import annotations

import os
from collections.abc import Mapping


def in_jupyter_server(environ: Mapping[str, str] | None = None, connection_info: Mapping | None = None) -> bool:
    """True in a notebook kernel started by a Jupyter server (JupyterLab); False under papermill, nbclient, nbval.

    Args:
        environ: the environment to read (default: this process's).
        connection_info: this kernel's connection file contents (default: read from the running kernel).
    """
    environ = os.environ if environ is None else environ
    session = environ.get("JPY_SESSION_NAME")
    if not session:
        return False
    if connection_info is None:
        connection_info = kernel_connection_info()
    return connection_info.get("jupyter_session") == session


def kernel_connection_info() -> dict:
    """The running IPython kernel's connection file as a dict; {} outside a kernel or if it cannot be read."""
    try:
        from ipykernel.connect import get_connection_info
        from ipykernel.kernelapp import IPKernelApp

        if not IPKernelApp.initialized():
            return {}
        info = get_connection_info(unpack=True)
    except Exception:  # no kernel, or its connection file is gone: treat as headless
        return {}
    return info if isinstance(info, dict) else {}
