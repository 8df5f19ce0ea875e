"""Host-side commands of the record archive (`~/.hermes/records/`, next to the audit log): pure builders.

Every record of every run on the host lives there as `<stem>.json` (the sealed summary) and
`<stem>.ipynb.gz` (the executed notebook), with `HEAD` naming the newest one of the host's
chain (`<sequence> <sha256>`). Storing is one compare-and-swap under `flock`: the new
record was sealed against the HEAD its writer read, and if another operator's record got in
first (HEAD moved), nothing is written and the exit code says so (`HEAD_MOVED`), for the
writer to seal again against the new HEAD. Files are never replaced.

Data travels on stdin (a tar of the two files) and comes back base64-encoded between marker
lines, so nothing of a record is ever an argument or shell code. Needs sh, flock, tar,
gzip, base64 and sha256sum on the host (Debian's essential packages).
"""

from __future__ import annotations

ARCHIVE_DIR = ".hermes/records"  # under $HOME
HEAD_MOVED = 75  # another record was archived meanwhile: seal again against the new HEAD
ALREADY_ARCHIVED = 73  # a file of this record is on the host already
NOT_A_RECORD = 65  # the upload held something other than a record's two files

_PREAMBLE = f'set -eu\ndir="$HOME/{ARCHIVE_DIR}"\n'

# Once the upload has arrived the script finishes whatever happens to the session: a hang-up
# between moving the files and moving HEAD would leave the chain's head behind its newest record.
_STORE = _PREAMBLE + f"""\
mkdir -p "$dir"
exec 9>>"$dir/.lock"
flock -w 60 9
current=$(cat "$dir/HEAD" 2>/dev/null || true)
if [ "$current" != "$1" ]; then printf 'HEAD is now %s\\n' "$current" >&2; exit {HEAD_MOVED}; fi
incoming=$(mktemp -d "$dir/.incoming.XXXXXX")
trap 'rm -rf "$incoming"' EXIT
tar -x -C "$incoming" --no-same-owner --no-same-permissions -f -
for file in "$incoming"/* "$incoming"/.[!.]*; do
  [ -e "$file" ] || continue
  name=${{file##*/}}
  case "$name" in
    *.json|*.ipynb.gz) ;;
    *) printf '%s is not a record file\\n' "$name" >&2; exit {NOT_A_RECORD} ;;
  esac
  [ -f "$file" ] || {{ printf '%s is not a file\\n' "$name" >&2; exit {NOT_A_RECORD}; }}
  if [ -e "$dir/$name" ]; then printf '%s is archived already\\n' "$name" >&2; exit {ALREADY_ARCHIVED}; fi
done
trap '' HUP INT TERM PIPE
chmod 0644 "$incoming"/*
printf '%s\\n' "$2" > "$dir/.HEAD.new"
mv "$incoming"/* "$dir"/
mv "$dir/.HEAD.new" "$dir/HEAD"
printf '%s\\n' "$3" >> "$HOME/.hermes/deploys.log" || echo "the audit log line was not written" >&2
"""

_DUMP = _PREAMBLE + """\
[ -d "$dir" ] || exit 0
cd "$dir"
printf 'head %s\\n' "$(cat HEAD 2>/dev/null || true)"
for json in *.json; do
  [ -f "$json" ] || continue
  stem=${json%.json}
  digest=-
  if [ -f "$stem.ipynb.gz" ]; then digest=$(gzip -dc "$stem.ipynb.gz" | sha256sum | cut -c1-64); fi
  printf 'record %s %s\\n' "$stem" "$digest"
  base64 "$json"
  printf 'end\\n'
done
"""

_FETCH = _PREAMBLE + """\
cd "$dir"
for name in "$1.json" "$1.ipynb.gz"; do
  [ -f "$name" ] || continue
  printf 'file %s\\n' "$name"
  base64 "$name"
  printf 'end\\n'
done
"""


def read_head() -> list[str]:
    """Print the HEAD line (`<sequence> <sha256>`), or nothing when the host has no archive yet."""
    return ["sh", "-c", _PREAMBLE + 'cat "$dir/HEAD" 2>/dev/null || true', "hermes-records-head"]


def store_record(expected_head: str, new_head: str, log_line: str) -> list[str]:
    """Store the record whose tar comes on stdin, if HEAD is still `expected_head`; then HEAD = `new_head`.

    The audit log gets `log_line` (the chain's new head in it) in the same locked step.
    """
    return ["sh", "-c", _STORE, "hermes-records-store", expected_head, new_head, log_line]


def dump_archive() -> list[str]:
    """`head <HEAD>`, then per record `record <stem> <sha256 of the notebook, or ->`, its JSON in base64, `end`."""
    return ["sh", "-c", _DUMP, "hermes-records-dump"]


def fetch_record(stem: str) -> list[str]:
    """Per file of the record `stem`: `file <name>`, the file in base64, `end`."""
    if not stem or "/" in stem or stem.startswith("."):
        raise ValueError(f"not a record name: {stem!r}")
    return ["sh", "-c", _FETCH, "hermes-records-fetch", stem]
