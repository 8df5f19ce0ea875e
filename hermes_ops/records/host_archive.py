"""Records archived on the host too: sealed into the host's chain, uploaded, listed, fetched, verified.

A record on one operator's laptop helps nobody else. At the end of every run the records this
machine holds for the host and has not archived there yet (this run's, and any an earlier run
could not upload) are sealed into the host's chain (`chain.seal`: the hash of the previous
record, the digest of the notebook) and stored under `~/.hermes/records/` (see
`commands.record_archive`). The local JSON gets the same seal, so each operator's copy is an
independent witness of the chain: `verify_host` compares them with what the host holds.

All I/O goes through a runner (`runner.run(argv, stdin=..., stream=...)`); the chain rules
are in `chain`, the host scripts in `commands.record_archive`.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import io
import json
import os
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hermes_ops.commands import record_archive as commands
from hermes_ops.errors import CommandFailed
from hermes_ops.records import chain
from hermes_ops.runbook.audit import format_audit_line

SEAL_ATTEMPTS = 5  # other operators' records getting in first, one after the other
TIMEOUT = 120


@dataclass(frozen=True)
class Head:
    """The host's HEAD: the newest record of its chain (sequence 0 and no hash: no archive yet)."""

    sequence: int = 0
    hash: str | None = None

    @classmethod
    def parse(cls, text: str) -> Head:
        words = text.split()
        if not words:
            return cls()
        if len(words) != 2 or not words[0].isdigit():
            raise ValueError(f"the host's records HEAD is not `<sequence> <sha256>`: {text[:80]!r}")
        return cls(int(words[0]), words[1])

    def line(self) -> str:
        return "" if self.hash is None else f"{self.sequence} {self.hash}"

    def as_previous(self, host: str) -> _Previous | None:
        """What `chain.seal` needs of the newest record to seal the next one after it."""
        return None if self.hash is None else _Previous(host, self.sequence, self.hash)


@dataclass(frozen=True)
class _Previous:
    """The part of a `chain.Seal` that sealing the next record reads: its chain, sequence and hash."""

    host: str
    sequence: int
    hash: str


@dataclass(frozen=True)
class HostRecord:
    """One record as the host holds it."""

    stem: str
    record: dict | None  # None: its JSON is not JSON any more
    notebook_sha256: str | None  # of the uncompressed notebook; None: no notebook file

    def chained(self) -> chain.ChainedRecord:
        files = {} if self.notebook_sha256 is None else {"notebook": self.notebook_sha256}
        return chain.ChainedRecord(name=self.stem, record=self.record or {}, files=files)


@dataclass(frozen=True)
class HostArchive:
    head: Head
    records: list[HostRecord] = field(default_factory=list)


@dataclass
class UploadReport:
    uploaded: list[str] = field(default_factory=list)  # stems
    error: str | None = None  # why the rest stays local (and is uploaded by the next run)


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_head(runner) -> Head:
    return Head.parse(runner.run(commands.read_head(), timeout=TIMEOUT).stdout.strip())


def pending(records_dir: Path, host_fingerprint: str, target: str) -> list[Path]:
    """This machine's unsealed records of this host, oldest first: its key seen by the run, else its address."""
    found = []
    for path in Path(records_dir).glob("*_*_*_*.json"):
        data = _read_json(path)
        if not isinstance(data, dict) or chain.CHAIN_FIELD in data or data.get("outcome") in (None, "running"):
            continue
        seen = (data.get("facts") or {}).get("host_key_fingerprint")
        if seen == host_fingerprint or (not seen and data.get("host") == target):
            found.append((data.get("started_at") or "", path))
    return [path for _, path in sorted(found)]


def upload(runner, summary: Path, host_fingerprint: str) -> chain.Seal:
    """Seal the record `summary` (`<stem>.json`) into the host's chain, store it there, seal the local copy.

    Raises:
        CommandFailed and connection errors: it is not on the host (the local copy is unchanged).
    """
    original = summary.read_bytes()
    record = json.loads(original)
    notebook = summary.with_suffix(".ipynb")
    files = {"notebook": notebook.read_bytes()} if notebook.exists() else {}
    for attempt in range(SEAL_ATTEMPTS):
        head = read_head(runner)
        sealed = chain.seal(record, files, host=host_fingerprint, previous=head.as_previous(host_fingerprint),
                            sealed_at=_utc_now())
        seal = chain.seal_of(sealed)
        text = json.dumps(sealed, indent=2, default=str) + "\n"
        log_line = format_audit_line(_utc_now(), {
            "kind": "record", "run": record.get("run_id"), "chain": f"{seal.sequence}:{seal.hash}",
            "previous": seal.previous or "", "file": summary.stem})
        result = runner.run(commands.store_record(head.line(), f"{seal.sequence} {seal.hash}", log_line),
                            stdin=_tar(summary.stem, text.encode(), files.get("notebook")), timeout=TIMEOUT,
                            check=False)
        if result.exit_code == commands.HEAD_MOVED and attempt + 1 < SEAL_ATTEMPTS:
            continue
        if result.exit_code == commands.ALREADY_ARCHIVED:
            adopted = _adopt_archived(runner, summary, original, record)
            if adopted is not None:
                return adopted
        if not result.ok:
            raise CommandFailed(f"the host refused to archive record {summary.stem}: "
                                f"{(result.stderr or result.stdout).strip()[-300:]}", result=result,
                                step="records", hint="it stays in this machine's records folder; "
                                "the next run uploads it (or `hermes-ops records upload -f PARAMS`)")
        _replace_if_unchanged(summary, original, text)
        return seal
    raise AssertionError("unreachable")


def upload_pending(runner, records_dir: Path, host_fingerprint: str, target: str) -> UploadReport:
    """Upload every pending record of this host (see `pending`), oldest first; stops at the first failure."""
    report = UploadReport()
    for path in pending(records_dir, host_fingerprint, target):
        try:
            upload(runner, path, host_fingerprint)
        except Exception as error:  # the record stays local, unsealed: the next run tries again
            report.error = f"{path.stem}: {error}"
            break
        report.uploaded.append(path.stem)
    return report


def archive_after_run(connection, records_dir: Path, summary: Path | None) -> UploadReport | None:
    """After a run: connect to the host of `connection` (`DeployParameters`) and upload what is pending there.

    None when the run's record (`summary`, `<stem>.json`) shows it never reached the host: its record
    stays here and the next run that reaches the host archives it. Never raises: a failure is the
    report's `error`, and the records stay here, unsealed, for the next run.
    """
    from hermes_ops.ssh import connect

    data = _read_json(summary) if summary is not None else None
    if not isinstance(data, dict) or not (data.get("facts") or {}).get("host_key_fingerprint"):
        return None
    try:
        with connect(connection.ssh_target()) as runner:
            return upload_pending(runner, Path(records_dir), runner.host_key_fingerprint, connection.address)
    except Exception as error:
        return UploadReport(error=str(error))


def _sections(runner, argv: list[str], opener: str) -> list[tuple[list[str], bytes | None]]:
    """Run a script that prints `<opener> WORDS...`, base64 lines, `end` per item; the items' words and bytes.

    A line outside any item (such as `head ...`) comes back as its words with None for bytes.
    """
    lines: list[str] = []
    runner.run(argv, timeout=TIMEOUT, stream=lambda stream, line: stream == "stdout" and lines.append(line))
    items: list[tuple[list[str], bytes | None]] = []
    words: list[str] | None = None
    chunks: list[str] = []
    for line in lines:
        if words is None and line.startswith(f"{opener} "):
            words, chunks = line.split(" ")[1:], []
        elif words is not None and line == "end":
            items.append((words, base64.b64decode("".join(chunks))))
            words = None
        elif words is not None:
            chunks.append(line)
        else:
            items.append((line.split(" "), None))
    return items


def dump(runner) -> HostArchive:
    """Every record the host holds, with the digest of each notebook as the host computes it, and HEAD."""
    head, records = Head(), []
    for words, data in _sections(runner, commands.dump_archive(), "record"):
        if data is None:
            if words[0] == "head":
                head = Head.parse(" ".join(words[1:]))
            continue
        stem, digest = words[0], words[1]
        try:
            record = json.loads(data)
        except ValueError:
            record = None
        records.append(HostRecord(stem, record if isinstance(record, dict) else None,
                                  None if digest == "-" else digest))
    return HostArchive(head, records)


def fetch(runner, run_id: str, records_dir: Path, archive: HostArchive | None = None) -> Path:
    """Bring the record of `run_id` from the host into `records_dir`: its JSON, notebook and HTML; returns the JSON.

    Files already here are kept as they are (never overwritten).

    Raises:
        LookupError: the host holds no record of that run.
    """
    archive = archive or dump(runner)
    matches = [record for record in archive.records if (record.record or {}).get("run_id") == run_id
               or record.stem == run_id]
    if not matches:
        raise LookupError(f"the host's archive holds no record of run {run_id}")
    stem = matches[0].stem
    files = _fetch_files(runner, stem)
    records_dir = Path(records_dir)
    records_dir.mkdir(parents=True, exist_ok=True)
    summary = records_dir / f"{stem}.json"
    _write_new(summary, files[f"{stem}.json"])
    if f"{stem}.ipynb.gz" in files:
        notebook = records_dir / f"{stem}.ipynb"
        if _write_new(notebook, gzip.decompress(files[f"{stem}.ipynb.gz"])):
            from hermes_ops.records.store import render_html

            render_html(notebook, notebook.with_suffix(".html"))
    return summary


def _fetch_files(runner, stem: str) -> dict[str, bytes]:
    """The files of the host's record `stem`, by name."""
    return {words[0]: data for words, data in _sections(runner, commands.fetch_record(stem), "file")
            if data is not None}


def _adopt_archived(runner, summary: Path, original: bytes, record: dict) -> chain.Seal | None:
    """The host has this record already (an upload whose answer was lost): take its seal if it is ours, unchanged."""
    theirs = _fetch_files(runner, summary.stem).get(f"{summary.stem}.json")
    try:
        data = json.loads(theirs) if theirs else None
        seal = chain.seal_of(data) if isinstance(data, dict) else None
    except ValueError:
        return None
    unsealed = {key: value for key, value in data.items() if key != chain.CHAIN_FIELD} if seal else None
    if seal is None or chain.canonical_bytes(unsealed) != chain.canonical_bytes(record):
        return None
    _replace_if_unchanged(summary, original, theirs.decode())
    return seal


def local_chained(records_dir: Path) -> list[chain.ChainedRecord]:
    """The sealed records of this machine's folder, as `chain.verify` reads them."""
    found = []
    for path in sorted(Path(records_dir).glob("*_*_*_*.json")):
        data = _read_json(path)
        if not isinstance(data, dict) or chain.CHAIN_FIELD not in data:
            continue
        notebook = path.with_suffix(".ipynb")
        files = {"notebook": chain.file_digest(notebook.read_bytes())} if notebook.exists() else {}
        found.append(chain.ChainedRecord(name=path.stem, record=data, files=files))
    return found


def cross_check(host: HostArchive, local: list[chain.ChainedRecord], chain_host: str) -> list[chain.Problem]:
    """What this machine's sealed copies say of the host's archive: a record gone, or different there."""
    problems = []
    on_host = {(record.record or {}).get("run_id"): record for record in host.records}
    for copy in local:
        seal = chain.seal_of(copy.record)
        if seal is None or seal.host != chain_host:
            continue
        run_id = copy.record.get("run_id", "")
        there = on_host.get(run_id)
        if there is None:
            problems.append(chain.Problem(run_id, "deleted", f"record {copy.name} (sequence {seal.sequence}) is in "
                                          "this machine's records but no longer on the host: it was deleted there"))
        elif chain.seal_of(there.record or {}) is None or chain.seal_of(there.record).hash != seal.hash:
            problems.append(chain.Problem(run_id, "edited", f"record {there.stem} on the host differs from this "
                                          "machine's sealed copy: it was changed (or the chain re-sealed) there"))
    return problems


def _tar(stem: str, summary: bytes, notebook: bytes | None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        members = [(f"{stem}.json", summary)]
        if notebook is not None:
            members.append((f"{stem}.ipynb.gz", gzip.compress(notebook, mtime=0)))
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _read_json(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def _replace_if_unchanged(path: Path, original: bytes, text: str) -> None:
    """Write the sealed JSON over our own unsealed one, atomically, unless someone changed it meanwhile."""
    if path.read_bytes() != original:
        return
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".json")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _write_new(path: Path, data: bytes) -> bool:
    try:
        with open(path, "xb") as handle:
            handle.write(data)
        return True
    except FileExistsError:
        return False

