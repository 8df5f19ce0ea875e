"""The host builders: exact argument lists; the audit log scripts run for real against a temporary HOME."""

from __future__ import annotations

import os
import subprocess

import pytest

from hermes_ops.commands import host
from tests.unit.commands.wire import HOSTILE, words_received


def run_here(argv: list[str], home) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "HOME": str(home)}, cwd=home,
                          timeout=30)


def test_probes():
    assert host.hostname() == ["hostname"]
    assert host.http_status("http://127.0.0.1:8088/health") == [
        "curl", "--silent", "--output", "/dev/null", "--write-out", "%{http_code}", "--max-time", "5",
        "http://127.0.0.1:8088/health"]
    assert host.http_body("http://127.0.0.1:8088/version", timeout_seconds=3) == [
        "curl", "--silent", "--show-error", "--fail", "--max-time", "3", "http://127.0.0.1:8088/version"]
    assert host.disk_free_kilobytes() == ["df", "-Pk", "/"]
    assert host.disk_free_kilobytes("/var/lib/docker") == ["df", "-Pk", "/var/lib/docker"]


def test_the_audit_line_travels_as_an_argument_not_as_code():
    argv = host.append_audit_line("2026-11-27T04:40:09Z kind=deploy run=x")
    assert argv[:2] == ["sh", "-c"] and argv[3:] == ["hermes-audit", "2026-11-27T04:40:09Z kind=deploy run=x"]
    assert '"$1"' in argv[2] and "kind=deploy" not in argv[2]
    assert host.read_audit_log(20) == ["sh", "-c", 'tail -n "$1" "$HOME/.hermes/deploys.log" 2>/dev/null || true',
                                       "hermes-audit", "20"]


@pytest.mark.parametrize("value", [value for value in HOSTILE if value])
def test_hostile_urls_and_paths_reach_the_program_as_one_word(tmp_path, value):
    for argv in (host.http_status(value), host.http_body(value), host.disk_free_kilobytes(value)):
        assert words_received(argv, tmp_path) == argv
    assert not (tmp_path / "PWNED").exists()


def test_audit_lines_are_appended_verbatim_and_read_back(tmp_path):
    lines = [f"line {value} $(touch {tmp_path}/PWNED) `touch {tmp_path}/PWNED` %s %n \\ '\"" for value in HOSTILE]
    assert run_here(host.read_audit_log(), tmp_path).stdout == ""  # no log yet: nothing, and no error
    for line in lines:
        assert run_here(host.append_audit_line(line), tmp_path).returncode == 0
    assert (tmp_path / ".hermes" / "deploys.log").read_text() == "".join(f"{line}\n" for line in lines)
    assert run_here(host.read_audit_log(2), tmp_path).stdout == f"{lines[-2]}\n{lines[-1]}\n"
    assert not (tmp_path / "PWNED").exists()
