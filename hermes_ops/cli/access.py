"""`hermes-ops access request|verify|grant|list|revoke`: the access runbooks, headless.

Each runs its notebook with papermill (`access.ipynb` for the operator, `grant_access.ipynb` for the
admin), archives the record, and prints what the caller needs last: the request file for `request`,
the keys as JSON for `list --json`, else the record's path. Exit codes are the deploy's
(`exit_codes`): 0 done (or nothing to change), 1 failed, 2 refused before connecting.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OPERATOR_NOTEBOOK = "access.ipynb"
ADMIN_NOTEBOOK = "grant_access.ipynb"


def add_access_command(commands, params, *, overrides, report) -> None:
    """Add `access` and its subcommands to the `hermes-ops` parser."""
    from hermes_ops.access.parameters import GrantParameters, RequestParameters

    def handler(notebook: str, action: str, flags):
        def run(args) -> int:
            from hermes_ops.records import headless

            stream = sys.stderr if getattr(args, "json", False) or action == "request" else sys.stdout
            done = headless.access(notebook, args.params_file, overrides(args, ("action", action), *flags(args)),
                                   records_dir=args.records_dir, stream=stream)
            return _report(done, action, args, report)
        return run

    access = commands.add_parser("access", help="get, grant, list and revoke SSH access to the host")
    actions = access.add_subparsers(dest="access_command", required=True)
    records = {"type": Path, "default": None, "help": "where records go (default: records/)"}

    request = actions.add_parser("request", parents=[params], help="make your key and an access request to send "
                                 "to the admin (prints the request file last)")
    request.add_argument("--key", metavar="PATH", help="your private key (created if missing; never overwritten)")
    request.add_argument("--reason", metavar="TEXT", help="why you need access (a ticket, a sentence)")
    request.add_argument("--expires", metavar="DURATION", help="how long you ask for, e.g. 8h, 30d (default: no expiry)")
    request.add_argument("--records-dir", **records)
    request.set_defaults(handler=handler(OPERATOR_NOTEBOOK, "request", lambda args: _given(
        key_path=args.key, reason=args.reason, expires=args.expires)), parameters_class=RequestParameters)

    verify = actions.add_parser("verify", parents=[params], help="pin the host key you were given and prove you "
                                "can log in")
    verify.add_argument("--key", metavar="PATH", help="your private key")
    verify.add_argument("--host-fingerprint", metavar="SHA256:…", help="the host key fingerprint your admin published")
    verify.add_argument("--records-dir", **records)
    verify.set_defaults(handler=handler(OPERATOR_NOTEBOOK, "verify", lambda args: _given(
        key_path=args.key, host_fingerprint=args.host_fingerprint)), parameters_class=RequestParameters)

    grant = actions.add_parser("grant", parents=[params], help="(admin) add the key of a request or .pub file")
    grant.add_argument("key_file", metavar="REQUEST_OR_PUBKEY_FILE", help="the access request, or a .pub file")
    grant.add_argument("--operator", metavar="NAME", help="whose key it is (default: the request's operator)")
    grant.add_argument("--expires", metavar="DURATION", help="8h, 30d, … or a host time 2026-12-01T18:00 (default: "
                       "what the request asks, else no expiry)")
    grant.add_argument("--records-dir", **records)
    grant.set_defaults(handler=handler(ADMIN_NOTEBOOK, "grant", lambda args: _given(
        public_key_file=args.key_file, grantee=args.operator, expires=args.expires)),
        parameters_class=GrantParameters)

    listing = actions.add_parser("list", parents=[params], help="(admin) the keys that can log in, with expiry")
    listing.add_argument("--json", action="store_true", help="the keys as JSON on stdout (fingerprint, comment, "
                         "operator, expiry, expired)")
    listing.add_argument("--records-dir", **records)
    listing.set_defaults(handler=handler(ADMIN_NOTEBOOK, "list", lambda args: []), parameters_class=GrantParameters)

    revoke = actions.add_parser("revoke", parents=[params], help="(admin) remove a key by its fingerprint")
    revoke.add_argument("fingerprint", metavar="FINGERPRINT", help="SHA256:… as `access list` shows it")
    revoke.add_argument("--records-dir", **records)
    revoke.set_defaults(handler=handler(ADMIN_NOTEBOOK, "revoke", lambda args: _given(fingerprint=args.fingerprint)),
                        parameters_class=GrantParameters)


def _given(**flags) -> list[tuple[str, str]]:
    """The options given on the command line, as parameter overrides (applied after -f/-y/-p/-r)."""
    from hermes_ops.params_file import Raw

    return [(name, Raw(value)) for name, value in flags.items() if value is not None]


def _report(done, action: str, args, report) -> int:
    """The record's path last, as for a deploy; `request` prints the request file after it, `list --json` the keys."""
    from hermes_ops.cli import exit_codes

    record = done.archived
    access = (record.access if record is not None else None) or {}
    if record is not None and record.failure:
        print(f"hermes-ops: step {record.failed_step} failed: {record.failure}", file=sys.stderr)
    if action == "list" and getattr(args, "json", False):
        print(f"outcome: {done.outcome}\nrecord: {done.record}", file=sys.stderr)
        keys = [{name: key.get(name) for name in ("fingerprint", "comment", "operator", "expiry", "expired", "type",
                                                  "request")} for key in access.get("keys", [])]
        print(json.dumps(keys, indent=2))
        return exit_codes.for_record(record)
    if action == "request":
        print(f"outcome: {done.outcome}\nrecord: {done.record}", file=sys.stderr)
        if access.get("request_file"):
            print(access["request_file"])
            return exit_codes.for_record(record)
        print(done.record)
        return exit_codes.for_record(record)
    return report(done, args)
