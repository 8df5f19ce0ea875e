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
