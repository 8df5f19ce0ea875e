"""What the reliability drills (issue 9) share: driving the CLI, making commits, and the four closing checks.

Every drill ends with `assert_four_checks`: (1) what the sandbox serves (GET version_url, health 200) is what
the record's `serving_after.commit` says, (2) the deploy lock is free, (3) the record's outcome is the true one,
(4) the host audit log has the run's line with that outcome. A drill whose run is refused before any host
contact ends with `assert_refused_before_host` instead.

The checks read the sandbox from the outside wherever they can (HTTP, `docker` on the sandbox's own engine,
the origin repository), so they do not trust the code they check.
"""

from __future__ import annotations

import json
import os
import re
import secrets as random_tokens
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from hermes_ops.runbook.hostlog import lock_status, read_host_log
from hermes_ops.sandbox.host import http_get

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "hermes_ops" / "sandbox" / "service_template"
GIT_IDENTITY = ["-c", "user.name=Hermes Drill", "-c", "user.email=drill@hermes.invalid"]
COMMIT_LABEL = "io.hermes.commit"
SUCCESS_OUTCOMES = ("success", "nothing-new", "dry-run")
OUTCOMES_WITH_FAILURE = ("failed", "interrupted", "rolled-back", "abandoned")


# -- the CLI, as an operator runs it -----------------------------------------------------------------
def run_cli(*args: str, env: dict | None = None, timeout: float = 300, preexec_fn=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hermes_ops.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, preexec_fn=preexec_fn, stdin=subprocess.DEVNULL)


def deploy_arguments(params_file, records: Path | None, *parameters: str, extra: tuple[str, ...] = ()) -> list[str]:
    arguments = ["deploy", "-f", str(params_file)]
    if records is not None:
        arguments += ["--records-dir", str(records)]
    arguments += list(extra)
    for name, value in zip(parameters[::2], parameters[1::2]):
        arguments += ["-p", name, value]
    return arguments


def deploy(sandbox, records: Path, *parameters: str, extra: tuple[str, ...] = (), env: dict | None = None,
           timeout: float = 300) -> tuple[subprocess.CompletedProcess, dict | None]:
    """`hermes-ops deploy` to completion; returns the CLI result and its record (None if it printed none)."""
    cli = run_cli(*deploy_arguments(sandbox.params_file, records, *parameters, extra=extra), env=env,
                  timeout=timeout)
    return cli, record_printed_by(cli)


def start_deploy(sandbox, records: Path, *parameters: str, extra: tuple[str, ...] = ()) -> subprocess.Popen:
    """A deploy in the background, in its own process group (so a drill can signal the whole group)."""
    return subprocess.Popen([sys.executable, "-m", "hermes_ops.cli",
                             *deploy_arguments(sandbox.params_file, records, *parameters, extra=extra)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            start_new_session=True)


def signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def finish(process: subprocess.Popen, timeout: float = 180) -> tuple[str, str]:
    """Wait for a background deploy; kill its group if it does not end within `timeout`."""
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        signal_group(process, signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=30)
        raise AssertionError(f"the deploy did not end within {timeout}s of being told to; stderr tail:\n"
                             f"{stderr[-3000:]}") from None


def record_printed_by(cli) -> dict | None:
    """The JSON summary next to the notebook whose path is the CLI's last stdout line (None if there is none)."""
    stdout = cli.stdout if isinstance(cli, subprocess.CompletedProcess) else cli
    lines = (stdout or "").strip().splitlines()
    if not lines:
        return None
    path = Path(lines[-1].strip())
    if path.suffix != ".ipynb" or not path.with_suffix(".json").is_file():
        return None
    return json.loads(path.with_suffix(".json").read_text())


def journals(records: Path) -> list[tuple[Path, dict]]:
    """Every readable JSON record or journal under `records` (recursively)."""
    found = []
    for path in sorted(Path(records).rglob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("run_id"):
            found.append((path, data))
    return found


def record_of_run(records: Path, run_id: str) -> tuple[Path, dict]:
    """The (newest) record of `run_id` in `records`, whatever its file is called."""
    matches = [(path, data) for path, data in journals(records) if data.get("run_id") == run_id]
    assert matches, f"no record of run {run_id} in {records}: {sorted(p.name for p in Path(records).iterdir())}"
    return max(matches, key=lambda match: match[0].stat().st_mtime)


def wait_for_step(records: Path, step_name: str, timeout: float = 120) -> dict:
    """Until some run's journal in `records` shows `step_name` running; returns that journal."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for _, journal in journals(records):
            if any(step.get("name") == step_name and step.get("status") == "running"
                   for step in journal.get("steps", [])):
                return journal
        time.sleep(0.2)
    raise AssertionError(f"no run in {records} reached step {step_name} within {timeout}s")


def wait_for_journal(records: Path, predicate, what: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for _, journal in journals(records):
            if predicate(journal):
                return journal
        time.sleep(0.2)
    raise AssertionError(f"no journal in {records} shows {what} within {timeout}s")


# -- the sandbox, read from outside ---------------------------------------------------------------------
def docker(host, *args: str, check: bool = True) -> str:
    return host.run_docker(["docker", *args], timeout=60, check=check).stdout.decode(errors="replace").strip()


def in_admin(host, *argv: str, check: bool = True) -> str:
    return docker(host, "exec", host.config.admin_container, *argv, check=check)


def served(sandbox) -> tuple[str | None, bool]:
    """(what /version answers or None, whether /health answers 200)."""
    status, body = http_get(sandbox.version_url)
    return (body.strip() if status == 200 else None), http_get(sandbox.health_url)[0] == 200


def serving_healthy(sandbox) -> str:
    """The commit the app serves; fails if it is not healthy."""
    version, healthy = served(sandbox)
    assert version and healthy, f"the app is not serving (version {version!r}, healthy {healthy})"
    return version


def wait_until_serving_healthy(sandbox, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        version, healthy = served(sandbox)
        if version and healthy:
            return version
        if time.monotonic() > deadline:
            raise AssertionError(f"the app did not serve healthily within {timeout}s")
        time.sleep(0.3)


def origin_head(host) -> str:
    return subprocess.run(["git", "-C", str(host.state_dir / "origin.git"), "rev-parse",
                           f"refs/heads/{host.config.branch}"], capture_output=True, text=True, check=True,
                          timeout=30).stdout.strip()


def checkout_head(host) -> str:
    return in_admin(host, "git", "-C", host.config.repo_dir, "rev-parse", "HEAD")


def app_image(host) -> str | None:
    answer = docker(host, "inspect", "--format", "{{.Image}}", host.config.app_container, check=False)
    return answer if answer.startswith("sha256:") else None


def image_id(host, reference: str) -> str | None:
    answer = docker(host, "image", "inspect", "--format", "{{.Id}}", reference, check=False)
    return answer if answer.startswith("sha256:") else None


def image_commit_label(host, image: str) -> str | None:
    answer = docker(host, "image", "inspect", "--format", f'{{{{index .Config.Labels "{COMMIT_LABEL}"}}}}',
                    image, check=False)
    return answer if re.fullmatch(r"[0-9a-f]{40}", answer) else None


def build_processes(host, marker: str) -> list[int]:
    """Pids of the drill build step `sleep <marker>` running in the admin container."""
    listing = in_admin(host, "ps", "-eo", "pid=,args=", check=False)
    pids = []
    for line in listing.splitlines():
        pid, _, args = line.strip().partition(" ")
        if args.strip() == f"sleep {marker}":
            pids.append(int(pid))
    return pids


def wait_for_build_process(host, marker: str, timeout: float = 120) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = build_processes(host, marker)
        if pids:
            return pids
        time.sleep(0.2)
    raise AssertionError(f"the drill build (sleep {marker}) did not start in the admin container within {timeout}s")


def stop_drill_builds(host) -> None:
    """Housekeeping between drills: end any drill build (`sleep NN.NNN`) a killed run left in the container."""
    in_admin(host, "sh", "-c", "pkill -f '^sleep [0-9]+[.][0-9]{3}$' || true", check=False)


# -- commits on the sandbox origin -------------------------------------------------------------------------
def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", "-C", str(cwd), *GIT_IDENTITY, *args], capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


def push_commit(host, message: str, *, recipe: tuple[str, ...] = (), server_change=None) -> str:
    """A new commit on origin, made in the sandbox's work clone: the good service, plus `recipe` lines run first
    by `make`, and `server_change(text)` applied to src/server.py. Returns the new commit id."""
    work = host.state_dir / "work"
    branch = host.config.branch
    _git("pull", "--quiet", "--ff-only", "origin", branch, cwd=work)
    token = random_tokens.token_hex(4)
    greeting = "".join(char if char.isprintable() else "?" for char in message)
    (work / "src" / "greeting.txt").write_text(f"Hello from Hermes. {greeting} ({token})\n")
    makefile = (TEMPLATE / "Makefile").read_text()
    if recipe:
        makefile = makefile.replace("all:\n", "all:\n" + "".join(f"\t{line}\n" for line in recipe), 1)
    server = (TEMPLATE / "src" / "server.py").read_text()
    if server_change:
        server = server_change(server)
    (work / "Makefile").write_text(makefile)
    (work / "src" / "server.py").write_text(server)
    _git("commit", "--quiet", "--all", "--message", message, cwd=work)
    _git("push", "--quiet", "origin", branch, cwd=work)
    return origin_head(host)


def slow_build_marker(seconds: int) -> str:
    """A unique `sleep` argument, so a drill can find its own build process in the admin container."""
    return f"{seconds}.{100 + random_tokens.randbelow(900)}"


def push_slow_commit(host, message: str, seconds: int) -> tuple[str, str]:
    """A commit whose build sleeps `seconds` (findable as `sleep <marker>`); returns (commit, marker)."""
    marker = slow_build_marker(seconds)
    commit = push_commit(host, message, recipe=(f'@echo "drill build: sleeping {marker}s"; sleep {marker}',))
    return commit, marker


# -- the host audit log --------------------------------------------------------------------------------------
_OLD_FORMAT = re.compile(r"\[(?P<time>[^\]]*)\] \[(?P<operator>.*?)\] (?P<kind>\S+) ")


def parse_log_line(line: str) -> dict:
    """`key=value` fields of one audit line, tolerant of both formats:

    new `<time> kind=deploy run=... operator='...' ... outcome=... reason='...'` (values shell-quoted) and
    old `[time] [operator] deploy run=... outcome=... reason='...'`.
    The first occurrence of a key wins; keys seen more than once (a sign of faked fields) are listed
    under `_duplicates`.
    """
    try:
        tokens = shlex.split(line)
    except ValueError:
        tokens = line.split()
    preset: dict = {}
    old = _OLD_FORMAT.match(line)
    if old:
        preset = {"time": old["time"], "operator": old["operator"], "kind": old["kind"]}
    elif tokens and "=" not in tokens[0]:
        preset = {"time": tokens[0]}
    seen: dict = {}
    duplicates = set()
    for token in tokens:
        key, equals, value = token.partition("=")
        if not equals or not re.fullmatch(r"[a-z][a-z0-9_-]*", key):
            continue
        if key in seen or key in preset:
            duplicates.add(key)
            continue
        seen[key] = value
    fields = {**preset, **seen}
    fields["_duplicates"] = sorted(duplicates)
    fields["_line"] = line
    return fields


def host_log_lines(sandbox, lines: int = 100000) -> list[str]:
    return read_host_log(sandbox.params_file, lines=lines).splitlines()


def host_log_entries(sandbox, run_id: str, lines: list[str] | None = None) -> list[dict]:
    """Parsed audit lines for `run_id`: lines with a token `run=<run_id>` and an outcome."""
    entries = []
    for line in host_log_lines(sandbox) if lines is None else lines:
        try:
            tokens = shlex.split(line)
        except ValueError:
            tokens = line.split()
        if f"run={run_id}" in tokens:
            parsed = parse_log_line(line)
            if "outcome" in parsed:
                entries.append(parsed)
    return entries


def host_log_entry(sandbox, run_id: str, *, exactly_one: bool = True) -> dict:
    entries = host_log_entries(sandbox, run_id)
    assert entries, f"the host log has no line for run {run_id}"
    if exactly_one:
        assert len(entries) == 1, f"the host log has {len(entries)} lines for run {run_id}: " + \
            "\n".join(entry["_line"] for entry in entries)
    return entries[-1]


# -- the four checks ---------------------------------------------------------------------------------------------
def assert_four_checks(sandbox, record: dict, outcome: str | tuple[str, ...], *, host=None,
                       log_exactly_one: bool = True) -> None:
    """(1) what serves is what the record says serves, (2) the lock is free, (3) the record's outcome is
    `outcome` (with a failure text where it must have one), (4) the host log has the run's line with it."""
    assert record is not None, "the run left no record"
    allowed = (outcome,) if isinstance(outcome, str) else tuple(outcome)
    # 1. what serves
    after = record.get("serving_after")
    assert isinstance(after, dict), f"the record has no serving_after (keys: {sorted(record)})"
    version, healthy = served(sandbox)
    assert healthy and version, f"the app is not serving healthily (version {version!r})"
    assert after.get("commit") == version, \
        f"the record says {after.get('commit')!r} serves, the host serves {version!r}"
    assert after.get("healthy") is True, f"the record says the app is not healthy: {after}"
    if host is not None:  # the SandboxHost: the image the app runs must carry the commit it serves
        image = app_image(host)
        label = image_commit_label(host, image) if image else None
        if label is not None:
            assert label == version, f"the app runs an image labelled {label[:12]} but serves {version[:12]}"
    # 2. the lock
    assert lock_status(sandbox.params_file) == "free", "the deploy lock is still held"
    # 3. the record's outcome
    assert record.get("outcome") in allowed, \
        f"the record says {record.get('outcome')!r}, the truth is {' or '.join(allowed)}; " \
        f"failure: {record.get('failure')!r}"
    if record["outcome"] in OUTCOMES_WITH_FAILURE:
        assert isinstance(record.get("failure"), str) and record["failure"].strip(), \
            f"outcome {record['outcome']} without a failure text"
    # 4. the host log
    entry = host_log_entry(sandbox, record["run_id"], exactly_one=log_exactly_one)
    assert not entry["_duplicates"], f"the host log line repeats fields {entry['_duplicates']}: {entry['_line']}"
    assert entry.get("run") == record["run_id"], entry["_line"]
    assert entry.get("outcome") == record["outcome"], \
        f"the host log says {entry.get('outcome')!r}, the record {record['outcome']!r}: {entry['_line']}"


def host_log_length(sandbox) -> int:
    return len(host_log_lines(sandbox))


def assert_refused_before_host(sandbox, cli: subprocess.CompletedProcess, *, serving_before: str,
                               log_length_before: int, records: tuple[Path, ...] = ()) -> None:
    """The adapted checks for a run refused before any host contact: it failed, no record claims success,
    the host log has no line for it, the same version still serves, the lock is free."""
    assert cli.returncode not in (0, None), f"exit {cli.returncode}: the run was not refused\n{cli.stdout[-2000:]}"
    assert cli.returncode > 0, f"the CLI died of signal {-cli.returncode}"
    assert "Traceback (most recent call last)" not in cli.stderr + cli.stdout, cli.stderr[-3000:]
    printed = record_printed_by(cli)
    claims = [printed] if printed else []
    for directory in records:
        if Path(directory).exists():
            claims += [data for _, data in journals(directory)]
    for claim in claims:
        assert claim.get("outcome") not in SUCCESS_OUTCOMES, f"a record claims {claim.get('outcome')}"
    assert host_log_length(sandbox) == log_length_before, "the refused run wrote to the host log: " + \
        "\n".join(host_log_lines(sandbox)[log_length_before:])
    assert serving_healthy(sandbox) == serving_before
    assert lock_status(sandbox.params_file) == "free", "the deploy lock is still held"


def text_of(cli: subprocess.CompletedProcess) -> str:
    return f"{cli.stdout}\n{cli.stderr}"
