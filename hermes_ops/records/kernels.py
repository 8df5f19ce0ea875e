"""How hermes-ops starts the kernel that runs a runbook: over IPC, never over TCP.

By default Jupyter kernels listen on TCP ports of 127.0.0.1, unencrypted, so any local user
can talk to a kernel that holds an SSH session to production (and ipykernel warns about it
on every run). With IPC transport the kernel's sockets are files next to its connection file
in the user's Jupyter runtime directory (mode 0700), and papermill, nbclient and JupyterLab
talk to it the same way.
"""

from __future__ import annotations


def kernel_config():
    """traitlets config for a `KernelManager` (papermill's `config=`, JupyterLab's command line)."""
    from traitlets.config import Config

    config = Config()
    config.KernelManager.transport = "ipc"
    return config


JUPYTER_ARGUMENTS = ("--KernelManager.transport=ipc",)
