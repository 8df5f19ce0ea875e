"""The `hermes-ops` command: parse arguments, call one library function, map errors to exit codes."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hermes_ops.errors import HermesOpsError

EXIT_ERROR = 1
EXIT_USAGE = 2


def _sandbox_host(args):
    from hermes_ops.sandbox import SandboxConfig, SandboxHost

    overrides = {"ssh_port": getattr(args, "ssh_port", None), "app_port": getattr(args, "app_port", None)}
    return SandboxHost(SandboxConfig.load_or_default(args.state_dir, **overrides))


def sandbox_up(args) -> int:
    print(_sandbox_host(args).up())
    return 0


def sandbox_down(args) -> int:
    _sandbox_host(args).down()
    return 0


def sandbox_status(args) -> int:
    facts = _sandbox_host(args).status()
    if args.json:
        print(json.dumps(facts, indent=2))
    else:
        for key, value in facts.items():
            print(f"{key:18} {value}")
    return 0 if facts.get("up") else 3


def sandbox_commit(args) -> int:
    print(_sandbox_host(args).commit(args.message))
    return 0


def rehearse(args) -> int:
    from hermes_ops.rehearsal import rehearse as run_rehearsal

    print(run_rehearsal(state_dir=args.state_dir))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hermes-ops", description="Deploy Hermes to its production host.")
    commands = parser.add_subparsers(dest="command", required=True)

    sandbox = commands.add_parser("sandbox", help="the local stand-in for the production host")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", required=True)
    state_dir = argparse.ArgumentParser(add_help=False)
    state_dir.add_argument("--state-dir", type=Path, default=None,
                           help="state directory (default: $HERMES_SANDBOX_DIR or .sandbox/ at the repo root)")

    up = sandbox_commands.add_parser("up", parents=[state_dir], help="build and start it; prints the params file")
    up.add_argument("--ssh-port", type=int, default=None, help="droplet sshd port on 127.0.0.1 (default 2222)")
    up.add_argument("--app-port", type=int, default=None, help="Hermes app port on 127.0.0.1 (default 8088)")
    up.set_defaults(handler=sandbox_up)
    sandbox_commands.add_parser("down", parents=[state_dir], help="remove everything it made").set_defaults(
        handler=sandbox_down)
    status = sandbox_commands.add_parser("status", parents=[state_dir], help="what runs, is it healthy")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=sandbox_status)
    commit = sandbox_commands.add_parser("commit", parents=[state_dir], help="add a commit to origin")
    commit.add_argument("--message", "-m", default=None, help="commit message (also shown by the service)")
    commit.set_defaults(handler=sandbox_commit)

    rehearsal = commands.add_parser("rehearse", parents=[state_dir],
                                    help="the main job: a rehearsal on the sandbox host")
    rehearsal.set_defaults(handler=rehearse)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except HermesOpsError as error:
        print(f"hermes-ops: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("hermes-ops: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
