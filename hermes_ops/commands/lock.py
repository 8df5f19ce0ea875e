"""The host-side deploy lock as argument lists: a `flock` held by a process whose stdin is our channel.

The lock lives exactly as long as the holder's SSH channel: closing it, or losing the
connection, ends `cat`, and the kernel frees the flock. A dead holder can never leave a
stale lock; a hung one can be broken (its pid is in the holder file).

The holder line starts with `run=<run id> ` and ends with ` pid=<holder pid>`: that is the
fencing token. Every command a deploy runs to change the host is `fenced`: the host checks the
token and runs the command in one go, so a deploy whose lock was broken stops instead of racing
the one that took the lock next (`fence` is the same check alone, read-only).
"""

from __future__ import annotations

LOCK_FILE = ".hermes/deploy.lock"
HOLDER_FILE = ".hermes/deploy.lock.holder"
BUSY_EXIT = 75  # EX_TEMPFAIL
FENCE_REFUSED_EXIT = 76  # a fenced command that did not run: the lock is not ours any more
FENCE_REFUSAL = "hermes-fence"  # the first word of the line a refusal prints on stderr

_HOLD = f"""\
mkdir -p "$HOME/.hermes" || exit 1
exec 9>>"$HOME/{LOCK_FILE}"
if ! flock --nonblock 9; then
  echo BUSY
  cat "$HOME/{HOLDER_FILE}" 2>/dev/null
  exit {BUSY_EXIT}
fi
printf '%s pid=%s\\n' "$1" "$$" > "$HOME/{HOLDER_FILE}"
echo LOCKED
cat >/dev/null 9>&-
# Only our own line is removed: after a break, the file may already name the next holder.
if [ "$(cat "$HOME/{HOLDER_FILE}" 2>/dev/null)" = "$1 pid=$$" ]; then rm -f "$HOME/{HOLDER_FILE}"; fi
"""

# Read-only: a host never deployed to has no lock file, so nobody holds it; nothing is created.
_PROBE = f"""\
[ -e "$HOME/{LOCK_FILE}" ] || {{ echo FREE; exit 0; }}
exec 9<"$HOME/{LOCK_FILE}" || exit 1
# BUSY whether or not the holder line is still there (a holder that is ending removes it first).
if flock --nonblock 9; then echo FREE; else echo BUSY; cat "$HOME/{HOLDER_FILE}" 2>/dev/null || true; fi
"""

_BREAK = f"""\
holder=$(cat "$HOME/{HOLDER_FILE}" 2>/dev/null)
pid=$(printf '%s' "$holder" | sed -n 's/.* pid=\\([0-9][0-9]*\\)$/\\1/p')
if [ -z "$pid" ]; then echo NOHOLDER; exit 0; fi
kill "$pid" 2>/dev/null
# The holder is gone (or going): its line must not vouch for it any more.
if [ "$(cat "$HOME/{HOLDER_FILE}" 2>/dev/null)" = "$holder" ]; then rm -f "$HOME/{HOLDER_FILE}"; fi
echo "BROKEN $holder"
"""

# The fencing check both `fence` and `fenced` run: `lost` is empty while run "$1" holds the lock, else it says
# who (if anyone) holds it now.
_OURS = f"""\
holder=$(cat "$HOME/{HOLDER_FILE}" 2>/dev/null)
case "$holder" in
  "run=$1 "*)
    pid=${{holder##* pid=}}
    if kill -0 "$pid" 2>/dev/null; then lost=; else lost="our holder process $pid is gone"; fi ;;
  *) lost=${{holder:-nobody holds it now}} ;;
esac
"""

_FENCE = _OURS + """\
if [ -z "$lost" ]; then echo HELD; else echo LOST; printf '%s\\n' "$lost"; fi
"""

# `fence` and the command in one: "$1" our run id, "$2" a nonce naming this refusal's line, then the command.
_FENCED = _OURS + f"""\
[ -z "$lost" ] || {{ printf '{FENCE_REFUSAL} %s LOST %s\\n' "$2" "$lost" >&2; exit {FENCE_REFUSED_EXIT}; }}
shift 2
exec "$@"
"""


def hold(holder: str) -> list[str]:
    """Take the lock and keep it until our stdin closes; prints LOCKED, or BUSY and the holder line."""
    return ["sh", "-c", _HOLD, "hermes-lock", holder]


def probe() -> list[str]:
    """Read-only: FREE, or BUSY and the holder line (takes and drops the lock at once if free)."""
    return ["sh", "-c", _PROBE, "hermes-lock"]


def break_lock() -> list[str]:
    """End the holder process (its flock goes with it); prints BROKEN and the holder line, or NOHOLDER."""
    return ["sh", "-c", _BREAK, "hermes-lock"]


def fence(run_id: str) -> list[str]:
    """Read-only: HELD if run `run_id` still holds the lock, else LOST and who (if anyone) holds it now."""
    return ["sh", "-c", _FENCE, "hermes-fence", run_id]


def fenced(run_id: str, nonce: str, argv: list[str]) -> list[str]:
    """`argv`, run (exec'd, same process) only while run `run_id` still holds the lock: the fencing check and
    the command in one round trip. Refused, nothing runs: it exits `FENCE_REFUSED_EXIT` and its stderr line
    is `hermes-fence NONCE LOST <who holds it now>` (`facts.lock.fence_refusal` reads it)."""
    return [*fence_guard(run_id, nonce), *argv]


def fence_guard(run_id: str, nonce: str) -> list[str]:
    """`fenced` without the command: what goes in front of it (`SSHRunner.run(guard=...)`)."""
    return ["sh", "-c", _FENCED, "hermes-fenced", run_id, nonce]
