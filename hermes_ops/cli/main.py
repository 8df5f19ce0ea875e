"""The `hermes-ops` command: parse arguments, call one library function, map outcomes to exit codes.

Parameters are given as papermill gives them (`-f FILE`, `-y YAML`, `-p NAME VALUE`, `-r NAME RAW`,
applied in that order); exit codes are `exit_codes.TABLE`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hermes_ops import __version__
from hermes_ops.cli import exit_codes, glance
from hermes_ops.cli.access import add_access_command
from hermes_ops.cli.lab import add_lab_command
from hermes_ops.cli.records import add_records_command
from hermes_ops.errors import HermesOpsError
from hermes_ops.sandbox.origin import FAULTS

EXIT_ERROR = exit_codes.FAILED
EXIT_USAGE = exit_codes.REFUSED


def _overrides(args, *extra) -> list:
    """(name, value) overrides in papermill's order: -y, then -p, then -r, then the command's own flags."""
    from hermes_ops.params_file import Raw, yaml_overrides

    pairs: list = []
    for text in getattr(args, "parameters_yaml", None) or []:
        pairs.extend(yaml_overrides(text, getattr(args, "parameters_class", None)))
    pairs.extend(tuple(pair) for pair in getattr(args, "parameter", None) or [])
    pairs.extend((name, Raw(raw)) for name, raw in getattr(args, "parameter_raw", None) or [])
    pairs.extend(extra)
    return pairs


def _sandbox_host(args):
    from hermes_ops.sandbox import SandboxConfig, SandboxHost

    overrides = {"ssh_port": getattr(args, "ssh_port", None), "app_port": getattr(args, "app_port", None),
                 "zero_downtime": getattr(args, "zero_downtime", None)}
    return SandboxHost(SandboxConfig.load_or_default(args.state_dir, **overrides))


def _report(run, args) -> int:
    """A headless run's outcome on stderr and its record's path as the last line (or, with --json, its summary
    as JSON on stdout); the exit code says how it ended (`exit_codes`)."""
    code = exit_codes.for_record(run.archived)
    print(f"outcome: {run.outcome}", file=sys.stderr)
    if run.record_error:
        print(f"hermes-ops: warning: the executed notebook could not always be saved ({run.record_error}); "
              "the JSON summary and the host log are complete", file=sys.stderr)
    if getattr(args, "json", False):
        print(json.dumps(run_summary(run, code), indent=2, default=str))
    else:
        print(run.record)
    return code


def run_summary(run, code: int) -> dict:
    """What a script needs from a run: how it ended, what changed, where its record is."""
    record, summary = run.archived, {}
    if record is not None:
        summary = {**record.summary(), "kind": record.kind, "failure": record.failure,
                   "refused_by": record.refused_by, "dry_run": record.dry_run}
    summary["outcome"] = str(run.outcome)
    summary["exit_code"] = code
    notebook = Path(run.record)
    summary["record"] = {"notebook": str(notebook), "json": str(notebook.with_suffix(".json")),
                         "html": str(notebook.with_suffix(".html"))}
    summary["record_error"] = run.record_error
    return summary


def _stream(args):
    """Where the runbook's progress goes: stdout, or stderr when stdout carries the JSON summary."""
    return sys.stderr if getattr(args, "json", False) else sys.stdout


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
    print(_sandbox_host(args).commit(args.message, args.fault))
    return 0


def rehearse(args) -> int:
    from hermes_ops.sandbox import rehearsal

    return _report(rehearsal.rehearse(state_dir=args.state_dir, records_dir=args.records_dir), args)


def deploy(args) -> int:
    from hermes_ops.records import headless

    flags = ([("resume", args.resume)] if args.resume else []) + ([("dry_run", True)] if args.dry_run else [])
    return _report(headless.deploy(args.params_file, _overrides(args, *flags), records_dir=args.records_dir,
                                   stream=_stream(args)), args)


def rollback(args) -> int:
    from hermes_ops.records import headless

    flags = [("rollback_to", args.to)] if args.to else []
    return _report(headless.rollback(args.params_file, _overrides(args, *flags), records_dir=args.records_dir,
                                     stream=_stream(args)), args)


def lock_command(args) -> int:
    from hermes_ops.runbook.hostlog import break_lock, lock_status

    if args.lock_command == "break":
        print(break_lock(args.params_file, _overrides(args)))
    else:
        print(lock_status(args.params_file, _overrides(args)))
    return 0


def docs_refresh(args) -> int:
    from hermes_ops.records.living_docs import refresh

    for path in refresh():
        print(path)
    return 0


def hostkey(args) -> int:
    from hermes_ops.cli import hostkey

    if args.hostkey_command == "show":
        print(hostkey.show(args.host, args.port, ssh_config=args.ssh_config))
    else:
        print(hostkey.pin(args.host, args.port, args.known_hosts, args.fingerprint, replace=args.replace,
                          ssh_config=args.ssh_config))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hermes-ops", description="Deploy Hermes to its production host.",
                                     epilog="exit codes:\n" + exit_codes.TABLE,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"hermes-ops {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    sandbox = commands.add_parser("sandbox", help="the local stand-in for the production host")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", required=True)
    state_dir = argparse.ArgumentParser(add_help=False)
    state_dir.add_argument("--state-dir", type=Path, default=None,
                           help="state directory (default: $HERMES_SANDBOX_DIR or .sandbox/ at the repo root)")

    up = sandbox_commands.add_parser("up", parents=[state_dir], help="build and start it; prints the params file")
    up.add_argument("--ssh-port", type=int, default=None, help="droplet sshd port on 127.0.0.1 (default 2222)")
    up.add_argument("--app-port", type=int, default=None, help="Hermes app port on 127.0.0.1 (default 8088)")
    up.add_argument("--zero-downtime", action=argparse.BooleanOptionalAction, default=None,
                    help="haproxy in front of two app slots, for zero_downtime deploys (--no-zero-downtime: back "
                         "to the supervisor's one app; default: as the sandbox was)")
    up.set_defaults(handler=sandbox_up)
    sandbox_commands.add_parser("down", parents=[state_dir], help="remove everything it made").set_defaults(
        handler=sandbox_down)
    status = sandbox_commands.add_parser("status", parents=[state_dir], help="what runs, is it healthy")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=sandbox_status)
    commit = sandbox_commands.add_parser("commit", parents=[state_dir], help="add a commit to origin")
    commit.add_argument("--message", "-m", default=None, help="commit message (also shown by the service)")
    commit.add_argument("--fault", choices=sorted(FAULTS), default=None,
                        help="add a deliberate defect, to rehearse a failing deploy")
    commit.set_defaults(handler=sandbox_commit)

    params = argparse.ArgumentParser(add_help=False)
    params.add_argument("-f", "--params-file", type=Path, default=None, help="YAML parameters file")
    params.add_argument("-y", "--parameters-yaml", action="append", metavar="YAML",
                        help="parameters as YAML text, e.g. -y 'branch: main' (repeatable; applied after -f)")
    params.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                        help="set one parameter (repeatable); VALUE is read as the parameter's type: text stays "
                             "text exactly, numbers and true/false are read strictly")
    params.add_argument("-r", "--parameter-raw", nargs=2, action="append", metavar=("NAME", "RAW"),
                        help="set one parameter to RAW as text, never converted (repeatable; applied last)")
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true",
                         help="print the run's summary as JSON on stdout (progress goes to stderr)")
    run = commands.add_parser("deploy", parents=[params, as_json], help="run the deploy runbook headless (papermill)")
    run.add_argument("--records-dir", type=Path, default=None, help="where records go (default: records/)")
    run.add_argument("--resume", metavar="RUN_ID", default=None,
                     help="continue a failed or interrupted deploy from its failed step")
    run.add_argument("--dry-run", action="store_true", help="connect and preflight, then only show the commands")
    run.set_defaults(handler=deploy)
    back = commands.add_parser("rollback", parents=[params, as_json],
                               help="restore a kept image (default: previous)")
    back.add_argument("--to", metavar="IMAGE", default=None, help="e.g. hermes/admin:1a2b3c4d5e6f")
    back.add_argument("--records-dir", type=Path, default=None, help="where records go (default: records/)")
    back.set_defaults(handler=rollback)
    lock = commands.add_parser("lock", help="the deploy lock on the host")
    lock_commands = lock.add_subparsers(dest="lock_command", required=True)
    lock_commands.add_parser("status", parents=[params], help="who holds it").set_defaults(handler=lock_command)
    lock_commands.add_parser("break", parents=[params],
                             help="end a stuck holder (recorded in the host log)").set_defaults(handler=lock_command)
    add_records_command(commands, params, overrides=_overrides)

    docs = commands.add_parser("docs", help="the notebooks' stored example outputs")
    docs_commands = docs.add_subparsers(dest="docs_command", required=True)
    docs_commands.add_parser("refresh", help="re-run the notebooks on the sandbox and store their outputs").set_defaults(
        handler=docs_refresh)

    keys = commands.add_parser("hostkey", help="verify and pin a host's SSH key")
    key_commands = keys.add_subparsers(dest="hostkey_command", required=True)
    for name, text in (("show", "print the key's fingerprint to compare with the host's console"),
                       ("pin", "pin the key, if it matches the fingerprint you confirmed")):
        sub = key_commands.add_parser(name, help=text)
        sub.add_argument("host", help="an address, or a Host alias of your ssh config (reached as ssh would)")
        sub.add_argument("--port", type=int, default=22)
        sub.add_argument("--ssh-config", default="~/.ssh/config", help="OpenSSH client config (default ~/.ssh/config)")
        if name == "pin":
            sub.add_argument("--known-hosts", required=True, help="the known_hosts file deploys will use")
            sub.add_argument("--fingerprint", required=True, help="SHA256:… as confirmed on the host")
            sub.add_argument("--replace", action="store_true", help="replace a different pinned key (re-keyed host)")
        sub.set_defaults(handler=hostkey)

    add_lab_command(commands, params, overrides=_overrides)
    add_access_command(commands, params, overrides=_overrides, report=_report)

    rehearsal = commands.add_parser("rehearse", parents=[state_dir, as_json],
                                    help="the main job: a rehearsal deploy on the sandbox host")
    rehearsal.add_argument("--records-dir", type=Path, default=None, help="where records go (default: records/)")
    rehearsal.set_defaults(handler=rehearse)
    glance.add_commands(commands, params, overrides=_overrides)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except HermesOpsError as error:
        print(f"hermes-ops: error: {error}", file=sys.stderr)
        code = exit_codes.for_error(error)
        if getattr(args, "json", False):
            print(json.dumps({"outcome": "refused" if code == exit_codes.REFUSED else "error", "exit_code": code,
                              "error": error.message, "step": error.step, "host": error.host,
                              "hint": error.hint}, indent=2))
        return code
    except KeyboardInterrupt:
        print("hermes-ops: interrupted", file=sys.stderr)
        return exit_codes.INTERRUPTED
