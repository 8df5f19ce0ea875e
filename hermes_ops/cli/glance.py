"""`hermes-ops status` and `hermes-ops images`: production at a glance, read-only, as text or `--json`.

Exit codes (`exit_codes`): 0 the host was read, whatever it says: an unhealthy app or a held lock
is a finding, reported in the output (`healthy`, `lock`, `problems`), not a failure of the
command, so a monitoring script reads those instead of guessing from the code; 1 the host could
not be reached or read; 2 the parameters were refused before anything connected. JSON goes to
stdout; warnings and errors to stderr.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable

from hermes_ops.cli import exit_codes
from hermes_ops.errors import HermesOpsError
from hermes_ops.terminal_text import neutralise

Overrides = Callable[[argparse.Namespace], list]


def add_commands(subparsers, params_parent: argparse.ArgumentParser, *, overrides: Overrides) -> None:
    """Register `status` and `images` on the `hermes-ops` subparsers.

    `params_parent` gives the parameters' options (-f, -y, -p, -r) and `overrides` turns them into
    (name, value) pairs, as for `deploy`.
    """
    status = subparsers.add_parser("status", parents=[params_parent],
                                   help="what production serves, its health, the deploy lock, the last run (read-only)")
    status.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    status.set_defaults(handler=functools.partial(status_command, overrides=overrides))
    images = subparsers.add_parser("images", parents=[params_parent],
                                   help="the deploy images kept for rollback, with their labels (read-only)")
    images.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    images.set_defaults(handler=functools.partial(images_command, overrides=overrides))


def status_command(args, *, overrides: Overrides) -> int:
    from hermes_ops import glance

    return _show(lambda: glance.status(args.params_file, overrides(args)), glance.render_status, args.json,
                 warnings=lambda found: found.problems)


def images_command(args, *, overrides: Overrides) -> int:
    from hermes_ops import glance

    params_hint = str(args.params_file) if args.params_file else "PARAMS"
    return _show(lambda: glance.kept_images(args.params_file, overrides(args)),
                 lambda kept: glance.render_images(kept, params_hint), args.json)


def _show(read, render, as_json: bool, warnings=lambda found: ()) -> int:
    """Read, then print text or JSON; map errors to the exit codes above (the error on stderr)."""
    try:
        found = read()
    except HermesOpsError as error:  # a ConfigError is raised before anything connects: exit 2
        print(f"hermes-ops: error: {error}", file=sys.stderr)
        return exit_codes.for_error(error)
    if as_json:
        for warning in warnings(found):
            print(f"hermes-ops: warning: {neutralise(warning)}", file=sys.stderr)
        print(json.dumps(found.to_json(), indent=2))
    else:
        print(render(found))
    return exit_codes.SUCCESS
