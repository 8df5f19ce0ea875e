"""The JupyterLab command line for one prepared runbook copy: built here, run by the CLI.

The server listens on 127.0.0.1 only, its root is the copy's folder (the records directory) and
its start page is the copy, so the notebook the operator works in is the prepared one, never the
tracked runbook. Its kernels talk over IPC, as every runbook kernel does (`records.kernels`). The
save hook still files a saved notebook into its run's record.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from hermes_ops.errors import ConfigError

SAVE_HOOK = "hermes_ops.console.save_hook.copy_to_records"
# What the operator may not change from the command line: where the server listens and what it serves.
FIXED_OPTIONS = {"--ip": "the server listens on 127.0.0.1 only",
                 "--ServerApp.ip": "the server listens on 127.0.0.1 only",
                 "--NotebookApp.ip": "the server listens on 127.0.0.1 only",
                 "--notebook-dir": "the server serves the records directory holding the prepared copy",
                 "--ServerApp.root_dir": "the server serves the records directory holding the prepared copy",
                 "--ServerApp.notebook_dir": "the server serves the records directory holding the prepared copy"}


def check_jupyter_args(jupyter_args: Sequence[str]) -> None:
    """Refuse an argument that would move the server off 127.0.0.1 or away from the copy's folder."""
    for argument in jupyter_args:
        option = argument.split("=", 1)[0]
        if option in FIXED_OPTIONS:
            raise ConfigError(f"the JupyterLab option {option} cannot be set here: {FIXED_OPTIONS[option]}",
                              step="lab", hint=f"drop {option} from the command")


def lab_command(copy: Path, jupyter_args: Sequence[str] = (), *, sockets: Path,
                python: str = sys.executable) -> list[str]:
    """`python -m jupyterlab …` opening `copy`, then `jupyter_args` (e.g. `--no-browser`, `--port=8890`);
    its kernels' IPC sockets go in the private folder `sockets` (`records.kernels.socket_folder`).

    Raises:
        ConfigError: `jupyter_args` would move the server off 127.0.0.1 or away from the copy's folder.
    """
    check_jupyter_args(jupyter_args)
    from hermes_ops.records.kernels import jupyter_arguments

    copy = Path(copy).absolute()
    return [python, "-m", "jupyterlab", "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={copy.parent}",
            f"--LabApp.default_url=/lab/tree/{quote(copy.name)}",
            f"--FileContentsManager.post_save_hook={SAVE_HOOK}", *jupyter_arguments(sockets), *jupyter_args]
