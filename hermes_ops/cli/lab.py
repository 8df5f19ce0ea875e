"""`hermes-ops lab`: prepare a runbook copy for this run, then open that copy in JupyterLab."""

from __future__ import annotations

import argparse
import functools
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from hermes_ops.console.prepared import RUNBOOKS


def lab(args, *, overrides: Callable[[argparse.Namespace], list]) -> int:
    """Prepare `<records_dir>/<run_id>.ipynb` (refused parameters stop here), then run JupyterLab on it.

    `overrides` turns the parsed `-y`/`-p`/`-r` options into (name, value) pairs, as for `deploy`.
    Returns JupyterLab's exit code.
    """
    from hermes_ops.console.lab_server import check_jupyter_args, lab_command
    from hermes_ops.console.prepared import prepare_copy
    from hermes_ops.paths import RECORDS_ENV
    from hermes_ops.records.kernels import socket_folder

    jupyter_args = list(args.jupyter_args or [])
    if jupyter_args[:1] == ["--"]:  # argparse keeps the separator in a REMAINDER
        jupyter_args = jupyter_args[1:]
    if args.no_browser:
        jupyter_args.insert(0, "--no-browser")
    check_jupyter_args(jupyter_args)
    copy = prepare_copy(args.runbook, args.params_file, overrides(args), args.records_dir)
    prepared = copy.read_bytes()
    print(f"prepared {copy} (run {copy.stem}); opening it in JupyterLab", file=sys.stderr)
    try:
        # The save hook files a saved copy into the record beside it, whatever the default records folder.
        with socket_folder() as sockets:
            return _serve(lab_command(copy, jupyter_args, sockets=sockets),
                          env={**os.environ, RECORDS_ENV: str(copy.parent)})
    finally:
        _remove_if_unused(copy, prepared)


def _serve(command: list[str], env: dict) -> int:
    """Run JupyterLab until it exits; its own exit code.

    Ctrl-C reaches JupyterLab directly (same terminal): it asks, then shuts its kernels down, and a
    running deploy ends cleanly. This process only waits (`subprocess.call` would kill the server at
    once, leaving its kernels behind), and passes SIGTERM/SIGHUP sent to it alone on to the server.
    """
    with subprocess.Popen(command, env=env) as server:
        def forward(number, frame):
            server.send_signal(number)

        previous = {number: signal.signal(number, forward) for number in (signal.SIGTERM, signal.SIGHUP)}
        try:
            while True:
                try:
                    return server.wait()
                except KeyboardInterrupt:
                    continue
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


def _remove_if_unused(copy: Path, prepared: bytes) -> None:
    """A copy never saved holds nothing the run's record lacks: it goes when JupyterLab ends."""
    try:
        if copy.read_bytes() == prepared:
            copy.unlink()
            print(f"removed {copy}: never saved", file=sys.stderr)
    except OSError:
        pass


def add_lab_command(subparsers, params_parent: argparse.ArgumentParser, *,
                    overrides: Callable[[argparse.Namespace], list]) -> argparse.ArgumentParser:
    """Register `lab` on `subparsers`, taking the parameters as `deploy` does (`params_parent`, `overrides`)."""
    command = subparsers.add_parser(
        "lab", parents=[params_parent],
        help="an interactive run: a prepared copy of the runbook, opened in JupyterLab on 127.0.0.1")
    command.add_argument("--runbook", choices=RUNBOOKS, default="deploy",
                         help="the runbook to prepare (default: deploy)")
    command.add_argument("--records-dir", type=Path, default=None,
                         help="where the copy and the record go (default: records/)")
    command.add_argument("--no-browser", action="store_true", help="passed to jupyter lab: only print its URL")
    command.add_argument("jupyter_args", nargs=argparse.REMAINDER,
                         help="passed to jupyter lab, after `--` (e.g. `-- --port=8890`)")
    command.set_defaults(handler=functools.partial(lab, overrides=overrides))
    return command
