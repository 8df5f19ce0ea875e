"""Compare-and-swap edits of ~core/.ssh/authorized_keys: on the sandbox's real sshd, and on a local HOME.

The sandbox tests share the suite's sandbox host: a fixture puts the file's original bytes
back after each one, whatever happened. The local tests run the same scripts under a real
`sh` against a temporary HOME, where another writer can be slipped in at an exact moment.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from hermes_ops.access import host_file
from hermes_ops.access.host_file import EditConflict, HostKeysFile
from hermes_ops.commands import authorized_keys as commands
from hermes_ops.errors import CommandFailed, ConfigError
from hermes_ops.result import Result
from hermes_ops.ssh import SSHTarget, connect, fingerprint
from hermes_ops.ssh.commandline import join_argv

sandbox_test = pytest.mark.sandbox


def make_key(directory: Path, name: str) -> tuple[Path, str]:
    """A fresh ed25519 key pair (local ssh-keygen): its private key path and its public line."""
    path = directory / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"hermes-test-{name}", "-f", str(path)],
                   check=True, capture_output=True, timeout=30)
    return path, path.with_name(f"{name}.pub").read_text().strip()


def appending(line: str):
    """A transform adding `line` (after a final newline, added if missing); a no-op if it is there."""
    def transform(state: HostKeysFile) -> str | None:
        if line in state.text.splitlines():
            return None
        text = state.text if not state.text or state.text.endswith("\n") else state.text + "\n"
        return f"{text}{line}\n"
    return transform


class Recording:
    """Wraps a run function and keeps every argv it was given."""

    def __init__(self, run):
        self.inner = run
        self.commands: list[list[str]] = []

    def __call__(self, argv, **options) -> Result:
        self.commands.append(list(argv))
        return self.inner(argv, **options)


# --- on the sandbox host -------------------------------------------------------------------------

@pytest.fixture
def target(sandbox) -> SSHTarget:
    return SSHTarget(host=sandbox.host, port=int(sandbox.port), user=sandbox.user, key_path=str(sandbox.key_path),
                     known_hosts=str(sandbox.known_hosts), connect_timeout=15.0, keepalive_interval=5.0,
                     use_agent=False)


@pytest.fixture
def runner(target):
    with connect(target) as runner:
        yield runner


@pytest.fixture
def original(runner):
    """The file as the test found it; put back byte for byte afterwards (the suite shares this sandbox)."""
    before = host_file.read(runner.run)
    assert before.exists, "the sandbox's authorized_keys should hold the operator key"
    yield before
    restored = host_file.edit(runner.run, lambda state: before.text)
    after = host_file.read(runner.run)
    assert after.sha256 == before.sha256 and (after.owner, after.mode) == (before.owner, before.mode), restored


@sandbox_test
def test_read_the_sandbox_file_and_which_key_this_session_used(runner, original, sandbox):
    operator_public = Path(f"{sandbox.key_path}.pub").read_text().split()
    lines = [line.split() for line in original.text.splitlines()]
    assert any(line[:2] == operator_public[:2] for line in lines)
    assert original.owner == f"{sandbox.user}:{sandbox.user}" and original.mode == "600"
    assert original.sha256 == hashlib.sha256(host_file.encode(original.text)).hexdigest()
    assert len(original.now_local) == 14 and original.expiry_local is None and original.timezone
    host_now = int(runner.run(["date", "+%s"], timeout=30).stdout)
    assert abs(host_now - original.now_epoch) < 30
    with_expiry = host_file.read(runner.run, expiry_seconds=3600)
    assert len(with_expiry.expiry_local) == 12 and with_expiry.expiry_local > with_expiry.now_local[:12]
    operator_key = subprocess.run(["ssh-keygen", "-l", "-f", f"{sandbox.key_path}.pub"], capture_output=True,
                                  text=True, check=True).stdout.split()[1]
    assert runner.authenticated_key_fingerprint == operator_key
    assert runner.host_key_fingerprint != operator_key


@sandbox_test
def test_an_added_key_lands_with_mode_and_owner_kept_and_sshd_accepts_both(runner, original, target, tmp_path):
    key_path, line = make_key(tmp_path, "added")
    result = host_file.edit(runner.run, appending(line))
    assert result.changed and result.attempts == 1 and result.before.sha256 == original.sha256
    after = host_file.read(runner.run)
    assert after.text == result.after_text and after.text.startswith(original.text.rstrip("\n"))
    assert line in after.text.splitlines()
    assert (after.owner, after.mode) == (original.owner, original.mode)
    listing = runner.run(["sh", "-c", 'ls -A "$HOME/.ssh"'], timeout=30).stdout.split()
    assert not [name for name in listing if name.startswith(".authorized_keys.")]  # no temporary file left
    with connect(target) as again:  # sshd still takes the operator key...
        assert again.run(["true"], timeout=30).ok
    added = SSHTarget(host=target.host, port=target.port, user=target.user, key_path=str(key_path),
                      known_hosts=target.known_hosts, connect_timeout=15.0, use_agent=False)
    with connect(added) as newcomer:  # ...and reads the new line
        assert newcomer.authenticated_key_fingerprint == fingerprint_of(key_path)


def fingerprint_of(key_path: Path) -> str:
    import paramiko

    return fingerprint(paramiko.PKey.from_path(str(key_path)))


@sandbox_test
def test_a_no_op_transform_runs_no_write(runner, original, sandbox):
    operator_line = Path(f"{sandbox.key_path}.pub").read_text().strip()
    seen = []
    for transform in (lambda state: seen.append(state) or None, lambda state: state.text):
        recording = Recording(runner.run)
        result = host_file.edit(recording, transform)
        assert not result.changed and result.attempts == 1 and result.after_text == original.text
        assert recording.commands == [commands.read_state()]
    assert seen[0].sha256 == original.sha256
    if operator_line in original.text.splitlines():
        recording = Recording(runner.run)
        assert not host_file.edit(recording, appending(operator_line)).changed
        assert len(recording.commands) == 1


@sandbox_test
def test_two_racing_edits_both_land(target, original, tmp_path):
    lines = [make_key(tmp_path, name)[1] for name in ("racer-one", "racer-two")]
    both_read = threading.Barrier(2, timeout=30)
    outcomes: dict[str, object] = {}

    def racer(line: str) -> None:
        calls = []

        def transform(state: HostKeysFile) -> str | None:
            calls.append(state)
            if len(calls) == 1:
                both_read.wait()  # both have read the same state before either writes
            return appending(line)(state)

        try:
            with connect(target) as own_runner:
                outcomes[line] = (host_file.edit(own_runner.run, transform), calls)
        except BaseException as error:  # reported by the main thread
            outcomes[line] = error

    threads = [threading.Thread(target=racer, args=(line,)) for line in lines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for line in lines:
        assert not isinstance(outcomes.get(line), BaseException), outcomes.get(line)
    edits = [outcomes[line][0] for line in lines]
    assert all(edit.changed for edit in edits)
    assert sorted(edit.attempts for edit in edits) == [1, 2]  # the loser got 75, read again, re-applied
    assert all(outcomes[line][1][0].sha256 == original.sha256 for line in lines)
    with connect(target) as runner:
        final = host_file.read(runner.run)
    assert all(line in final.text.splitlines() for line in lines)
    assert final.text.startswith(original.text.rstrip("\n")) and (final.owner, final.mode) == (original.owner,
                                                                                                  original.mode)


@sandbox_test
def test_a_transform_that_raises_leaves_the_file_untouched(runner, original):
    recording = Recording(runner.run)

    def broken(state: HostKeysFile) -> str:
        raise RuntimeError("the transform failed")

    with pytest.raises(RuntimeError, match="the transform failed"):
        host_file.edit(recording, broken)
    assert recording.commands == [commands.read_state()]
    assert host_file.read(runner.run).sha256 == original.sha256


# --- on a local HOME (the same scripts under a real sh), for exact interleavings ------------------

class LocalHost:
    """A run function executing argv like the host does (quoted once, read by sh) with HOME=`home`."""

    def __init__(self, home: Path):
        self.home = home

    def __call__(self, argv, *, timeout=None, check=True, stdin=None, stream=None) -> Result:
        started = datetime.now(timezone.utc)
        completed = subprocess.run(["sh", "-c", join_argv(argv, reveal=True)], input=stdin or b"",
                                   capture_output=True, env={**os.environ, "HOME": str(self.home)},
                                   cwd=self.home, timeout=timeout)
        return Result(host="core@local:22", command=join_argv(argv, reveal=False), exit_code=completed.returncode,
                      stdout=completed.stdout.decode(), stderr=completed.stderr.decode(), started_at=started,
                      ended_at=datetime.now(timezone.utc), duration=0.0)

    @property
    def keys_file(self) -> Path:
        return self.home / ".ssh" / "authorized_keys"


@pytest.fixture
def local(tmp_path) -> LocalHost:
    home = tmp_path / "home"
    home.mkdir()
    return LocalHost(home)


def test_a_missing_file_is_read_as_absent_then_created(local):
    state = host_file.read(local)
    assert (state.exists, state.sha256, state.text) == (False, None, "")
    result = host_file.edit(local, appending("ssh-ed25519 AAAA first"))
    assert result.changed and local.keys_file.read_bytes() == b"ssh-ed25519 AAAA first\n"
    assert oct(local.keys_file.stat().st_mode & 0o777) == oct(0o600)


def test_non_utf8_bytes_and_crlf_survive_an_edit(local):
    local.keys_file.parent.mkdir(mode=0o700)
    local.keys_file.write_bytes(b"ssh-rsa AAAA caf\xe9\r\nssh-ed25519 AAAA old")
    host_file.edit(local, appending("ssh-ed25519 AAAA new"))
    assert local.keys_file.read_bytes() == b"ssh-rsa AAAA caf\xe9\r\nssh-ed25519 AAAA old\nssh-ed25519 AAAA new\n"


def test_a_change_between_read_and_write_is_kept_and_ours_is_reapplied(local):
    local.keys_file.parent.mkdir(mode=0o700)
    local.keys_file.write_text("ssh-ed25519 AAAA zero\n")
    seen: list[str] = []

    def transform(state: HostKeysFile) -> str:
        seen.append(state.text)
        if len(seen) == 1:  # someone else's edit lands after our read
            local.keys_file.write_text(state.text + "ssh-ed25519 AAAA theirs\n")
        return appending("ssh-ed25519 AAAA ours")(state)

    result = host_file.edit(local, transform)
    assert result.changed and result.attempts == 2
    assert seen == ["ssh-ed25519 AAAA zero\n", "ssh-ed25519 AAAA zero\nssh-ed25519 AAAA theirs\n"]
    assert local.keys_file.read_text() == "ssh-ed25519 AAAA zero\nssh-ed25519 AAAA theirs\nssh-ed25519 AAAA ours\n"


def test_a_file_that_keeps_changing_gives_up_with_a_clear_error(local):
    local.keys_file.parent.mkdir(mode=0o700)
    local.keys_file.write_text("")

    def transform(state: HostKeysFile) -> str:
        with local.keys_file.open("a") as handle:
            handle.write("ssh-ed25519 AAAA someone-else\n")
        return state.text + "ssh-ed25519 AAAA ours\n"

    with pytest.raises(EditConflict) as caught:
        host_file.edit(local, transform, attempts=3)
    assert isinstance(caught.value, CommandFailed) and caught.value.result.exit_code == 75
    text = str(caught.value)
    assert "core@local:22" in text and "kept changing" in text and "3 times" in text and "what to do:" in text
    assert "ours" not in local.keys_file.read_text() and local.keys_file.read_text().count("someone-else") == 3


def test_content_that_arrives_damaged_is_refused_and_nothing_is_written(local):
    local.keys_file.parent.mkdir(mode=0o700)
    local.keys_file.write_text("ssh-ed25519 AAAA zero\n")

    def damaging(argv, **options):
        if options.get("stdin") is not None:
            options["stdin"] = options["stdin"][:-1]
        return local(argv, **options)

    with pytest.raises(CommandFailed, match="arrived with sha256") as caught:
        host_file.edit(damaging, appending("ssh-ed25519 AAAA new"))
    assert caught.value.result.exit_code == 65 and "did not arrive intact" in str(caught.value)
    assert local.keys_file.read_text() == "ssh-ed25519 AAAA zero\n"
    assert sorted(path.name for path in local.keys_file.parent.iterdir()) == ["authorized_keys"]


def test_the_new_content_travels_on_stdin_never_in_argv(local):
    secret_looking = "ssh-ed25519 AAAA comment-that-must-not-show-in-ps"
    recording = Recording(local)
    host_file.edit(recording, appending(secret_looking))
    assert len(recording.commands) == 2
    assert not any(secret_looking in word for argv in recording.commands for word in argv)


def test_a_failed_read_says_why(local):
    local.keys_file.parent.mkdir(mode=0o700)
    local.keys_file.write_text("x\n")
    local.keys_file.chmod(0o000)
    if os.access(local.keys_file, os.R_OK):  # root reads it anyway: make it a directory instead
        local.keys_file.chmod(0o600)
        local.keys_file.unlink()
        local.keys_file.mkdir()
    with pytest.raises(CommandFailed) as caught:
        host_file.read(local)
    assert "core@local:22" in str(caught.value) and caught.value.result.exit_code not in (0, None)


def test_bad_arguments_are_refused_before_anything_runs(local):
    recording = Recording(local)
    for attempts in (0, -1, True, 2.0):
        with pytest.raises(ConfigError, match="attempts"):
            host_file.edit(recording, appending("x"), attempts=attempts)
    with pytest.raises(ConfigError, match="expiry_seconds"):
        host_file.read(recording, expiry_seconds=-5)
    assert recording.commands == []
    with pytest.raises(ConfigError, match="not text"):
        host_file.edit(recording, lambda state: b"bytes\n")
    assert not local.keys_file.exists()


def test_output_that_is_cut_or_garbled_is_an_error_not_a_wrong_state(local):
    local.keys_file.parent.mkdir(mode=0o700)
    local.keys_file.write_text("ssh-ed25519 AAAA zero\n")
    completed = local(commands.read_state())
    assert host_file.parse_state(completed).text == "ssh-ed25519 AAAA zero\n"
    cut = completed.stdout[:-len("end\n")]
    for stdout in (cut, completed.stdout + "more\n", completed.stdout.replace("=yes", "=maybe"), "now_epoch=1\n",
                   completed.stdout.replace("content-base64:", "content:"), cut + "!!!!\nend\n"):
        with pytest.raises(CommandFailed, match="unexpected answer"):
            host_file.parse_state(replace(completed, stdout=stdout))
    with pytest.raises(CommandFailed, match="too big"):
        host_file.parse_state(replace(completed, truncated=True))
    # a digest that does not match the bytes: the file changed between the two reads; read() reads again
    assert host_file.parse_state(replace(completed, stdout=completed.stdout.replace("sha256=", "sha256=0"))) is None


def test_no_session_no_authenticated_key():
    from hermes_ops.ssh import SSHRunner

    runner = SSHRunner(SSHTarget(host="203.0.113.7", user="core"))  # connects lazily: nothing is contacted
    assert runner.authenticated_key_fingerprint is None and runner.host_key_fingerprint is None
