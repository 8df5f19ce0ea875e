"""The eight deploy steps of the wiki page plus preflight and rollback, each reading state first.

A step takes the running deploy (a `DeployContext`: its parameters, connection, account and journal) and
returns a `StepOutcome`. What a step reads of the host comes from the facts
(`hermes_ops.facts`: a command plus a parser); what it changes, from the pure builders in
`hermes_ops.commands`, run with `mutating=True`, so a dry run shows them instead.
"""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass, field

from hermes_ops.commands import builds, docker, git
from hermes_ops.errors import CommandFailed, HermesOpsError, failed_command_message
from hermes_ops.facts import Fact, app, checkout, containers, disk, images
from hermes_ops.facts import builds as build_facts
from hermes_ops.facts import host as host_facts
from hermes_ops.facts import lock as lock_facts
from hermes_ops.facts.batch import Answer, Reading, in_container, together
from hermes_ops.facts.containers import ContainerState
from hermes_ops.facts.images import COMMIT_LABEL, short_id
from hermes_ops.runbook import serving, slots
from hermes_ops.runbook.account import display_path
from hermes_ops.runbook.vocabulary import PREFLIGHT, ROLLBACK, STEPS, StepStatus
from hermes_ops.ssh.auth import agent_keys, load_private_key
from hermes_ops.ssh.hostkeys import fingerprint
from hermes_ops.terminal_text import neutralise
from hermes_ops.runbook.context import DeployContext


SSH_KEY, CONNECT, START_ADMIN, PULL, BUILD, COMMIT_IMAGE, REPLACE_APP, EXIT = STEPS


class StepError(HermesOpsError):
    """A step found the host in a state it must not continue from."""


class RolledBack(StepError):
    """The new version failed its health gate; the previous one was restored and is serving."""


@dataclass(frozen=True)
class StepOutcome:
    status: StepStatus                # done | no-op | skipped | dry-run | resumed
    summary: str = ""
    facts: dict = field(default_factory=dict)


def ssh_key(deploy: DeployContext) -> StepOutcome:
    """The key we will offer, checked locally: a key file that exists, only its owner can read and that loads
    (passphrase from the environment), and/or the keys ssh-agent holds (fingerprint and comment)."""
    resolution = deploy.params.ssh_resolution()
    target = resolution.target
    facts: dict = {}
    if target.key_path is not None:
        facts = _key_file(deploy, target.key_path)
        deploy.account.note(f"no access yet? send {display_path(target.key_path)}.pub to the host's admin to be "
                            f"added for {target.user}")
    if resolution.agent:
        agent = agent_keys()
        for line in agent.describe():
            deploy.account.fact("agent key", line)
        if target.key_path is None:
            if not agent.keys:
                raise StepError(f"no key for {target.display}: key_path is empty and {agent.status}",
                                step=SSH_KEY.label, hint="start ssh-agent, `ssh-add` your key and export "
                                "SSH_AUTH_SOCK, or set key_path")
            facts = {"key_fingerprint": fingerprint(agent.keys[0]) if len(agent.keys) == 1 else None,
                     "key_type": agent.keys[0].get_name() if len(agent.keys) == 1 else None,
                     "key_source": "ssh-agent"}
            deploy.account.note(f"no access yet? send your public key (`ssh-add -L`) to the host's admin to be "
                                f"added for {target.user}")
        facts["agent_key_fingerprints"] = [fingerprint(key) for key in agent.keys]
    jump = target.jump
    if jump is not None and jump.key_path is not None and jump.key_path != target.key_path:
        facts["bastion_key_fingerprint"] = _key_file(deploy, jump.key_path, label="bastion key")["key_fingerprint"]
    summary = facts.get("key_fingerprint") or f"{len(facts.get('agent_key_fingerprints', []))} key(s) in ssh-agent"
    return StepOutcome(StepStatus.DONE, summary, facts)


def _key_file(deploy: DeployContext, path: str, *, label: str = "key") -> dict:
    """A key file exists, only its owner can read it, and it loads: its account lines and facts."""
    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        raise StepError(f"no private key at {display_path(path)}", step=SSH_KEY.label,
                        hint="create one (ssh-keygen -t ed25519) and send the .pub file to the host's admin "
                             "to be registered for user " + deploy.params.user)
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        raise StepError(f"private key {display_path(path)} is readable by others (mode {mode:o})",
                        step=SSH_KEY.label, hint=f"chmod 600 {path}")
    key = load_private_key(path, passphrase_env=deploy.params.key_passphrase_env)
    key_fingerprint = fingerprint(key)
    deploy.account.fact(label, f"{display_path(path)} ({key.get_name()}, mode {mode:o})")
    deploy.account.fact("fingerprint", key_fingerprint)
    return {"key_fingerprint": key_fingerprint, "key_type": key.get_name()}


def connect(deploy: DeployContext) -> StepOutcome:
    """Verified host key, the right box (hostname), and a docker that answers."""
    resolution = deploy.params.ssh_resolution()
    if resolution.alias or resolution.target.jump is not None:
        deploy.account.fact("route", resolution.route())
    deploy.open_connection()
    host_key = deploy.runner.host_key_fingerprint
    deploy.account.fact("host key", f"{host_key} (matches {display_path(deploy.params.known_hosts)})")
    # Who the host says it is, its docker, the image and what serves: one command, all read-only.
    hostname_reading, server_reading = Reading(host_facts.hostname), Reading(host_facts.docker_version)
    now, (hostname, server, image_before) = serving.read_with(
        deploy, hostname_reading, server_reading, Reading(images.image_id, (deploy.params.image,)))
    hostname = checked_value(deploy, hostname_reading, hostname, run=deploy.run)
    if hostname != deploy.params.expected_hostname:
        raise StepError(
            f"this host calls itself {hostname!r}, not {deploy.params.expected_hostname!r}: refusing to deploy here",
            step=CONNECT.label, host=deploy.params.host,
            hint="check host/port in the parameters; nothing was changed on the host")
    server = checked_value(deploy, server_reading, server, run=deploy.run)
    image_before = image_before.value
    deploy.account.fact("hostname", hostname)
    deploy.account.fact("docker", server)
    deploy.account.fact("image now", f"{deploy.params.image} = {short_id(image_before)}")
    deploy.account.fact("serving", now.describe())
    deploy.journal.fact(hostname=hostname, host_key_fingerprint=host_key, ssh_route=resolution.to_record())
    deploy.journal.set(serving_before=now.to_record())
    if deploy.journal.data.get("image_before") is None:
        deploy.journal.set(image_before=image_before)
    return StepOutcome(StepStatus.DONE, f"{deploy.params.user}@{hostname}",
                       {"hostname": hostname, "host_key": host_key, "docker_server": server, "image": image_before,
                        "route": resolution.route()})


def preflight(deploy: DeployContext) -> StepOutcome:
    """Read-only checks before anything changes: disk, docker, containers, checkout, origin, lock."""
    params = deploy.params
    checks: list[tuple[bool, str, str]] = []
    # Every read in one command (all read-only); the checkout's, one `docker exec` inside it, counts only if the
    # admin container runs. The one whose output can be long comes last in each batch.
    changes_reading = Reading(checkout.changes)
    checkout_batch = together(Reading(checkout.branch), Reading(checkout.head),
                              Reading(checkout.remote_commit, (params.branch,)), changes_reading)
    readings = {"disk": Reading(disk.free_kilobytes, ("/",)), "daemon": Reading(host_facts.docker_daemon),
                "admin": Reading(containers.state, (params.admin_container,)), "lock": Reading(lock_facts.probe)}
    if not params.zero_downtime:
        readings["app"] = Reading(containers.state, (params.app_container,))
    readings["checkout"] = Reading(in_container(checkout_batch, params.admin_container, params.repo_dir))
    answers = dict(zip(readings, read_on_host(deploy, *readings.values())))
    available_kilobytes = checked_value(deploy, readings["disk"], answers["disk"], run=deploy.run, quiet=True)
    available_mb = available_kilobytes // 1024 if available_kilobytes is not None else None
    checks.append((available_mb is not None and available_mb >= params.min_free_disk_mb, "free disk",
                   f"{available_mb} MB free on / (need {params.min_free_disk_mb} MB)" if available_mb is not None
                   else f"`df -Pk /` printed no row for / (need {params.min_free_disk_mb} MB)"))
    daemon_up = answers["daemon"].ok
    checks.append((daemon_up, "docker daemon", "up" if daemon_up else
                   deploy.run(docker.daemon_version(), check=False, quiet=True).tail(2, "stderr")))
    admin_state = answers["admin"].value
    if params.zero_downtime:  # the slot users reach (running, by definition); none serving is reported below
        serving_slot = slots.serving_slot(deploy)
        app_container = serving_slot.container if serving_slot else f"{params.app_container}-<slot>"
        app_state = ContainerState.RUNNING if serving_slot else None
    else:
        app_container = params.app_container
        app_state = answers["app"].value
    checks.append((admin_state is not None, f"container {params.admin_container}", admin_state or "missing"))
    # A missing or crash-looping app is what a deploy (or its rollback) repairs: reported, never a refusal.
    checks.append((True, f"container {app_container}",
                   app_state or ("no slot serves (step 7 starts one; its health gate decides)" if params.zero_downtime
                                 else "missing (the supervisor respawns it; step 7's health gate decides)")))
    target = None
    if admin_state == ContainerState.RUNNING:
        branch, head, target, changes = answers["checkout"].value
        changes = checked_value(deploy, changes_reading, changes, quiet=True)
        branch, head, target = branch.value, head.value, target.value
        checks.append((not changes, "checkout clean", "clean" if not changes else f"{len(changes)} changed file(s)"))
        checks.append((branch == params.branch, "on branch", branch or "detached HEAD"))
        checks.append((target is not None, f"origin/{params.branch}",
                       (f"{target[:12]} ({'nothing new' if target == head else 'new commits'})") if target
                       else "unreachable"))
    else:
        deploy.account.note(f"{params.admin_container} is not running: checkout checks happen after step 3 starts it")
    lock_answer = checked_value(deploy, readings["lock"], answers["lock"], run=deploy.run, quiet=True)
    lock_free = lock_answer.state is lock_facts.LockState.FREE or deploy.lock.held
    lock_detail = "free" if lock_free else f"held: {lock_answer.holder}"
    if not lock_free and params.lock_wait > 0:
        lock_free, lock_detail = True, f"{lock_detail} (step 3 waits up to {params.lock_wait:.0f}s for it)"
    checks.append((lock_free, "deploy lock", lock_detail))
    for passed, label, detail in checks:
        deploy.account.note(f"{'✔' if passed else '✘'} {label}: {detail}")
    failed = [f"{label}: {detail}" for passed, label, detail in checks if not passed]
    if failed:
        raise StepError("preflight found a problem:\n    " + "\n    ".join(failed), step=PREFLIGHT.label,
                        host=params.host, hint="nothing was changed; fix what is listed (free disk space, start "
                        "docker, restore the containers, clean the checkout) or wait for the other deploy")
    deploy.journal.set(target_commit=target)
    return StepOutcome(StepStatus.DONE, "all checks passed", {"free_disk_mb": available_mb, "target_commit": target})


def start_admin(deploy: DeployContext) -> StepOutcome:
    """`hermes-admin` running: started if stopped, a clear error if it does not exist."""
    name = deploy.params.admin_container
    state = probe(deploy, containers.state, name)
    if state is None:
        raise StepError(f"there is no container {name!r} on this host", step=START_ADMIN.label,
                        host=deploy.params.host,
                        hint="check admin_container; `docker ps -a` on the host lists the containers")
    if state == ContainerState.RUNNING:
        return StepOutcome(StepStatus.NO_OP, f"{name} already running", {"admin_state": state.value})
    deploy.run(docker.start(name), mutating=True)
    return StepOutcome(_changed(deploy), f"started {name} (was {state})", {"admin_state_before": state.value})


def pull(deploy: DeployContext) -> StepOutcome:
    """Refuse a dirty tree or another branch; fast-forward only; record before, after and the changelog."""
    params = deploy.params
    if deploy.dry_run and probe(deploy, containers.state, params.admin_container) != ContainerState.RUNNING:
        deploy.nothing_new = True  # nothing can be read from a stopped checkout: show no build/commit/replace either
        return StepOutcome(StepStatus.DRY_RUN, f"{params.admin_container} is stopped; would pull after step 3 "
                           "starts it")
    # Leftover builds and the checkout's state (one `docker exec`) and what serves, in one command (read-only
    # both; "before" is what serves, see below); the checkout again if builds were stopped.
    checkout_readings = (Reading(checkout.branch), Reading(checkout.head), Reading(checkout.changes))
    in_checkout = in_container(together(Reading(build_facts.running_builds), *checkout_readings),
                               params.admin_container, params.repo_dir)
    now, (batch,) = serving.read_with(deploy, Reading(in_checkout))
    found, *answers = batch.value
    if stop_leftover_builds(deploy, found.value if found.ok else None):
        answers = read_in_admin(deploy, *checkout_readings)  # what the stopped builds left behind
    branch, head, changes = answers
    changes = checked_value(deploy, checkout_readings[2], changes)
    if changes:
        raise StepError(f"the checkout {params.repo_dir} has uncommitted changes:\n    "
                        + "\n    ".join(changes[:10]), step=PULL.label, host=params.host,
                        hint="someone edited production by hand: inspect with `git status`/`git diff` in "
                             f"{params.admin_container}, save or discard the changes, then deploy again")
    branch = branch.value
    if branch != params.branch:
        raise StepError(f"the checkout is on {branch or 'a detached HEAD'!r}, not {params.branch!r}",
                        step=PULL.label, host=params.host,
                        hint=f"check out {params.branch} in {params.admin_container}, or fix the branch parameter")
    checkout_before = checked_value(deploy, checkout_readings[1], head) or ""
    # "Before" is what serves, not what the checkout held: a run that stopped after its pull leaves the
    # checkout ahead of production, and only the serving app says what is really deployed (read before the
    # pull, which does not touch the app).
    before = now.commit or checkout_before
    deploy.in_admin(git.pull_fast_forward(params.branch), timeout=params.command_timeout, mutating=True)
    if deploy.dry_run:
        after = checkout.remote_commit.read(deploy.in_admin, params.branch) or checkout_before
        found_changelog = (checkout.changelog.read(deploy.in_admin, before, after, check=False)
                           if after != before else ())
    else:
        after, found_changelog = _pulled_head_and_changelog(deploy, before)
    # Commit subjects are anyone's text: terminal escapes in them are shown, never obeyed.
    changelog = [neutralise(line) for line in found_changelog]
    deploy.journal.set(commit_before=before, commit_after=after, changelog=changelog, checkout_before=checkout_before)
    deploy.account.fact("commit", f"{before[:12]} → {after[:12]} (serving → origin/{params.branch})")
    if checkout_before != before:
        deploy.account.note(f"the checkout was at {checkout_before[:12]}, ahead of what serves ({now.describe()}): "
                            "an earlier run stopped after its pull; this run deploys it")
    for line in changelog:
        deploy.account.note(f"  {line}")
    facts = {"commit_before": before, "commit_after": after, "checkout_before": checkout_before,
             "serving": now.to_record()}
    if now.serves(after):
        deploy.nothing_new = not params.force
        summary = (f"nothing new: {after[:12]} already serves, healthy"
                   + ("; redeploying anyway (force)" if params.force else ""))
        return StepOutcome(StepStatus.NO_OP, summary, facts)
    if after == checkout_before and not deploy.dry_run:
        return StepOutcome(StepStatus.DONE, f"checkout already at {after[:12]}; production serves "
                           f"{now.describe()}: deploying it", {**facts, "changelog": changelog})
    return StepOutcome(_changed(deploy), f"{len(changelog) or 'new'} new commit(s)" if not deploy.dry_run
                       else f"would pull {checkout_before[:12]} → {after[:12]}", {**facts, "changelog": changelog})


def stop_leftover_builds(deploy: DeployContext, found: dict | None = None) -> bool:
    """Builds of earlier, killed runs still running in the admin container are stopped before we touch it.

    `docker exec` does not stop a build when its deploy dies; each build carries its run id in
    its environment (commands.builds), so the next deploy, holding the lock, can find and stop it.
    `found` is what a scan just read (`build_facts.running_builds`); None scans now. Returns whether
    builds were stopped (the checkout may then have changed). Once this run holds the lock, no other
    run can start a build, so a later step of the same hold need not scan again (`LEFTOVERS_STOPPED`).
    """
    admin = deploy.params.admin_container
    if found is None:
        found = probe(deploy, build_facts.leftovers, admin)
    leftovers = {run: list(pids) for run, pids in found.items() if run != deploy.run_id}
    stopped = []
    for run, pids in leftovers.items():
        deploy.account.note(f"a build of run {run} is still running in {admin} "
                            f"(pids {', '.join(map(str, pids))}): stopping it before touching the checkout")
        deploy.run(docker.exec_in(admin, builds.stop(pids)), mutating=True, timeout=60)
        stopped.append({"run_id": run, "pids": pids})
    deploy.remember(LEFTOVERS_STOPPED, True)
    if stopped and not deploy.dry_run:
        deploy.journal.set(stopped_builds=deploy.journal.data.get("stopped_builds", []) + stopped)
        return True
    return False


def build(deploy: DeployContext) -> StepOutcome:
    """The build command in the admin container, streamed live, bounded by the build timeout."""
    params = deploy.params
    if not deploy.recall(LEFTOVERS_STOPPED):  # a resumed run comes here without step 4
        stop_leftover_builds(deploy)
    deploy.account.note(f"building {deploy.commit_after[:12]} with `{params.build_command}` in {params.repo_dir}")
    deploy.account.start_live()
    # `timeout` inside the container bounds the build itself: killing our side of `docker exec`
    # would leave the build running in the container. Our own timeout is only the backstop.
    bounded = ["timeout", "--kill-after=10", str(max(1, math.ceil(params.build_timeout))), *params.build_argv]
    result = deploy.in_admin(bounded, timeout=params.build_timeout + 30, stream=deploy.account.live, check=False,
                             mutating=True, environment=builds.marker(deploy.run_id))
    deploy.account.end_live(result)
    if not deploy.dry_run:
        deploy.check_lock()  # a broken lock explains a killed build, and forbids what follows
    if result.exit_code in (124, 137):
        raise StepError(f"the build `{params.build_command}` did not finish within {params.build_timeout:.0f}s "
                        "and was stopped", step=BUILD.label, host=params.host,
                        hint="the app still serves the previous image; find out why the build hangs, or raise "
                             "build_timeout")
    if not result.ok:
        # What the failed build said last, for the operator (the record keeps the bounded output).
        tail = (result.tail(15, "stderr") + "\n" + result.tail(15, "stdout")).strip()
        raise StepError(f"the build `{params.build_command}` failed with exit code {result.exit_code}:\n    "
                        + "\n    ".join(tail.splitlines()[-20:]), step=BUILD.label, host=params.host,
                        hint="the app still serves the previous image; fix the code, push, deploy again")
    return StepOutcome(_changed(deploy), f"built {deploy.commit_after[:12]}",
                       {"output_bytes": result.stdout_bytes + result.stderr_bytes})


def commit_image(deploy: DeployContext) -> StepOutcome:
    """`docker commit` to `<repo>:<commit>`; keep the old `latest` as `previous`; point `latest` at the new one."""
    params = deploy.params
    repository = params.image_repository
    commit_tag = f"{repository}:{deploy.commit_after[:12]}"
    # Rollback target: what serves now, if healthy (read again: the lock keeps other deploys out, not an app
    # from crashing meanwhile). `latest` may already be an image that never served (a run that stopped after
    # its commit), and then it must not become `previous`.
    now, (latest_before, existing) = serving.read_with(
        deploy, Reading(images.image_id, (params.image,)), Reading(images.image_id, (commit_tag,)))
    latest_before, existing = latest_before.value, existing.value
    keep_as_previous = now.image if now.healthy and now.image and now.image != existing else None
    labels = {COMMIT_LABEL: deploy.commit_after, "io.hermes.operator": params.operator,
              "io.hermes.deployed-at": deploy.started_at_text, "io.hermes.reason": params.reason,
              "io.hermes.run-id": deploy.run_id}
    if existing and existing == latest_before:
        deploy.journal.set(image_after=existing)
        return StepOutcome(StepStatus.NO_OP, f"{params.image} is already {commit_tag}", {"image_after": existing})
    if not existing:
        committed = deploy.run(docker.commit(params.admin_container, commit_tag, labels=labels), mutating=True)
        existing = None if deploy.dry_run else (images.parse_new_image_id(committed.stdout)
                                                or image_id(deploy, commit_tag))
    if keep_as_previous:
        deploy.run(docker.tag(keep_as_previous, f"{repository}:previous"), mutating=True)
    deploy.run(docker.tag(commit_tag, params.image), mutating=True)
    deploy.journal.set(image_after=existing)
    if deploy.dry_run:
        return StepOutcome(StepStatus.DRY_RUN, f"would make {params.image} = {commit_tag}", {"tag": commit_tag})
    deploy.account.fact("image", f"{short_id(latest_before)} → {short_id(existing)} ({commit_tag}; "
                        f"previous kept as {repository}:previous)")
    return StepOutcome(StepStatus.DONE, f"{params.image} = {commit_tag}",
                       {"image_before": latest_before, "image_after": existing, "tag": commit_tag})


def replace_app(deploy: DeployContext) -> StepOutcome:
    """Remove the app container; the supervisor respawns it from the new image; the health gate decides.

    The gate: the new container runs the new image id, answers the health check, and `/version`
    reports the new commit, within `replace_timeout`. Otherwise the previous image is restored.
    """
    params = deploy.params
    name, wanted = params.app_container, deploy.image_after
    if params.zero_downtime:
        return replace_app_without_downtime(deploy, wanted)
    if deploy.dry_run:
        deploy.run(docker.remove_container(name), mutating=True)
        deploy.account.note(f"would wait up to {params.replace_timeout:.0f}s for {name} to run the new image, "
                            f"answer {params.health_url} and report the new commit at {params.version_url}")
        return StepOutcome(StepStatus.DRY_RUN, f"would replace {name}")
    current = probe(deploy, containers.instance, name)
    if current and current.image == wanted and current.running and http_ok(deploy, params.health_url):
        return StepOutcome(StepStatus.NO_OP, f"{name} already runs {short_id(wanted)}", {"app_image": wanted})
    remove_app_container(deploy, name)
    healthy, detail = wait_until_serving(deploy, wanted, params.replace_timeout)
    version = (app.version.read(deploy.run, params.version_url, check=False) or "") if healthy else ""
    if healthy and version != deploy.commit_after:
        healthy, detail = False, f"{params.version_url} reports {version!r}, not {deploy.commit_after[:12]}"
    if not healthy:
        roll_back_after_failed_gate(deploy, detail)
    deploy.account.fact("serving", f"{version[:12]} from {short_id(wanted)}")
    deploy.account.fact("unavailable for", f"{detail:.1f}s")
    pruned = prune_images(deploy)
    return StepOutcome(StepStatus.DONE, f"serving {version[:12]}", {"unavailable_seconds": round(detail, 3),
                                                                    "version": version, "app_image": wanted,
                                                                    "pruned_images": pruned})


def replace_app_without_downtime(deploy: DeployContext, wanted: str) -> StepOutcome:
    """Step 7 with `zero_downtime`: the new version starts in the idle slot and is gated there before haproxy
    sends it a request; the old slot drains and is removed (`slots.swap`)."""
    params = deploy.params
    if deploy.dry_run:
        slots.show_swap(deploy, params.image)
        return StepOutcome(StepStatus.DRY_RUN, "would swap slots behind haproxy")
    pair = slots.read_slots(deploy)
    current, _ = slots.choose(pair)
    if current and current.instance.image == wanted and http_ok(deploy, params.health_url):
        return StepOutcome(StepStatus.NO_OP, f"slot {current.name} already serves {short_id(wanted)}",
                           {"app_image": wanted})
    try:
        switch = slots.swap(deploy, wanted, deploy.commit_after, pair)
    except slots.SlotGateFailed as failure:
        roll_back_after_failed_slot_gate(deploy, failure)
    version = app.version.read(deploy.run, params.version_url, check=False) or ""
    deploy.account.fact("serving", f"{version[:12]} from {short_id(wanted)} (slot {switch.new})")
    deploy.account.fact("unavailable for", "0s (zero-downtime swap: the old slot served until the new one did)")
    pruned = prune_images(deploy)
    return StepOutcome(StepStatus.DONE, f"serving {version[:12]}", {"unavailable_seconds": 0.0, "version": version,
                                                                    "app_image": wanted, "pruned_images": pruned,
                                                                    "swap": switch.to_record()})


def roll_back_after_failed_slot_gate(deploy: DeployContext, failure: "slots.SlotGateFailed") -> None:
    """The new version failed its gate in the idle slot: users never saw it. Point latest at previous again (what
    a restart would start) and fail as rolled back."""
    params = deploy.params
    deploy.account.note(f"health gate failed: {failure.why}")
    for line in failure.logs[-10:]:
        deploy.account.note(f"  | {line}")
    previous = f"{params.image_repository}:previous"
    deploy.run(docker.tag(previous, params.image), mutating=True)
    restored = image_id(deploy, params.image) or ""
    deploy.rolled_back = True
    deploy.journal.set(rollback={"reason": failure.why, "restored_image": restored, "app_log_tail": list(failure.logs),
                                 "unavailable_seconds": 0.0})
    served = ("it was in rotation only until the check through the proxy failed, and the old version serves again"
              if failure.served else "it never served a request, and the old version kept serving throughout")
    raise RolledBack(f"the new version failed its health gate in the idle slot ({failure.why}); {served}; "
                     f"{params.image} points at {previous} "
                     f"({short_id(restored)}) again.\n    last log lines:\n      " + "\n      ".join(failure.logs[-8:]),
                     step=REPLACE_APP.label, host=params.host,
                     hint="read the log lines above, fix the service, push, deploy again")


def roll_back_after_failed_gate(deploy: DeployContext, why: str) -> None:
    """The health gate failed: keep the evidence, restore the previous image, then fail as rolled back."""
    params = deploy.params
    logs = list(app.log_tail.read(deploy.run, params.app_logs_argv, check=False))
    deploy.account.note(f"health gate failed: {why}")
    for line in logs[-10:]:
        deploy.account.note(f"  | {line}")
    previous = f"{params.image_repository}:previous"
    deploy.account.note(f"rolling back to {previous}")
    restored, unavailable = restore_image(deploy, previous, step=REPLACE_APP.label)
    deploy.rolled_back = True
    deploy.journal.set(rollback={"reason": why, "restored_image": restored, "app_log_tail": logs,
                                 "unavailable_seconds": round(unavailable, 3)})
    raise RolledBack(f"the new version failed its health gate ({why}); rolled back to {previous} "
                     f"({short_id(restored)}), which is serving again.\n    last log lines:\n      "
                     + "\n      ".join(logs[-8:]), step=REPLACE_APP.label, host=params.host,
                     hint="read the log lines above, fix the service, push, deploy again")


def rollback(deploy: DeployContext) -> StepOutcome:
    """Restore a kept image (default `<repository>:previous`) as latest, with the same gates as a deploy."""
    params = deploy.params
    target = params.rollback_to or f"{params.image_repository}:previous"
    if deploy.dry_run:
        deploy.run(docker.tag(target, params.image), mutating=True)
        if params.zero_downtime:
            slots.show_swap(deploy, params.image)
        else:
            deploy.run(docker.remove_container(params.app_container), mutating=True)
        return StepOutcome(StepStatus.DRY_RUN, f"would restore {target}")
    serving_before = app.version.read(deploy.run, params.version_url, check=False, quiet=True)
    deploy.journal.set(commit_before=serving_before)
    # Errors name the rollback by its name, as records always have ("rollback").
    restored, unavailable = restore_image(deploy, target, step=ROLLBACK.name)
    deploy.rolled_back = True
    deploy.journal.set(image_after=restored, rollback={"reason": "requested by the operator",
                                                       "restored_image": restored,
                                                       "unavailable_seconds": round(unavailable, 3)})
    version = app.version.read(deploy.run, params.version_url, check=False) or ""
    deploy.journal.set(commit_after=version or None)
    deploy.account.fact("serving", f"{version[:12]} from {short_id(restored)}")
    return StepOutcome(StepStatus.DONE, f"restored {target}", {"restored_image": restored, "version": version,
                                                               "unavailable_seconds": round(unavailable, 3)})


def restore_image(deploy: DeployContext, image_ref: str, *, step: str) -> tuple[str, float]:
    """Point latest at `image_ref`, replace the app, wait until it serves; returns (image id, seconds down)."""
    params = deploy.params
    restored = image_id(deploy, image_ref)
    if not restored:
        raise StepError(f"there is no image {image_ref} to roll back to", step=step, host=params.host,
                        hint="list the kept images: `hermes-ops images -f PARAMS`; pass one as rollback_to / --to")
    if params.zero_downtime:
        return restore_image_without_downtime(deploy, image_ref, restored, step=step)
    deploy.run(docker.tag(image_ref, params.image), mutating=True)
    remove_app_container(deploy, params.app_container)
    healthy, detail = wait_until_serving(deploy, restored, params.replace_timeout)
    if not healthy:
        raise StepError(f"ROLLBACK FAILED: {params.app_container} did not come back healthy on {image_ref} "
                        f"({detail}); the service may be down", step=step, host=params.host,
                        hint="act now by hand: check the supervisor (`journalctl -u hermes-app`), "
                             f"`docker images {params.image_repository}`, and restart from a known good tag")
    return restored, detail


def restore_image_without_downtime(deploy: DeployContext, image_ref: str, restored: str, *,
                                   step: str) -> tuple[str, float]:
    """`restore_image` with `zero_downtime`: the restored image is gated in the idle slot while the current one
    serves; if it fails, latest points where it did and the current version keeps serving."""
    params = deploy.params
    latest_before = image_id(deploy, params.image)
    deploy.run(docker.tag(image_ref, params.image), mutating=True)
    try:
        slots.swap(deploy, restored, None)
    except slots.SlotGateFailed as failure:
        if latest_before:
            deploy.run(docker.tag(latest_before, params.image), mutating=True)
        raise StepError(f"ROLLBACK FAILED: {image_ref} did not pass the health gate in the idle slot "
                        f"({failure.why}); the version that served before still serves, and {params.image} "
                        "points where it did", step=step, host=params.host,
                        hint=f"read `docker logs` of the slot's container; choose another kept image "
                             f"(`docker images {params.image_repository}`) and roll back to it") from None
    return restored, 0.0


# What `docker rm --force` answers for a container that is going anyway: the daemon is removing it already (a
# crash-looping app started with --rm is removed each time it exits) or it is gone. Removed either way.
BEING_REMOVED = ("is already in progress", "No such container")


def remove_app_container(deploy: DeployContext, name: str) -> None:
    """Remove the app container, for the supervisor to respawn it from latest; one already going counts as removed."""
    result = deploy.run(docker.remove_container(name), mutating=True, check=False)
    if result.ok or result.dry_run or any(answer in result.stderr for answer in BEING_REMOVED):
        return
    raise CommandFailed(failed_command_message(result, f"exited {result.exit_code}"), result=result)


# Between two looks at the respawning app, on the host itself (one inspect and one curl, a few ms each there).
SERVING_POLL_SECONDS = 0.02
WAIT_GRACE_SECONDS = 30  # the wait's own command may take this much longer than the wait before it is cut


def wait_until_serving(deploy: DeployContext, wanted_image: str, timeout: float) -> tuple[bool, float | str]:
    """Wait on the host until the app runs `wanted_image` and answers health: (True, seconds) or (False, why).

    One command does the waiting there (`host.wait_for_app`), so the deploy notices the app within 20 ms
    of it answering, without a round trip per look. A crash loop shows as several containers started.
    """
    waited = app.serving_wait.read(deploy.run, deploy.params.app_container, wanted_image, deploy.params.health_url,
                                   timeout, SERVING_POLL_SECONDS, check=False, quiet=True,
                                   timeout=timeout + WAIT_GRACE_SECONDS)
    if waited.serving:
        return True, waited.seconds
    if waited.containers_seen > 2:
        return False, f"crash-looping: {waited.containers_seen} containers started from the new image, none healthy"
    return False, f"not healthy within {timeout:.0f}s (last seen: {waited.last_seen})"


def prune_images(deploy: DeployContext) -> list[str]:
    """Keep the newest `keep_images` deploy images (and whatever latest/previous point at); remove older ones."""
    repository = deploy.params.image_repository
    listed, latest, previous = read_on_host(deploy, Reading(images.deploy_images, (repository,)),
                                            Reading(images.image_id, (deploy.params.image,)),
                                            Reading(images.image_id, (f"{repository}:previous",)))
    deploy_images, protected = listed.value, {latest.value, previous.value}
    pruned = []
    for image in deploy_images[deploy.params.keep_images:]:
        if image.image_id in protected:
            continue
        if deploy.run(docker.remove_image(f"{repository}:{image.tag}"), check=False, mutating=True, quiet=True).ok:
            pruned.append(f"{repository}:{image.tag}")
    if pruned:
        deploy.account.fact("pruned", ", ".join(pruned))
    return pruned


# -- reading facts through the deploy's journaled runner ----------------------------------------------
# What a step keeps for a later step of the same hold of the lock (`DeployContext.remember`): only what
# the lock itself protects. Step 4 scanned for leftover builds (and stopped any), so step 5 need not: a
# marked build starts only under the lock. What serves is read again: no lock keeps an app from crashing.
LEFTOVERS_STOPPED = "leftover builds stopped"


def read_on_host(deploy: DeployContext, *readings: Reading) -> tuple[Answer, ...]:
    """Facts of the host read with one command (one SSH round trip; journaled, quiet: facts)."""
    return together(*readings).read(deploy.run, check=False, quiet=True)


def read_in_admin(deploy: DeployContext, *readings: Reading) -> tuple[Answer, ...]:
    """Facts of the admin container's checkout read with one `docker exec` (journaled, quiet: facts)."""
    return together(*readings).read(deploy.in_admin, check=False, quiet=True)


def checked_value(deploy: DeployContext, reading: Reading, answer: Answer, *, run=None, **options):
    """The value of a fact whose failure stops the step: its answer in a batch, or, if its command failed, the
    fact read again alone (`run`: default in the checkout), which raises (`check=True`) exactly as it would have
    alone."""
    if answer.ok:
        return answer.value
    return reading.fact.read(run or deploy.in_admin, *reading.arguments, **options)


def _pulled_head_and_changelog(deploy: DeployContext, before: str) -> tuple[str, tuple[str, ...]]:
    """After the pull: HEAD and the commits from `before` to it, in one `docker exec`."""
    head_reading = Reading(checkout.head)
    head, changelog = read_in_admin(deploy, head_reading, Reading(checkout.changelog, (before, "HEAD")))
    after = checked_value(deploy, head_reading, head) or ""
    if after == before:
        return after, ()
    if not head.ok:  # HEAD was read again alone: the changelog too, up to what it said
        return after, checkout.changelog.read(deploy.in_admin, before, after, check=False)
    return after, changelog.value


def probe(deploy: DeployContext, fact: Fact, *arguments):
    """A fact read on the host, journaled but quiet (a fact is not an action), never failing the step."""
    return fact.read(deploy.run, *arguments, check=False, quiet=True)


def image_id(deploy: DeployContext, image: str) -> str | None:
    return probe(deploy, images.image_id, image)


def http_ok(deploy: DeployContext, url: str) -> bool:
    return probe(deploy, app.health, url) == 200


def _changed(deploy: DeployContext) -> StepStatus:
    return StepStatus.DRY_RUN if deploy.dry_run else StepStatus.DONE
