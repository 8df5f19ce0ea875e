"""The `core` user's ~/.ssh/authorized_keys as argument lists: read it with the host's clock, replace it safely.

Two commands make a compare-and-swap edit (`hermes_ops.access.host_file` runs them):

- `read_state` prints the file (base64, so CRLF and a missing final newline survive), its
  sha256, owner and mode, and the host's clock and time zone: sshd reads an `expiry-time`
  option in the host's local time, so the expiry is computed there, not on the laptop.
- `replace_if_unchanged` writes the new content, sent on stdin, only if the file still has
  the digest that was read; otherwise it exits `CHANGED_EXIT` and writes nothing. Writers
  hold one flock, and the new file goes in by an atomic rename, so sshd never sees half a
  file and a key added by someone else meanwhile is never silently dropped.

Every variable part travels as a positional argument ("$1", "$2"), never inside the script.
"""

from __future__ import annotations

import re

from hermes_ops.errors import ConfigError

KEYS_FILE = ".ssh/authorized_keys"
LOCK_FILE = ".hermes/authorized_keys.lock"
LOCK_WAIT_SECONDS = 30
CHANGED_EXIT = 75  # EX_TEMPFAIL: the file changed since it was read; read again and retry
CORRUPTED_EXIT = 65  # EX_DATAERR: stdin did not arrive intact; nothing was written
ABSENT = "absent"  # what replace_if_unchanged expects when the file must not exist yet
CONTENT_MARKER = "content-base64:"

_SHA256 = re.compile(r"[0-9a-f]{64}")

# Prints `name=value` lines, then CONTENT_MARKER, the file's base64 lines and `end`.
_READ_STATE = f"""\
case "$1" in *[!0-9]*) printf 'expiry seconds must be digits, not %s\\n' "$1" >&2; exit 64 ;; esac
unset TZ  # sshd reads expiry-time in the system zone (/etc/localtime), whatever a login file set
now=$(date +%s) || exit 1
local_now=$(date -d "@$now" +%Y%m%d%H%M%S) || exit 1
zone=$(date -d "@$now" +%Z) || exit 1
echo "now_epoch=$now"
echo "now_local=$local_now"
if [ -n "$1" ]; then
  expiry=$(date -d "@$((now + $1))" +%Y%m%d%H%M) || exit 1
  echo "expiry_local=$expiry"
fi
echo "timezone=$zone"
file="$HOME/{KEYS_FILE}"
if [ ! -e "$file" ]; then echo "exists=no"; exit 0; fi
sum=$(sha256sum < "$file") || exit 1
owner=$(stat -L -c %U:%G "$file") || exit 1
mode=$(stat -L -c %a "$file") || exit 1
echo "exists=yes"
echo "sha256=${{sum%% *}}"
echo "owner=$owner"
echo "mode=$mode"
echo "{CONTENT_MARKER}"
base64 < "$file" || exit 1
echo "end"
"""

_REPLACE = f"""\
umask 077
file="$HOME/{KEYS_FILE}"
directory="${{file%/*}}"
if [ ! -d "$HOME/.hermes" ]; then mkdir -m 700 "$HOME/.hermes" 2>/dev/null || [ -d "$HOME/.hermes" ] || exit 1; fi
exec 9>>"$HOME/{LOCK_FILE}" || exit 1
if ! flock -w {LOCK_WAIT_SECONDS} 9; then
  echo "another edit of $file held $HOME/{LOCK_FILE} for {LOCK_WAIT_SECONDS}s; nothing was written" >&2
  exit 1
fi
if [ -L "$file" ]; then
  echo "$file is a symbolic link: refusing to replace it; edit the file it points to by hand" >&2
  exit 1
fi
if [ -e "$file" ]; then
  current=$(sha256sum < "$file") || exit 1
  current=${{current%% *}}
else
  current={ABSENT}
fi
if [ "$current" != "$1" ]; then
  echo "CHANGED $current"
  echo "$file changed since it was read (sha256 now $current); nothing was written" >&2
  exit {CHANGED_EXIT}
fi
if [ ! -d "$directory" ]; then mkdir -m 700 "$directory" 2>/dev/null || [ -d "$directory" ] || exit 1; fi
temporary=$(mktemp "$directory/.authorized_keys.XXXXXX") || exit 1
trap 'rm -f "$temporary"' EXIT
trap 'exit 1' HUP INT TERM
cat > "$temporary" || exit 1
received=$(sha256sum < "$temporary") || exit 1
received=${{received%% *}}
if [ "$received" != "$2" ]; then
  echo "the new content arrived with sha256 $received, not $2; nothing was written" >&2
  exit {CORRUPTED_EXIT}
fi
if [ -e "$file" ]; then
  chmod --reference="$file" "$temporary" || exit 1
  chown --reference="$file" "$temporary" || exit 1
else
  chmod 600 "$temporary" || exit 1
fi
sync "$temporary" 2>/dev/null  # coreutils >= 8.24 fsyncs just this file; older ones sync everything
mv -f "$temporary" "$file" || exit 1
trap - EXIT
sync "$directory" 2>/dev/null  # make the rename itself durable
echo "REPLACED $2"
"""


def read_state(expiry_seconds: int | None = None) -> list[str]:
    """Read-only: the host's clock and time zone, and ~/.ssh/authorized_keys (exists, sha256, owner, mode, bytes).

    With `expiry_seconds`, also now + that many seconds as YYYYMMDDHHMM in the host's local
    time: the form of sshd's `expiry-time` option, which sshd reads in its own time zone.

    Raises:
        ConfigError: `expiry_seconds` is not a whole number of seconds >= 0.
    """
    if expiry_seconds is None:
        return ["sh", "-c", _READ_STATE, "hermes-authorized-keys", ""]
    if isinstance(expiry_seconds, bool) or not isinstance(expiry_seconds, int) or expiry_seconds < 0:
        raise ConfigError(f"expiry_seconds must be a whole number of seconds >= 0, not {expiry_seconds!r}",
                          step="authorized_keys", hint="pass e.g. 86400 for a key that expires in a day")
    return ["sh", "-c", _READ_STATE, "hermes-authorized-keys", str(expiry_seconds)]


def replace_if_unchanged(expected_sha256: str | None, new_sha256: str) -> list[str]:
    """Replace ~/.ssh/authorized_keys with stdin, only if its sha256 is still `expected_sha256`.

    `expected_sha256` None means the file must not exist yet. Holding the flock on
    ~/.hermes/authorized_keys.lock (waiting up to 30 s), it exits CHANGED_EXIT (75) without
    writing if the file changed; CORRUPTED_EXIT (65) if stdin's sha256 is not `new_sha256`;
    0 (printing `REPLACED <sha256>`) only once the new content is in place, with the old
    file's owner and mode (600 for a new file). No temporary file is left on any path.

    Raises:
        ConfigError: a digest is not 64 lowercase hex digits.
    """
    for name, digest in (("expected_sha256", expected_sha256), ("new_sha256", new_sha256)):
        if not (digest is None and name == "expected_sha256") and not (
                isinstance(digest, str) and _SHA256.fullmatch(digest)):
            raise ConfigError(f"{name} must be a sha256 as 64 lowercase hex digits, not {str(digest)[:80]!r}",
                              step="authorized_keys", hint="pass hashlib.sha256(content).hexdigest()")
    return ["sh", "-c", _REPLACE, "hermes-authorized-keys", expected_sha256 or ABSENT, new_sha256]
