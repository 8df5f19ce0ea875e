"""`hermes-ops status` and `hermes-ops images`: production at a glance, read-only, as text or `--json`.

Exit codes: 0 the host was read (whatever it says: an unhealthy app or a held lock is a finding,
reported in the output and its `problems`, not a failure of the command; a script that cares
reads `healthy` or `problems`), 1 the host could not be reached or read, 2 the parameters were
refused before anything connected. JSON goes to stdout, warnings and errors to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys

from hermes_ops.errors import ConfigError, HermesOpsError
from hermes_ops.terminal_text import neutralise

EXIT_READ = 0
EXIT_UNREADABLE = 1
EXIT_REFUSED = 2


def add_commands(subparsers, params_parent: argparse.ArgumentParser) -> None:
    """Register `status` and `images` on the `hermes-ops` subparsers; `params_parent` gives -f/-p."""
    status = subparsers.add_parser("status", parents=[params_parent],
                                   help="what production serves, its health, the deploy lock, the last run (read-only)")
    status.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    status.set_defaults(handler=status_command)
    images = subparsers.add_parser("images", parents=[params_parent],
                                   help="the deploy images kept for rollback, with their labels (read-only)")
    images.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    images.set_defaults(handler=images_command)


def status_command(args) -> int:
    from hermes_ops import glance

    return _show(lambda: glance.status(args.params_file, _overrides(args)), glance.render_status, args.json,
                 warnings=lambda found: found.problems)


def images_command(args) -> int:
    from hermes_ops import glance

    params_hint = str(args.params_file) if args.params_file else "PARAMS"
    return _show(lambda: glance.kept_images(args.params_file, _overrides(args)),
                 lambda kept: glance.render_images(kept, params_hint), args.json)


def _overrides(args) -> list:
    return list(getattr(args, "parameter", None) or [])


def _show(read, render, as_json: bool, warnings=lambda found: ()) -> int:
    """Read, then print text or JSON; map errors to the exit codes above (the error on stderr)."""
    try:
        found = read()
    except ConfigError as error:  # by definition raised before anything touches the host
        print(f"hermes-ops: refused: {error}", file=sys.stderr)
        return EXIT_REFUSED
    except HermesOpsError as error:
        print(f"hermes-ops: error: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    if as_json:
        for warning in warnings(found):
            print(f"hermes-ops: warning: {neutralise(warning)}", file=sys.stderr)
        print(json.dumps(found.to_json(), indent=2))
    else:
        print(render(found))
    return EXIT_READ
