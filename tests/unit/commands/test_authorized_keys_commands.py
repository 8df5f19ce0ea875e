"""The authorized_keys scripts: exact argv, then run for real (sh, flock, coreutils) against a temporary HOME.

Each script goes through the runner's quoting (`join_argv`) and a real `sh`, as on the host.
The parser in `hermes_ops.access.host_file` reads what `read_state` prints here, so the two
cannot drift apart.
"""

from __future__ import annotations

import hashlib
import os
import grp
import pwd
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from hermes_ops.access.host_file import parse_state
from hermes_ops.commands import authorized_keys
from hermes_ops.errors import ConfigError
from hermes_ops.result import Result
from hermes_ops.ssh.commandline import join_argv
from tests.unit.commands.wire import HOSTILE

needs_tools = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in ("flock", "sha256sum", "base64", "stat", "mktemp")),
    reason="needs flock (util-linux) and GNU coreutils")

NAME = "hermes-authorized-keys"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ada@laptop"
ORIGINAL = f"# managed by hand\r\n{KEY}\r\nssh-rsa AAAAB3Nza caf\xe9".encode("latin-1")  # CRLF, no final newline
NEW = f"{KEY}\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBob bob@desk\n".encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run_here(argv: list[str], home: Path, stdin: bytes = b"", **environment: str) -> subprocess.CompletedProcess:
    """`argv` as the host runs it: quoted by the runner, read by a real `sh`, with HOME=`home`."""
    return subprocess.run(["sh", "-c", join_argv(argv, reveal=True)], input=stdin, capture_output=True,
                          env={**os.environ, "HOME": str(home), **environment}, cwd=home, timeout=60)


def as_result(completed: subprocess.CompletedProcess) -> Result:
    now = datetime.now(timezone.utc)
    return Result(host="core@localhost:22", command="read_state", exit_code=completed.returncode,
                  stdout=completed.stdout.decode(), stderr=completed.stderr.decode(), started_at=now, ended_at=now,
                  duration=0.0)


def keys_file(home: Path) -> Path:
    return home / ".ssh" / "authorized_keys"


def with_file(home: Path, content: bytes = ORIGINAL, mode: int = 0o640) -> Path:
    (home / ".ssh").mkdir(mode=0o700, exist_ok=True)
    path = keys_file(home)
    path.write_bytes(content)
    path.chmod(mode)
    return path


def leftovers(home: Path) -> list[str]:
    """Temporary files the replace script could have left in ~/.ssh."""
    directory = home / ".ssh"
    return sorted(name.name for name in directory.iterdir() if name.name != "authorized_keys") \
        if directory.exists() else []


def local_time(epoch: int, form: str) -> str:
    """`date -d @epoch +form` in the system zone (TZ unset), as sshd reads expiry-time."""
    environment = {name: value for name, value in os.environ.items() if name != "TZ"}
    return subprocess.run(["date", "-d", f"@{epoch}", f"+{form}"], capture_output=True, text=True, check=True,
                          env=environment).stdout.strip()


# --- argv -------------------------------------------------------------------------------------

def test_the_argument_lists():
    digest, other = sha256(b"old"), sha256(b"new")
    assert authorized_keys.read_state() == ["sh", "-c", authorized_keys._READ_STATE, NAME, ""]
    assert authorized_keys.read_state(86400) == ["sh", "-c", authorized_keys._READ_STATE, NAME, "86400"]
    assert authorized_keys.read_state(0)[3:] == [NAME, "0"]
    assert authorized_keys.replace_if_unchanged(digest, other) == ["sh", "-c", authorized_keys._REPLACE, NAME,
                                                                   digest, other]
    assert authorized_keys.replace_if_unchanged(None, other)[3:] == [NAME, "absent", other]
    for argv in (authorized_keys.read_state(), authorized_keys.replace_if_unchanged(digest, other)):
        assert '"$1"' in argv[2] and 'file="$HOME/.ssh/authorized_keys"' in argv[2]
        assert digest not in argv[2] and other not in argv[2]  # values travel as arguments, never as code
    assert '"$HOME/.hermes/authorized_keys.lock"' in authorized_keys._REPLACE
    assert "flock -w 30 9" in authorized_keys._REPLACE


@pytest.mark.parametrize("value", [-1, True, 1.5, "3600", "1; touch PWNED"])
def test_an_expiry_that_is_not_whole_seconds_is_refused(value):
    with pytest.raises(ConfigError, match="expiry_seconds"):
        authorized_keys.read_state(value)


@pytest.mark.parametrize("value", ["", "absent", "A" * 64, "0" * 63, "0" * 65, "$(touch PWNED)" + "0" * 50, 7])
def test_a_digest_that_is_not_sha256_hex_is_refused(value):
    with pytest.raises(ConfigError, match="expected_sha256"):
        authorized_keys.replace_if_unchanged(value, sha256(b""))
    with pytest.raises(ConfigError, match="new_sha256"):
        authorized_keys.replace_if_unchanged(sha256(b""), value)
    with pytest.raises(ConfigError, match="new_sha256"):
        authorized_keys.replace_if_unchanged(None, None)


# --- read_state, run for real ---------------------------------------------------------------

@needs_tools
def test_read_state_of_a_missing_file_gives_the_clock_only(tmp_path):
    completed = run_here(authorized_keys.read_state(), tmp_path)
    assert completed.returncode == 0, completed.stderr
    state = parse_state(as_result(completed))
    assert (state.exists, state.sha256, state.text, state.owner, state.mode) == (False, None, "", "", "")
    assert abs(state.now_epoch - datetime.now(timezone.utc).timestamp()) < 60
    assert state.now_local == local_time(state.now_epoch, "%Y%m%d%H%M%S")
    assert state.expiry_local is None and state.timezone == local_time(state.now_epoch, "%Z")
    assert not (tmp_path / ".ssh").exists() and not (tmp_path / ".hermes").exists()  # read-only


@needs_tools
def test_read_state_gives_the_exact_bytes_digest_owner_mode_and_expiry_in_the_system_zone(tmp_path):
    with_file(tmp_path)
    # A TZ from a login file must not move the expiry: sshd reads expiry-time in the system zone.
    completed = run_here(authorized_keys.read_state(90061), tmp_path, TZ="Pacific/Kiritimati")
    assert completed.returncode == 0, completed.stderr
    stdout = completed.stdout.decode()
    assert stdout.startswith("now_epoch=") and stdout.endswith("\nend\n")
    state = parse_state(as_result(completed))
    assert state.exists and state.text.encode("utf-8", "surrogateescape") == ORIGINAL
    assert state.sha256 == sha256(ORIGINAL)
    assert state.owner == f"{pwd.getpwuid(os.getuid()).pw_name}:{grp.getgrgid(os.getgid()).gr_name}"
    assert state.mode == "640"
    assert state.expiry_local == local_time(state.now_epoch + 90061, "%Y%m%d%H%M")
    assert len(state.now_local) == 14 and len(state.expiry_local) == 12
    assert keys_file(tmp_path).read_bytes() == ORIGINAL


@needs_tools
def test_read_state_of_an_empty_file(tmp_path):
    with_file(tmp_path, b"", 0o600)
    state = parse_state(as_result(run_here(authorized_keys.read_state(), tmp_path)))
    assert (state.exists, state.text, state.sha256, state.mode) == (True, "", sha256(b""), "600")


@needs_tools
def test_read_state_refuses_a_hostile_expiry_that_bypassed_the_builder(tmp_path):
    argv = authorized_keys.read_state(1)[:-1] + [f"1+$(touch {tmp_path}/PWNED)"]
    completed = run_here(argv, tmp_path)
    assert completed.returncode == 64 and b"must be digits" in completed.stderr
    assert not (tmp_path / "PWNED").exists()


# --- replace_if_unchanged, run for real ------------------------------------------------------

@needs_tools
def test_replace_keeps_mode_and_writes_the_content_byte_exact(tmp_path):
    path = with_file(tmp_path, mode=0o640)
    inode = path.stat().st_ino
    completed = run_here(authorized_keys.replace_if_unchanged(sha256(ORIGINAL), sha256(NEW)), tmp_path, NEW)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.decode() == f"REPLACED {sha256(NEW)}\n"
    assert path.read_bytes() == NEW and oct(path.stat().st_mode & 0o7777) == oct(0o640)
    assert path.stat().st_ino != inode  # a rename, not an in-place write
    assert leftovers(tmp_path) == []
    assert oct((tmp_path / ".hermes").stat().st_mode & 0o777) == oct(0o700)
    assert (tmp_path / ".hermes" / "authorized_keys.lock").exists()


@needs_tools
def test_replace_keeps_crlf_and_a_missing_final_newline(tmp_path):
    path = with_file(tmp_path, NEW, 0o600)
    completed = run_here(authorized_keys.replace_if_unchanged(sha256(NEW), sha256(ORIGINAL)), tmp_path, ORIGINAL)
    assert completed.returncode == 0, completed.stderr
    assert path.read_bytes() == ORIGINAL


@needs_tools
def test_a_conflict_exits_75_and_leaves_the_file_untouched(tmp_path):
    path = with_file(tmp_path)
    before = path.stat()
    completed = run_here(authorized_keys.replace_if_unchanged(sha256(b"what we read earlier"), sha256(NEW)),
                         tmp_path, NEW)
    assert completed.returncode == authorized_keys.CHANGED_EXIT == 75
    assert completed.stdout.decode() == f"CHANGED {sha256(ORIGINAL)}\n"
    assert b"changed since it was read" in completed.stderr
    assert path.read_bytes() == ORIGINAL and path.stat().st_ino == before.st_ino
    assert path.stat().st_mtime_ns == before.st_mtime_ns and leftovers(tmp_path) == []


@needs_tools
def test_a_file_expected_absent_that_exists_is_a_conflict(tmp_path):
    path = with_file(tmp_path)
    completed = run_here(authorized_keys.replace_if_unchanged(None, sha256(NEW)), tmp_path, NEW)
    assert completed.returncode == 75 and path.read_bytes() == ORIGINAL


@needs_tools
def test_a_missing_file_is_created_600_in_a_new_700_ssh_directory(tmp_path):
    completed = run_here(authorized_keys.replace_if_unchanged(None, sha256(NEW)), tmp_path, NEW)
    assert completed.returncode == 0, completed.stderr
    assert keys_file(tmp_path).read_bytes() == NEW
    assert oct(keys_file(tmp_path).stat().st_mode & 0o7777) == oct(0o600)
    assert oct((tmp_path / ".ssh").stat().st_mode & 0o7777) == oct(0o700)
    assert leftovers(tmp_path) == []


@needs_tools
def test_a_file_expected_but_missing_is_a_conflict(tmp_path):
    completed = run_here(authorized_keys.replace_if_unchanged(sha256(ORIGINAL), sha256(NEW)), tmp_path, NEW)
    assert completed.returncode == 75 and completed.stdout.decode() == "CHANGED absent\n"
    assert not keys_file(tmp_path).exists() and not (tmp_path / ".ssh").exists()


@needs_tools
@pytest.mark.parametrize("sent", [NEW[:-1], b"", NEW + b"ssh-ed25519 AAAA mallory\n"])
def test_stdin_that_does_not_match_its_digest_exits_65_and_leaves_nothing(tmp_path, sent):
    path = with_file(tmp_path)
    completed = run_here(authorized_keys.replace_if_unchanged(sha256(ORIGINAL), sha256(NEW)), tmp_path, sent)
    assert completed.returncode == authorized_keys.CORRUPTED_EXIT == 65
    assert b"nothing was written" in completed.stderr
    assert path.read_bytes() == ORIGINAL and leftovers(tmp_path) == []


@needs_tools
def test_a_symlinked_file_is_refused(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_bytes(ORIGINAL)
    (tmp_path / ".ssh").mkdir(mode=0o700)
    keys_file(tmp_path).symlink_to(target)
    completed = run_here(authorized_keys.replace_if_unchanged(sha256(ORIGINAL), sha256(NEW)), tmp_path, NEW)
    assert completed.returncode == 1 and b"symbolic link" in completed.stderr
    assert keys_file(tmp_path).is_symlink() and target.read_bytes() == ORIGINAL and leftovers(tmp_path) == []


@needs_tools
def test_a_held_lock_makes_the_writer_wait(tmp_path):
    """Another writer holds the flock: ours waits for it, then compares against what that writer left."""
    path = with_file(tmp_path)
    (tmp_path / ".hermes").mkdir(mode=0o700)
    lock_path = tmp_path / ".hermes" / "authorized_keys.lock"
    holder = subprocess.Popen(["flock", str(lock_path), "sh", "-c", 'read line; printf x >> "$1"', "holder",
                               str(path)], stdin=subprocess.PIPE)
    try:
        for _ in range(100):  # until the holder has the lock
            if subprocess.run(["flock", "-n", str(lock_path), "true"]).returncode != 0:
                break
            subprocess.run(["sleep", "0.05"])
        writer = subprocess.Popen(["sh", "-c", join_argv(authorized_keys.replace_if_unchanged(
            sha256(ORIGINAL), sha256(NEW)), reveal=True)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env={**os.environ, "HOME": str(tmp_path)})
        writer.stdin.write(NEW)
        writer.stdin.close()
        subprocess.run(["sleep", "0.3"])
        assert writer.poll() is None  # waiting for the lock
        holder.stdin.write(b"go\n")
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0
        assert writer.wait(timeout=30) == 75  # the holder changed the file: ours must not overwrite it
        writer.stdout.close()
        writer.stderr.close()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert path.read_bytes() == ORIGINAL + b"x"


@needs_tools
@pytest.mark.parametrize("value", [value for value in HOSTILE if value])
def test_hostile_text_in_the_content_and_home_is_data_never_code(tmp_path, value):
    home = tmp_path / f"home {value} $(touch PWNED)"  # the scripts run with the home as working directory
    home.mkdir()
    content = f"{KEY} {value} $(touch {tmp_path}/PWNED) `touch {tmp_path}/PWNED`\n".encode()
    completed = run_here(authorized_keys.replace_if_unchanged(None, sha256(content)), home, content)
    assert completed.returncode == 0, completed.stderr
    assert keys_file(home).read_bytes() == content
    state = parse_state(as_result(run_here(authorized_keys.read_state(5), home)))
    assert state.text.encode() == content and state.sha256 == sha256(content)
    assert not (tmp_path / "PWNED").exists() and not (home / "PWNED").exists()
