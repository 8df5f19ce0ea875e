"""`hermes-ops lab`: prepare a runbook copy for this run, then open that copy in JupyterLab."""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def lab(args, *, overrides: Callable[[argparse.Namespace], list]) -> int:
    """Prepare `<records_dir>/<run_id>.ipynb` (refused parameters stop here), then run JupyterLab on it.

    `overrides` turns the parsed `-y`/`-p`/`-r` options into (name, value) pairs, as for `deploy`.
    Returns JupyterLab's exit code.
    """
    from hermes_ops.console.lab_server import lab_command
    from hermes_ops.console.prepared import prepare_copy
    from hermes_ops.paths import RECORDS_ENV

    jupyter_args = list(args.jupyter_args or [])
    if jupyter_args[:1] == ["--"]:  # argparse keeps the separator in a REMAINDER
        jupyter_args = jupyter_args[1:]
    if args.no_browser:
        jupyter_args.insert(0, "--no-browser")
    copy = prepare_copy(args.runbook, args.params_file, overrides(args), args.records_dir)
    command = lab_command(copy, jupyter_args)
    print(f"prepared {copy} (run {copy.stem}); opening it in JupyterLab", file=sys.stderr)
    # The save hook then files a saved copy into the record beside it, whatever the default records folder.
    return subprocess.call(command, env={**os.environ, RECORDS_ENV: str(copy.parent)})


def add_lab_command(subparsers, params_parent: argparse.ArgumentParser, *,
                    overrides: Callable[[argparse.Namespace], list]) -> argparse.ArgumentParser:
    """Register `lab` on `subparsers`, taking the parameters as `deploy` does (`params_parent`, `overrides`)."""
    command = subparsers.add_parser(
        "lab", parents=[params_parent],
        help="an interactive run: a prepared copy of the runbook, opened in JupyterLab on 127.0.0.1")
    command.add_argument("--runbook", choices=("deploy", "rollback"), default="deploy",
                         help="the runbook to prepare (default: deploy)")
    command.add_argument("--records-dir", type=Path, default=None,
                         help="where the copy and the record go (default: records/)")
    command.add_argument("--no-browser", action="store_true", help="passed to jupyter lab: only print its URL")
    command.add_argument("jupyter_args", nargs=argparse.REMAINDER,
                         help="passed to jupyter lab, after `--` (e.g. `-- --port=8890`)")
    command.set_defaults(handler=functools.partial(lab, overrides=overrides))
    return command
