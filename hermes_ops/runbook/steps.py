"""The eight deploy steps of the wiki page plus preflight and rollback, each reading state first.

A step takes the running `Deploy` (its parameters, connection, account and journal) and
returns a `StepOutcome`. Commands come from the pure builders in `hermes_ops.commands`;
the ones that change the host are run with `mutating=True`, so a dry run shows them instead.
"""

from __future__ import annotations

import math
import os
import re
import stat
import time
from dataclasses import dataclass, field

from hermes_ops.commands import builds, docker, git
from hermes_ops.commands import host as host_commands
from hermes_ops.commands import lock as lock_commands
from hermes_ops.errors import HermesOpsError
from hermes_ops.runbook import serving
from hermes_ops.runbook.account import display_path
from hermes_ops.runbook.vocabulary import PREFLIGHT, ROLLBACK, RUN_ORDER, STEPS, Step  # noqa: F401 (re-exported)
from hermes_ops.ssh.auth import load_private_key
from hermes_ops.ssh.hostkeys import fingerprint
from hermes_ops.terminal_text import neutralise


class StepError(HermesOpsError):
    """A step found the host in a state it must not continue from."""


class RolledBack(StepError):
    """The new version failed its health gate; the previous one was restored and is serving."""


@dataclass(frozen=True)
class StepOutcome:
    status: str                       # done | no-op | skipped | dry-run | resumed
    summary: str = ""
    facts: dict = field(default_factory=dict)


COMMIT_TAG = re.compile(r"[0-9a-f]{12}")


def ssh_key(d) -> StepOutcome:
    """The key exists, only its owner can read it, and it loads (passphrase from the environment)."""
    path = os.path.expanduser(d.params.key_path)
    if not os.path.isfile(path):
        raise StepError(f"no private key at {display_path(path)}", step="1 SSH key",
                        hint="create one (ssh-keygen -t ed25519) and send the .pub file to the host's admin "
                             "to be registered for user " + d.params.user)
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        raise StepError(f"private key {display_path(path)} is readable by others (mode {mode:o})",
                        step="1 SSH key", hint=f"chmod 600 {path}")
    key = load_private_key(path, passphrase_env=d.params.key_passphrase_env)
    key_fingerprint = fingerprint(key)
    d.account.fact("key", f"{display_path(path)} ({key.get_name()}, mode {mode:o})")
    d.account.fact("fingerprint", key_fingerprint)
    d.account.note(f"no access yet? send {display_path(path)}.pub to the host's admin to be added for "
                   f"{d.params.user}")
    return StepOutcome("done", key_fingerprint, {"key_fingerprint": key_fingerprint, "key_type": key.get_name()})


def connect(d) -> StepOutcome:
    """Verified host key, the right box (hostname), and a docker that answers."""
    d.open_connection()
    host_key = d.runner.host_key_fingerprint
    d.account.fact("host key", f"{host_key} (matches {display_path(d.params.known_hosts)})")
    hostname = d.run(host_commands.hostname()).stdout.strip()
    if hostname != d.params.expected_hostname:
        raise StepError(
            f"this host calls itself {hostname!r}, not {d.params.expected_hostname!r}: refusing to deploy here",
            step="2 Connect", host=d.params.host,
            hint="check host/port in the parameters; nothing was changed on the host")
    server = d.run(["docker", "version", "--format", "{{.Server.Version}}"]).stdout.strip()
    image_before = image_id(d, d.params.image)
    now = serving.read(d)
    d.account.fact("hostname", hostname)
    d.account.fact("docker", server)
    d.account.fact("image now", f"{d.params.image} = {short_id(image_before)}")
    d.account.fact("serving", now.describe())
    d.journal.fact(hostname=hostname, host_key_fingerprint=host_key)
    d.journal.set(serving_before=now.to_record())
    if d.journal.data.get("image_before") is None:
        d.journal.set(image_before=image_before)
    return StepOutcome("done", f"{d.params.user}@{hostname}", {"hostname": hostname, "host_key": host_key,
                                                               "docker_server": server, "image": image_before})


def preflight(d) -> StepOutcome:
    """Read-only checks before anything changes: disk, docker, containers, checkout, origin, lock."""
    checks: list[tuple[bool, str, str]] = []
    df = d.run(host_commands.disk_free_kilobytes("/"), quiet=True)
    available_mb = int(df.stdout.strip().splitlines()[-1].split()[3]) // 1024
    checks.append((available_mb >= d.params.min_free_disk_mb, "free disk",
                   f"{available_mb} MB free on / (need {d.params.min_free_disk_mb} MB)"))
    daemon = d.run(["docker", "info", "--format", "{{.ServerVersion}}"], check=False, quiet=True)
    checks.append((daemon.ok, "docker daemon", "up" if daemon.ok else daemon.tail(2, "stderr")))
    states = {name: container_state(d, name) for name in (d.params.admin_container, d.params.app_container)}
    checks.append((states[d.params.admin_container] is not None, f"container {d.params.admin_container}",
                   states[d.params.admin_container] or "missing"))
    # A missing or crash-looping app is what a deploy (or its rollback) repairs: reported, never a refusal.
    app_state = states[d.params.app_container]
    checks.append((True, f"container {d.params.app_container}",
                   app_state or "missing (the supervisor respawns it; step 7's health gate decides)"))
    target = None
    if states[d.params.admin_container] == "running":
        dirty = d.in_admin(git.status_porcelain(), quiet=True).stdout.strip()
        checks.append((not dirty, "checkout clean", "clean" if not dirty else f"{len(dirty.splitlines())} changed file(s)"))
        branch = d.in_admin(git.current_branch(), check=False, quiet=True).stdout.strip()
        checks.append((branch == d.params.branch, "on branch", branch or "detached HEAD"))
        remote = d.in_admin(git.remote_commit(d.params.branch), check=False, quiet=True)
        target = remote.stdout.split()[0] if remote.ok and remote.stdout.split() else None
        head = d.in_admin(git.head_commit(), check=False, quiet=True).stdout.strip()
        checks.append((target is not None, f"origin/{d.params.branch}",
                       (f"{target[:12]} ({'nothing new' if target == head else 'new commits'})") if target
                       else "unreachable"))
    else:
        d.account.note(f"{d.params.admin_container} is not running: checkout checks happen after step 3 starts it")
    lock_answer = d.run(lock_commands.probe(), quiet=True).stdout.strip().splitlines()
    lock_free = lock_answer[:1] == ["FREE"] or d.lock.held
    lock_detail = "free" if lock_free else f"held: {' '.join(lock_answer[1:2])}"
    if not lock_free and d.params.lock_wait > 0:
        lock_free, lock_detail = True, f"{lock_detail} (step 3 waits up to {d.params.lock_wait:.0f}s for it)"
    checks.append((lock_free, "deploy lock", lock_detail))
    for passed, label, detail in checks:
        d.account.note(f"{'✔' if passed else '✘'} {label}: {detail}")
    failed = [f"{label}: {detail}" for passed, label, detail in checks if not passed]
    if failed:
        raise StepError("preflight found a problem:\n    " + "\n    ".join(failed), step="preflight",
                        host=d.params.host, hint="nothing was changed; fix what is listed (free disk space, start "
                        "docker, restore the containers, clean the checkout) or wait for the other deploy")
    d.journal.set(target_commit=target)
    return StepOutcome("done", "all checks passed", {"free_disk_mb": available_mb, "target_commit": target})


def start_admin(d) -> StepOutcome:
    """`hermes-admin` running: started if stopped, a clear error if it does not exist."""
    name = d.params.admin_container
    state = container_state(d, name)
    if state is None:
        raise StepError(f"there is no container {name!r} on this host", step="3 Start the admin client",
                        host=d.params.host,
                        hint="check admin_container; `docker ps -a` on the host lists the containers")
    if state == "running":
        return StepOutcome("no-op", f"{name} already running", {"admin_state": state})
    d.run(docker.start(name), mutating=True)
    return StepOutcome(_changed(d), f"started {name} (was {state})", {"admin_state_before": state})


def pull(d) -> StepOutcome:
    """Refuse a dirty tree or another branch; fast-forward only; record before, after and the changelog."""
    if d.dry_run and container_state(d, d.params.admin_container) != "running":
        d.nothing_new = True  # nothing can be read from a stopped checkout: show no build/commit/replace either
        return StepOutcome("dry-run", f"{d.params.admin_container} is stopped; would pull after step 3 starts it")
    stop_leftover_builds(d)
    dirty = d.in_admin(git.status_porcelain()).stdout.strip()
    if dirty:
        raise StepError(f"the checkout {d.params.repo_dir} has uncommitted changes:\n    "
                        + "\n    ".join(dirty.splitlines()[:10]), step="4 Pull", host=d.params.host,
                        hint="someone edited production by hand: inspect with `git status`/`git diff` in "
                             f"{d.params.admin_container}, save or discard the changes, then deploy again")
    branch = d.in_admin(git.current_branch(), check=False).stdout.strip()
    if branch != d.params.branch:
        raise StepError(f"the checkout is on {branch or 'a detached HEAD'!r}, not {d.params.branch!r}",
                        step="4 Pull", host=d.params.host,
                        hint=f"check out {d.params.branch} in {d.params.admin_container}, or fix the branch parameter")
    checkout_before = d.in_admin(git.head_commit()).stdout.strip()
    d.in_admin(git.pull_fast_forward(d.params.branch), timeout=d.params.command_timeout, mutating=True)
    if d.dry_run:
        remote = d.in_admin(git.remote_commit(d.params.branch)).stdout.split()
        after = remote[0] if remote else checkout_before
    else:
        after = d.in_admin(git.head_commit()).stdout.strip()
    # "Before" is what serves, not what the checkout held: a run that stopped after its pull leaves the
    # checkout ahead of production, and only the serving app says what is really deployed.
    now = serving.read(d)
    before = now.commit or checkout_before
    changelog = []
    if after != before:
        log = d.in_admin(git.changelog(before, after), check=False)
        # Commit subjects are anyone's text: terminal escapes in them are shown, never obeyed.
        changelog = [neutralise(line) for line in log.stdout.strip().splitlines()] if log.ok else []
    d.journal.set(commit_before=before, commit_after=after, changelog=changelog, checkout_before=checkout_before)
    d.account.fact("commit", f"{before[:12]} → {after[:12]} (serving → origin/{d.params.branch})")
    if checkout_before != before:
        d.account.note(f"the checkout was at {checkout_before[:12]}, ahead of what serves ({now.describe()}): "
                       "an earlier run stopped after its pull; this run deploys it")
    for line in changelog:
        d.account.note(f"  {line}")
    facts = {"commit_before": before, "commit_after": after, "checkout_before": checkout_before,
             "serving": now.to_record()}
    if now.serves(after):
        d.nothing_new = not d.params.force
        summary = (f"nothing new: {after[:12]} already serves, healthy"
                   + ("; redeploying anyway (force)" if d.params.force else ""))
        return StepOutcome("no-op", summary, facts)
    if after == checkout_before and not d.dry_run:
        return StepOutcome("done", f"checkout already at {after[:12]}; production serves {now.describe()}: "
                           "deploying it", {**facts, "changelog": changelog})
    return StepOutcome(_changed(d), f"{len(changelog) or 'new'} new commit(s)" if not d.dry_run
                       else f"would pull {checkout_before[:12]} → {after[:12]}", {**facts, "changelog": changelog})


def stop_leftover_builds(d) -> None:
    """Builds of earlier, killed runs still running in the admin container are stopped before we touch it.

    `docker exec` does not stop a build when its deploy dies; each build carries its run id in
    its environment (commands.builds), so the next deploy, holding the lock, can find and stop it.
    """
    listing = d.run(docker.exec_in(d.params.admin_container, builds.find()), check=False, quiet=True)
    leftovers = {run: pids for run, pids in builds.parse_found(listing.stdout).items() if run != d.run_id}
    stopped = []
    for run, pids in leftovers.items():
        d.account.note(f"a build of run {run} is still running in {d.params.admin_container} "
                       f"(pids {', '.join(map(str, pids))}): stopping it before touching the checkout")
        d.run(docker.exec_in(d.params.admin_container, builds.stop(pids)), mutating=True, timeout=60)
        stopped.append({"run_id": run, "pids": pids})
    if stopped and not d.dry_run:
        d.journal.set(stopped_builds=d.journal.data.get("stopped_builds", []) + stopped)


def build(d) -> StepOutcome:
    """The build command in the admin container, streamed live, bounded by the build timeout."""
    stop_leftover_builds(d)  # a resumed run comes here without step 4
    d.account.note(f"building {d.commit_after[:12]} with `{d.params.build_command}` in {d.params.repo_dir}")
    d.account.start_live()
    # `timeout` inside the container bounds the build itself: killing our side of `docker exec`
    # would leave the build running in the container. Our own timeout is only the backstop.
    bounded = ["timeout", "--kill-after=10", str(max(1, math.ceil(d.params.build_timeout))), *d.params.build_argv]
    result = d.in_admin(bounded, timeout=d.params.build_timeout + 30, stream=d.account.live, check=False,
                        mutating=True, environment=builds.marker(d.run_id))
    d.account.end_live(result)
    if not d.dry_run:
        d.check_lock()  # a broken lock explains a killed build, and forbids what follows
    if result.exit_code in (124, 137):
        raise StepError(f"the build `{d.params.build_command}` did not finish within {d.params.build_timeout:.0f}s "
                        "and was stopped", step="5 Build", host=d.params.host,
                        hint="the app still serves the previous image; find out why the build hangs, or raise "
                             "build_timeout")
    if not result.ok:
        tail = (result.tail(15, "stderr") + "\n" + result.tail(15, "stdout")).strip()
        raise StepError(f"the build `{d.params.build_command}` failed with exit code {result.exit_code}:\n    "
                        + "\n    ".join(tail.splitlines()[-20:]), step="5 Build", host=d.params.host,
                        hint="the app still serves the previous image; fix the code, push, deploy again")
    return StepOutcome(_changed(d), f"built {d.commit_after[:12]}",
                       {"output_bytes": result.stdout_bytes + result.stderr_bytes})


def commit_image(d) -> StepOutcome:
    """`docker commit` to `<repo>:<commit>`; keep the old `latest` as `previous`; point `latest` at the new one."""
    repository = d.params.image_repository
    commit_tag = f"{repository}:{d.commit_after[:12]}"
    latest_before = image_id(d, d.params.image)
    existing = image_id(d, commit_tag)
    # Rollback target: what serves now, if healthy. `latest` may already be an image that never served
    # (a run that stopped after its commit), and then it must not become `previous`.
    now = serving.read(d)
    keep_as_previous = now.image if now.healthy and now.image and now.image != existing else None
    labels = {"io.hermes.commit": d.commit_after, "io.hermes.operator": d.params.operator,
              "io.hermes.deployed-at": d.started_at_text, "io.hermes.reason": d.params.reason,
              "io.hermes.run-id": d.run_id}
    if existing and existing == latest_before:
        d.journal.set(image_after=existing)
        return StepOutcome("no-op", f"{d.params.image} is already {commit_tag}", {"image_after": existing})
    if not existing:
        d.run(docker.commit(d.params.admin_container, commit_tag, labels=labels), mutating=True)
        existing = image_id(d, commit_tag) if not d.dry_run else None
    if keep_as_previous:
        d.run(docker.tag(keep_as_previous, f"{repository}:previous"), mutating=True)
    d.run(docker.tag(commit_tag, d.params.image), mutating=True)
    d.journal.set(image_after=existing)
    if d.dry_run:
        return StepOutcome("dry-run", f"would make {d.params.image} = {commit_tag}", {"tag": commit_tag})
    d.account.fact("image", f"{short_id(latest_before)} → {short_id(existing)} ({commit_tag}; "
                   f"previous kept as {repository}:previous)")
    return StepOutcome("done", f"{d.params.image} = {commit_tag}",
                       {"image_before": latest_before, "image_after": existing, "tag": commit_tag})


def replace_app(d) -> StepOutcome:
    """Remove the app container; the supervisor respawns it from the new image; the health gate decides.

    The gate: the new container runs the new image id, answers the health check, and `/version`
    reports the new commit, within `replace_timeout`. Otherwise the previous image is restored.
    """
    name, wanted = d.params.app_container, d.image_after
    if d.dry_run:
        d.run(docker.remove_container(name), mutating=True)
        d.account.note(f"would wait up to {d.params.replace_timeout:.0f}s for {name} to run the new image, answer "
                       f"{d.params.health_url} and report the new commit at {d.params.version_url}")
        return StepOutcome("dry-run", f"would replace {name}")
    current = app_facts(d)
    if current and current[0] == wanted and current[1] and http_ok(d, d.params.health_url):
        return StepOutcome("no-op", f"{name} already runs {short_id(wanted)}", {"app_image": wanted})
    d.run(docker.remove_container(name), mutating=True)
    healthy, detail = wait_until_serving(d, wanted, d.params.replace_timeout)
    version = d.run(host_commands.http_body(d.params.version_url), check=False).stdout.strip() if healthy else ""
    if healthy and version != d.commit_after:
        healthy, detail = False, f"{d.params.version_url} reports {version!r}, not {d.commit_after[:12]}"
    if not healthy:
        roll_back_after_failed_gate(d, detail)
    d.account.fact("serving", f"{version[:12]} from {short_id(wanted)}")
    d.account.fact("unavailable for", f"{detail:.1f}s")
    pruned = prune_images(d)
    return StepOutcome("done", f"serving {version[:12]}", {"unavailable_seconds": round(detail, 3),
                                                           "version": version, "app_image": wanted,
                                                           "pruned_images": pruned})


def roll_back_after_failed_gate(d, why: str) -> None:
    """The health gate failed: keep the evidence, restore the previous image, then fail as rolled back."""
    logs = d.run(d.params.app_logs_argv, check=False).stdout.strip().splitlines()[-20:]
    d.account.note(f"health gate failed: {why}")
    for line in logs[-10:]:
        d.account.note(f"  | {line}")
    previous = f"{d.params.image_repository}:previous"
    d.account.note(f"rolling back to {previous}")
    restored, unavailable = restore_image(d, previous, step="7 Replace the app container")
    d.rolled_back = True
    d.journal.set(rollback={"reason": why, "restored_image": restored, "app_log_tail": logs,
                            "unavailable_seconds": round(unavailable, 3)})
    raise RolledBack(f"the new version failed its health gate ({why}); rolled back to {previous} "
                     f"({short_id(restored)}), which is serving again.\n    last log lines:\n      "
                     + "\n      ".join(logs[-8:]), step="7 Replace the app container", host=d.params.host,
                     hint="read the log lines above, fix the service, push, deploy again")


def rollback(d) -> StepOutcome:
    """Restore a kept image (default `<repository>:previous`) as latest, with the same gates as a deploy."""
    target = d.params.rollback_to or f"{d.params.image_repository}:previous"
    if d.dry_run:
        d.run(docker.tag(target, d.params.image), mutating=True)
        d.run(docker.remove_container(d.params.app_container), mutating=True)
        return StepOutcome("dry-run", f"would restore {target}")
    serving_before = d.run(host_commands.http_body(d.params.version_url), check=False, quiet=True).stdout.strip()
    d.journal.set(commit_before=serving_before or None)
    restored, unavailable = restore_image(d, target, step="rollback")
    d.rolled_back = True
    d.journal.set(image_after=restored, rollback={"reason": "requested by the operator", "restored_image": restored,
                                                  "unavailable_seconds": round(unavailable, 3)})
    version = d.run(host_commands.http_body(d.params.version_url), check=False).stdout.strip()
    d.journal.set(commit_after=version or None)
    d.account.fact("serving", f"{version[:12]} from {short_id(restored)}")
    return StepOutcome("done", f"restored {target}", {"restored_image": restored, "version": version,
                                                      "unavailable_seconds": round(unavailable, 3)})


def restore_image(d, image_ref: str, *, step: str) -> tuple[str, float]:
    """Point latest at `image_ref`, replace the app, wait until it serves; returns (image id, seconds down)."""
    restored = image_id(d, image_ref)
    if not restored:
        raise StepError(f"there is no image {image_ref} to roll back to", step=step, host=d.params.host,
                        hint=f"list the kept images: `docker images {d.params.image_repository}`; "
                             "pass one as rollback_to / --to")
    d.run(docker.tag(image_ref, d.params.image), mutating=True)
    d.run(docker.remove_container(d.params.app_container), mutating=True)
    healthy, detail = wait_until_serving(d, restored, d.params.replace_timeout)
    if not healthy:
        raise StepError(f"ROLLBACK FAILED: {d.params.app_container} did not come back healthy on {image_ref} "
                        f"({detail}); the service may be down", step=step, host=d.params.host,
                        hint="act now by hand: check the supervisor (`journalctl -u hermes-app`), "
                             f"`docker images {d.params.image_repository}`, and restart from a known good tag")
    return restored, detail


def wait_until_serving(d, wanted_image: str, timeout: float) -> tuple[bool, float | str]:
    """Poll until the app runs `wanted_image` and answers health: (True, seconds) or (False, why)."""
    started = time.monotonic()
    containers_seen: set[str] = set()
    last = "no container yet"
    while time.monotonic() - started < timeout:
        facts = app_facts(d)
        if facts:
            image, running, container = facts
            if image == wanted_image:
                containers_seen.add(container)
            if image == wanted_image and running and http_ok(d, d.params.health_url):
                return True, time.monotonic() - started
            last = f"{'running' if running else 'not running'} on {short_id(image)}"
        time.sleep(0.5)
    if len(containers_seen) > 2:
        return False, f"crash-looping: {len(containers_seen)} containers started from the new image, none healthy"
    return False, f"not healthy within {timeout:.0f}s (last seen: {last})"


def prune_images(d) -> list[str]:
    """Keep the newest `keep_images` deploy images (and whatever latest/previous point at); remove older ones."""
    repository = d.params.image_repository
    listing = d.run(docker.list_repository_tags(repository), check=False, quiet=True).stdout.strip().splitlines()
    protected = {image_id(d, d.params.image), image_id(d, f"{repository}:previous")}
    deploy_tags = [line.split(" ", 2) for line in listing if COMMIT_TAG.fullmatch(line.split(" ", 1)[0])]
    deploy_tags.sort(key=lambda parts: parts[2], reverse=True)
    pruned = []
    for tag, identifier, _created in deploy_tags[d.params.keep_images:]:
        if identifier in protected:
            continue
        if d.run(docker.remove_image(f"{repository}:{tag}"), check=False, mutating=True, quiet=True).ok:
            pruned.append(f"{repository}:{tag}")
    if pruned:
        d.account.fact("pruned", ", ".join(pruned))
    return pruned


# -- probes: read-only commands plus the parsing of what they print ----------------------------------
def container_state(d, name: str) -> str | None:
    result = d.run(docker.inspect_format(name, "{{.State.Status}}", kind="container"), check=False, quiet=True)
    return result.stdout.strip() if result.ok else None


def image_id(d, image: str) -> str | None:
    result = d.run(docker.inspect_format(image, "{{.Id}}", kind="image"), check=False, quiet=True)
    return result.stdout.strip() if result.ok else None


def app_facts(d) -> tuple[str, bool, str] | None:
    """The app container's image id, whether it runs, and its own id; None if there is none."""
    template = "{{.Image}} {{.State.Running}} {{.Id}}"
    result = d.run(docker.inspect_format(d.params.app_container, template, kind="container"), check=False, quiet=True)
    if not result.ok or len(result.stdout.split()) != 3:
        return None
    image, running, container = result.stdout.split()
    return image, running == "true", container


def http_ok(d, url: str) -> bool:
    return d.run(host_commands.http_status(url), check=False, quiet=True).stdout.strip() == "200"


def short_id(image: str | None) -> str:
    return (image or "none").removeprefix("sha256:")[:12]


def _changed(d) -> str:
    return "dry-run" if d.dry_run else "done"
