"""Access request files: what a new operator sends the admin to ask for access, and how the admin reads it.

A request holds only public facts (the public key, who asks, for which login, why, for
how long), so it can travel by any channel. The admin's side reads it as untrusted input:
its size is bounded, every field is checked, and the key must be the one its fingerprint
says. A private key handed over by mistake is refused without a byte of it being shown.

A request file is written once and never overwritten (`<request_id>.access-request.json`,
created exclusively), so what the operator sent is what the admin reads.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from hermes_ops.access.durations import DURATION_FORM, parse_duration
from hermes_ops.access.public_keys import PublicKey, looks_private, parse_public_key, private_key_refused
from hermes_ops.errors import ConfigError
from hermes_ops.runbook.journal import new_run_id, utc_now

REQUEST_SUFFIX = ".access-request.json"
VERSION = 1
MAX_BYTES = 64 * 1024
MAX_LINE_CHARS = 200
_FORBIDDEN_CATEGORIES = ("Cc", "Cf", "Zl", "Zp", "Cs")
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
_FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")
_CREATED_AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}")
_HOST = re.compile(r"[A-Za-z0-9_.:%\[\]-]{1,253}")


@dataclass(frozen=True)
class AccessRequest:
    """An operator's request for access to `user@host:port` with `public_key`; checked when made.

    `public_key` is the key's line with its comment; `duration` is how long access is asked for
    ("30d"; "" for no expiry); `created_at` is ISO 8601 UTC ("2026-11-27T17:25:00Z").
    """

    request_id: str
    operator: str
    public_key: str
    fingerprint: str
    host: str
    port: int
    user: str
    reason: str
    duration: str
    created_at: str
    version: int = VERSION

    def __post_init__(self):
        _check_fields(dataclasses.asdict(self), "the access request")


FIELDS = tuple(field.name for field in dataclasses.fields(AccessRequest))


def new_request(*, operator: str, public_key: PublicKey, host: str, port: int, user: str, reason: str,
                duration: str) -> AccessRequest:
    """A new request (fresh id, now as created_at) for `public_key`; `duration` "" asks for no expiry.

    Raises:
        ConfigError: a field is refused (see `read_request` for the rules).
    """
    if not isinstance(public_key, PublicKey):
        raise TypeError(f"public_key must be a PublicKey, not {type(public_key).__name__}")
    asked = duration.strip() if isinstance(duration, str) else duration
    if asked:
        parse_duration(asked)  # refused here with the duration's own message
    return AccessRequest(request_id=new_run_id(), operator=operator.strip() if isinstance(operator, str) else operator,
                         public_key=public_key.text, fingerprint=public_key.fingerprint, host=host, port=port,
                         user=user, reason=reason.strip() if isinstance(reason, str) else reason, duration=asked,
                         created_at=utc_now().strftime("%Y-%m-%dT%H:%M:%SZ"))


def write_request(directory: Path, request: AccessRequest) -> Path:
    """Write `request` to `<directory>/<request_id>.access-request.json` (mode 0644) and return the path.

    The file is created exclusively: an existing file is never overwritten. The directory is
    created (mode 0700) if missing.

    Raises:
        ConfigError: the file exists already, or the directory or file cannot be created.
    """
    if not isinstance(request, AccessRequest):
        raise TypeError(f"request must be an AccessRequest, not {type(request).__name__}")
    directory = Path(directory).expanduser()
    path = directory / f"{request.request_id}{REQUEST_SUFFIX}"
    text = json.dumps(dataclasses.asdict(request), indent=2, ensure_ascii=False) + "\n"
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except FileExistsError:
        raise ConfigError(f"an access request already exists at {path}: requests are never overwritten",
                          hint="send that one, or make a new request (it gets a new id)") from None
    except OSError as error:
        raise ConfigError(f"cannot create the access request {path}: {error.strerror}",
                          hint=f"check that {directory} is a folder you can write") from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            os.fchmod(stream.fileno(), 0o644)  # whatever the umask: the request is public by design
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        path.unlink(missing_ok=True)  # never leave half a request behind
        raise
    return path


def read_request(path: Path) -> AccessRequest:
    """The access request in the file at `path`, strictly checked.

    At most 64 KiB of UTF-8 JSON; one object with exactly the known fields, each of the right
    type; public_key a public key `parse_public_key` accepts, whose fingerprint is the
    fingerprint field; operator and reason one printable line of at most 200 characters;
    duration "" or a duration `parse_duration` accepts; host, user and port a plausible login.

    Raises:
        ConfigError: any of that is not so (KeyRefused, a ConfigError, for a private key).
    """
    path = Path(path).expanduser()
    return _request_from_text(_read_text(path, "access request"), str(path))


def read_key_or_request(path: Path) -> tuple[PublicKey, AccessRequest | None]:
    """What the admin was given: (the key, its request) for a request file, (the key, None) for a .pub file.

    A file named `*.access-request.json`, or holding a JSON object, is read as a request.

    Raises:
        ConfigError: the file cannot be read, or is refused (KeyRefused for a private key, never echoed).
    """
    path = Path(path).expanduser()
    text = _read_text(path, "public key or access request")
    if path.name.endswith(REQUEST_SUFFIX) or text.lstrip().startswith("{"):
        request = _request_from_text(text, str(path))
        return parse_public_key(request.public_key, source=f"the public_key of {path}"), request
    return parse_public_key(text, source=str(path)), None


def _read_text(path: Path, what: str) -> str:
    """The text of a small regular file; a private key is refused before anything else is looked at."""
    not_a_file = ConfigError(f"the {what} {path} is not a regular file", hint="give the path of the file itself")
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(descriptor, "rb") as stream:
            if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
                raise not_a_file
            data = stream.read(MAX_BYTES + 1)
    except IsADirectoryError:
        raise not_a_file from None
    except OSError as error:
        raise ConfigError(f"cannot read the {what} {path}: {error.strerror}",
                          hint="check the path and that you may read the file") from None
    if looks_private(data.decode("latin-1")):
        raise private_key_refused(str(path))
    if len(data) > MAX_BYTES:
        raise ConfigError(f"the {what} {path} is over {MAX_BYTES // 1024} KiB: it is not one",
                          hint="give the request file the operator sent, or their .pub file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"the {what} {path} is not UTF-8 text (byte {error.start})",
                          hint="give the request file the operator sent, or their .pub file") from None


def _request_from_text(text: str, source: str) -> AccessRequest:
    def refuse(reason: str) -> ConfigError:
        return ConfigError(f"the access request {source} is refused: {reason}",
                           hint="ask the operator to make a new request (hermes-ops access request)")

    try:
        data = json.loads(text, object_pairs_hook=_without_duplicates)
    except _DuplicateField as duplicate:
        raise refuse(f"field {duplicate} appears twice") from None
    except (ValueError, RecursionError) as error:
        where = f" (line {error.lineno}, column {error.colno})" if isinstance(error, json.JSONDecodeError) else ""
        raise refuse(f"it is not valid JSON{where}") from None
    if not isinstance(data, dict):
        raise refuse(f"it holds a JSON {type(data).__name__}, not an object")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise refuse("unknown fields " + ", ".join(_shown_name(name) for name in unknown[:5]))
    missing = [name for name in FIELDS if name not in data]
    if missing:
        raise refuse("missing fields " + ", ".join(missing))
    _check_fields(data, f"the access request {source}")
    return AccessRequest(**data)


class _DuplicateField(ValueError):
    pass


def _without_duplicates(pairs: list[tuple[str, object]]) -> dict:
    found = {}
    for name, value in pairs:
        if name in found:
            raise _DuplicateField(_shown_name(name))
        found[name] = value
    return found


def _check_fields(data: dict, source: str) -> None:
    """Every field of a request checked; ConfigError naming the first bad field (values are not shown)."""
    def refuse(name: str, rule: str) -> ConfigError:
        return ConfigError(f"{source} is refused: field {name} must be {rule}",
                           hint="ask the operator to make a new request (hermes-ops access request)")

    strings = [name for name in FIELDS if name not in ("port", "version")]
    for name in strings:
        if not isinstance(data[name], str):
            raise refuse(name, f"text, not {type(data[name]).__name__}")
    for name in ("port", "version"):
        if isinstance(data[name], bool) or not isinstance(data[name], int):
            raise refuse(name, f"a whole number, not {type(data[name]).__name__}")
    if data["version"] != VERSION:
        raise ConfigError(f"{source} is refused: it is version {data['version']}; this hermes-ops reads version "
                          f"{VERSION}", hint="use the hermes-ops version the operator used, or ask for a new request")
    if not _REQUEST_ID.fullmatch(data["request_id"]):
        raise refuse("request_id", "letters, digits, '.', '_' and '-' (at most 80)")
    for name, required in (("operator", True), ("reason", False)):
        value = data[name]
        if (required and not value.strip()) or len(value) > MAX_LINE_CHARS or any(
                unicodedata.category(char) in _FORBIDDEN_CATEGORIES for char in value):
            raise refuse(name, f"one printable line of {'1' if required else '0'} to {MAX_LINE_CHARS} characters")
    if not _HOST.fullmatch(data["host"]) or data["host"].startswith("-"):
        raise refuse("host", "a host name or address")
    if not 1 <= data["port"] <= 65535:
        raise refuse("port", "a TCP port (1 to 65535)")
    if not _USER.fullmatch(data["user"]):
        raise refuse("user", "a login name (letters, digits, '_', '.', '-'; at most 32)")
    if data["duration"]:
        try:
            parse_duration(data["duration"])
        except ConfigError:
            raise refuse("duration", f"empty (no expiry asked) or {DURATION_FORM}") from None
    if not _CREATED_AT.fullmatch(data["created_at"]):
        raise refuse("created_at", "a UTC time such as 2026-11-27T17:25:00Z")
    try:
        datetime.datetime.strptime(data["created_at"], "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise refuse("created_at", "a time on the calendar") from None
    if not _FINGERPRINT.fullmatch(data["fingerprint"]):
        raise refuse("fingerprint", "SHA256: and 43 base64 characters")
    key = parse_public_key(data["public_key"], source=f"the public_key of {source.removeprefix('the ')}")
    if key.fingerprint != data["fingerprint"]:
        raise ConfigError(f"{source} is refused: its public_key is not the key its fingerprint field names "
                          f"({key.fingerprint}, not {data['fingerprint']})",
                          hint="the request was changed after it was made: ask the operator for a new one "
                               "over a channel you trust")


def _shown_name(name: str) -> str:
    return repr(name if len(name) <= 40 else name[:40] + "...")
