"""Argument lists for plain host commands (hostname, HTTP probes, the audit log). No I/O here."""

from __future__ import annotations

AUDIT_LOG = ".hermes/deploys.log"


def hostname() -> list[str]:
    return ["hostname"]


def http_status(url: str, timeout_seconds: int = 5) -> list[str]:
    """Prints the HTTP status code (000 when nothing answers); curl exits 0 either way."""
    return ["curl", "--silent", "--output", "/dev/null", "--write-out", "%{http_code}",
            "--max-time", str(timeout_seconds), url]


def http_body(url: str, timeout_seconds: int = 5) -> list[str]:
    return ["curl", "--silent", "--show-error", "--fail", "--max-time", str(timeout_seconds), url]


def append_audit_line(line: str) -> list[str]:
    """Append one line to ~/.hermes/deploys.log; the line travels as "$1", never as shell code."""
    script = f'mkdir -p "$HOME/.hermes" && printf "%s\\n" "$1" >> "$HOME/{AUDIT_LOG}"'
    return ["sh", "-c", script, "hermes-audit", line]


def read_audit_log(lines: int = 50) -> list[str]:
    return ["sh", "-c", f'tail -n "$1" "$HOME/{AUDIT_LOG}" 2>/dev/null || true', "hermes-audit", str(lines)]


def disk_free_kilobytes(path: str = "/") -> list[str]:
    """POSIX `df` output (one line per filesystem, 1K blocks): the 4th column is what is available."""
    return ["df", "-Pk", path]


# Runs on the host, so the deploy sees the app answer within one pause, not one SSH round trip of several
# commands (and waits inside one journaled command). Arguments arrive as $1.. and are never shell code.
_WAIT_FOR_APP = r"""name=$1 image=$2 url=$3 limit_ms=$4 pause=$5
start=$(date +%s%3N) seen=" " last="no container yet"
while :; do
  elapsed=$(($(date +%s%3N) - start))
  if [ "$elapsed" -ge "$limit_ms" ]; then printf 'last %s\ngave-up %s\n' "$last" "$elapsed"; exit 1; fi
  state=$(docker inspect --type container --format '{{.Image}} {{.State.Running}} {{.Id}}' "$name" 2>/dev/null) \
    || state=
  if [ -n "$state" ]; then
    running_image=${state%% *} rest=${state#* }
    running=${rest%% *} id=${rest#* }
    if [ "$running_image" = "$image" ]; then
      case $seen in *" $id "*) ;; *) seen="$seen$id " && printf 'seen %s\n' "$id" ;; esac
      if [ "$running" = true ] && [ "$(curl --silent --output /dev/null --write-out '%{http_code}' \
          --max-time 2 "$url")" = 200 ]; then
        printf 'serving %s\n' $(($(date +%s%3N) - start))
        exit 0
      fi
    fi
    if [ "$running" = true ]; then last="running on $running_image"; else last="not running on $running_image"; fi
  fi
  sleep "$pause"
done"""


def wait_for_app(container: str, image: str, health_url: str, timeout_seconds: float,
                 pause_seconds: float = 0.02) -> list[str]:
    """Wait on the host until `container` runs `image` and `health_url` answers 200, for at most `timeout_seconds`.

    Prints `seen ID` for each container started from `image`, then `serving MS` (exit 0), or `last WHAT`
    and `gave-up MS` (exit 1).
    """
    return ["sh", "-c", _WAIT_FOR_APP, "hermes-wait", container, image, health_url,
            str(int(timeout_seconds * 1000)), f"{pause_seconds:g}"]
