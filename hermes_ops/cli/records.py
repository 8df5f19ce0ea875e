"""`hermes-ops records`: list, show, fetch, upload and verify deploy records, here and on the host.

- `records` lists this machine's records, newest first (`--since`, `--outcome`, `--operator`,
  `--host NAME`, `--limit`, `--json`); `records --host -f PARAMS` lists the host's archive,
  every operator's records; `records --host-log -f PARAMS` prints the host's audit log.
- `records show RUN_ID` prints one record's summary, and for a failure its step and last output.
- `records fetch RUN_ID -f PARAMS` brings a record from the host's archive (JSON, notebook, HTML).
- `records upload -f PARAMS` archives on the host what this machine has not archived there yet.
- `records verify` checks the chain of this machine's records; `--host -f PARAMS` checks the
  host's whole chain, its HEAD and audit log, and this machine's copies against it. Exit 0 only
  when everything holds, 1 when something does not.
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

from hermes_ops import paths


def add_records_command(commands, params, *, overrides) -> None:
    """Add `records` and its subcommands to the `hermes-ops` parser."""
    folder = {"type": Path, "default": None, "help": "where records are (default: records/)"}
    listing = commands.add_parser("records", parents=[params], help="list, show, fetch and verify deploy records")
    listing.add_argument("--records-dir", **folder)
    listing.add_argument("--host", nargs="?", const=True, default=None, metavar="NAME",
                         help="alone: list the host's archive (needs -f); with a NAME: only records of hosts "
                              "whose name contains it")
    listing.add_argument("--host-log", action="store_true", help="print the host's audit log (needs -f)")
    listing.add_argument("--since", metavar="WHEN", help="2026-11-20, 2026-11-20T10:00Z, or 3d / 12h / 90m ago")
    listing.add_argument("--outcome", metavar="OUTCOME", help="success, failed, rolled-back, dry-run, ...")
    listing.add_argument("--operator", metavar="NAME", help="operators whose name contains NAME")
    listing.add_argument("--limit", type=int, metavar="N", help="the newest N")
    listing.add_argument("--json", action="store_true", help="the rows as JSON")
    listing.set_defaults(handler=lambda args: list_records(args, overrides))
    actions = listing.add_subparsers(dest="records_command")

    show = actions.add_parser("show", help="one record's summary, and for a failure its step and last output")
    show.add_argument("run_id", metavar="RUN_ID")
    show.add_argument("--records-dir", **folder)
    show.set_defaults(handler=show_record)

    fetch = actions.add_parser("fetch", parents=[params], help="bring a record from the host's archive")
    fetch.add_argument("run_id", metavar="RUN_ID")
    fetch.add_argument("--records-dir", **folder)
    fetch.set_defaults(handler=lambda args: fetch_record(args, overrides))

    upload = actions.add_parser("upload", parents=[params], help="archive on the host what is only here")
    upload.add_argument("--records-dir", **folder)
    upload.set_defaults(handler=lambda args: upload_records(args, overrides))

    verify = actions.add_parser("verify", parents=[params], help="check the records' tamper-evident chain")
    verify.add_argument("--host", action="store_true", help="the host's whole archive, and this machine's "
                                                            "copies against it (needs -f)")
    verify.add_argument("--records-dir", **folder)
    verify.set_defaults(handler=lambda args: verify_records(args, overrides))


def _records_dir(args) -> Path:
    return Path(args.records_dir or paths.default_records_dir())


def _session(args, overrides):
    from hermes_ops.runbook.hostlog import open_session

    return open_session(args.params_file, overrides(args))


def list_records(args, overrides) -> int:
    from hermes_ops.records import listing

    if args.host_log:
        from hermes_ops.runbook.hostlog import read_host_log

        print(read_host_log(args.params_file, overrides(args)))
        return 0
    now = datetime.datetime.now(datetime.timezone.utc)
    try:
        since = listing.parse_since(args.since, now) if args.since else None
    except ValueError as error:
        print(f"hermes-ops: error: --since: {error}", file=sys.stderr)
        return 2
    name_filter = args.host if isinstance(args.host, str) else None
    chosen = listing.RowFilter(since=since, outcome=args.outcome, operator=args.operator, host=name_filter,
                               limit=args.limit)
    if args.host is True:
        from hermes_ops.records import host_archive
        from hermes_ops.runbook.record import as_record

        _, session = _session(args, overrides)
        with session as runner:
            archive = host_archive.dump(runner)
        rows = [listing.row_from_record(as_record(record.record), record.stem)
                for record in archive.records if record.record is not None]
    else:
        records_dir = _records_dir(args)
        _close_abandoned(records_dir)
        rows = listing.rows_from_folder(records_dir)
    rows = chosen.apply(rows)
    if args.json:
        print(json.dumps([row.to_json() for row in rows], indent=2, default=str))
    else:
        print(listing.format_table(rows))
    return 0


def _close_abandoned(records_dir: Path) -> None:
    from hermes_ops.runbook import abandoned

    if records_dir.is_dir() and not records_dir.is_symlink():
        for journal in abandoned.close(records_dir):
            print(f"run {journal['run_id']} was abandoned (its process is gone): recorded as such; the next "
                  "deploy writes its host log line", file=sys.stderr)


def show_record(args) -> int:
    from hermes_ops.records import listing
    from hermes_ops.runbook.record import load_record

    records_dir = _records_dir(args)
    for row in listing.rows_from_folder(records_dir):
        if args.run_id in (row.run_id, row.stem):
            print(listing.format_details(row, load_record(records_dir / f"{row.stem}.json")))
            return 0
    print(f"hermes-ops: error: no record of run {args.run_id} in {records_dir}; "
          f"`hermes-ops records fetch {args.run_id} -f PARAMS` brings one from the host", file=sys.stderr)
    return 1


def fetch_record(args, overrides) -> int:
    from hermes_ops.records import host_archive, store

    records_dir = _records_dir(args)
    _, session = _session(args, overrides)
    with session as runner:
        try:
            summary = host_archive.fetch(runner, args.run_id, records_dir)
        except LookupError as error:
            print(f"hermes-ops: error: {error}", file=sys.stderr)
            return 1
    store.rebuild_index(records_dir)
    print(summary.with_suffix(".html") if summary.with_suffix(".html").exists() else summary)
    return 0


def upload_records(args, overrides) -> int:
    from hermes_ops.records import host_archive

    records_dir = _records_dir(args)
    params, session = _session(args, overrides)
    with session as runner:
        report = host_archive.upload_pending(runner, records_dir, runner.host_key_fingerprint,
                                             params.address)
    for stem in report.uploaded:
        print(f"archived on the host: {stem}")
    if report.error:
        print(f"hermes-ops: error: not archived on the host: {report.error}", file=sys.stderr)
        return 1
    if not report.uploaded:
        print("nothing to archive: the host has every record of this machine")
    return 0


def verify_records(args, overrides) -> int:
    from hermes_ops.records import chain, host_archive

    records_dir = _records_dir(args)
    local = host_archive.local_chained(records_dir) if records_dir.is_dir() else []
    problems: list[chain.Problem] = []
    if args.host:
        from hermes_ops.runbook.audit import parse_audit_line
        from hermes_ops.runbook.hostlog import host_log

        params, session = _session(args, overrides)
        with session as runner:
            chain_host = runner.host_key_fingerprint
            archive = host_archive.dump(runner)
            log = host_log(runner, params, lines=400)
        logged = [fields.get("chain", "") for fields in map(parse_audit_line, log.splitlines())
                  if fields.get("kind") == "record"]
        problems += chain.verify([record.chained() for record in archive.records], host=chain_host,
                                 head=archive.head.hash, complete=True)
        if logged and logged[-1].partition(":")[2] != (archive.head.hash or ""):
            problems.append(chain.Problem("", "head-mismatch", f"the host log's last archived record is "
                                          f"{logged[-1]}, but HEAD says {archive.head.line() or 'nothing'}: "
                                          "records or HEAD were changed outside hermes-ops"))
        problems += host_archive.cross_check(archive, local, chain_host)
        where, count = "the host's archive", len(archive.records)
    else:
        by_host: dict[str, list] = {}
        for record in local:
            try:
                by_host.setdefault(chain.seal_of(record.record).host, []).append(record)
            except ValueError as error:
                problems.append(chain.Problem(record.record.get("run_id", ""), "malformed",
                                              f"record {record.name} has a malformed seal: {error}"))
        for chain_host, records in by_host.items():
            problems += chain.verify(records, host=chain_host, complete=False)
        where, count = f"{records_dir}", len(local)
    for problem in problems:
        print(f"{problem.kind}: run {problem.run_id or '?'}: {problem.detail}")
    if problems:
        print(f"the chain of {where} does NOT hold: {len(problems)} problem(s) in {count} sealed record(s)",
              file=sys.stderr)
        return 1
    print(f"the chain of {where} holds: {count} sealed record(s)")
    return 0
