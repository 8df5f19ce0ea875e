"""What the step console shows and allows, worked out from the deploy's record: no widgets, no threads.

Every question the console asks ("which step is next?", "may this one run?", "what must the
operator confirm?", "what failed, and what did it print last?") is answered here from the
`Deploy` and its `Record`, so the answers are the same whoever drew the buttons, and the
rules can be tested without a browser or a host.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from hermes_ops.runbook.record import StepEntry
from hermes_ops.runbook.vocabulary import PREFLIGHT, ROLLBACK, RUN_ORDER, Outcome, Step, StepStatus, step_numbered

EXIT = 8
# A step with one of these has done its part: the next one may run.
SUCCEEDED = frozenset({StepStatus.DONE, StepStatus.NO_OP, StepStatus.SKIPPED, StepStatus.RESUMED,
                       StepStatus.DRY_RUN})
DESTRUCTIVE = frozenset({6, 7, ROLLBACK.number})
LAST_LINES = 12
# The console's words for a step the record has no entry for (yet).
PENDING = "pending"
NOT_RUN = "not run"


@dataclass(frozen=True)
class Action:
    """What a click asks for: run a step (`number` 0-9, 9 = roll back) or stop the deploy."""

    kind: str      # "run" | "stop"
    number: int    # the row it belongs to: the step, or Exit (8) for stop

    @classmethod
    def run(cls, number: int) -> "Action":
        return cls("run", number)

    @classmethod
    def stop(cls) -> "Action":
        return cls("stop", EXIT)

    @property
    def label(self) -> str:
        return "stop the deploy" if self.kind == "stop" else step_label(self.number)


def step_of(number: int) -> Step:
    return step_numbered(number)


def step_label(number: int) -> str:
    """`step 5 · Build`, `preflight`, `roll back`: how the console names a step in sentences."""
    if number == PREFLIGHT.number:
        return "preflight"
    if number == ROLLBACK.number:
        return "roll back"
    return f"step {number} · {step_of(number).title}"


def journal_entries(deploy) -> dict[int, StepEntry]:
    """The latest record entry of each step number (a retried step has one entry per attempt)."""
    return deploy.record.latest_steps()


def status_of(deploy, number: int, running: int | None = None) -> StepStatus | str:
    """A `StepStatus` (running, done, no-op, skipped, resumed, dry-run, failed), or pending | not run."""
    if number == running:
        return StepStatus.RUNNING
    if number == EXIT:
        return StepStatus.DONE if deploy.finished else PENDING
    entry = journal_entries(deploy).get(number)
    if entry is None:
        return NOT_RUN if deploy.finished else PENDING
    return entry.status


def next_step(deploy) -> int | None:
    """The one step whose Run button is enabled: the first in order that has not succeeded."""
    if deploy.finished:
        return None
    if getattr(deploy, "rolled_back", False) and deploy.failed_step is None:
        return EXIT  # a rollback went through: all that is left is to finish
    for number in RUN_ORDER:
        if status_of(deploy, number) not in SUCCEEDED:
            return number
    return None


def can_roll_back(deploy) -> bool:
    return hasattr(deploy, "rollback")


def refusal(deploy, action: Action, *, busy: Action | None = None, confirming: Action | None = None) -> str | None:
    """Why `action` may not start now, or None if it may."""
    if busy is not None:
        return f"{busy.label} is running: wait for it to finish"
    if confirming is not None:
        return f"answer the confirmation for {confirming.label} first"
    if deploy.finished:
        return (f"this deploy has finished ({deploy.record.outcome}); run the notebook from the top "
                "for a new one")
    if action.kind == "stop":
        return None
    if action.number == ROLLBACK.number:
        if not can_roll_back(deploy):
            return "this version of hermes_ops cannot roll back from the console"
        if deploy.failed_step is None:
            return "roll back is offered after a step has failed"
        return None
    wanted = next_step(deploy)
    if action.number == wanted:
        return None
    status = status_of(deploy, action.number)
    if status in SUCCEEDED:
        return f"{step_label(action.number)} is already {status}; the next step is {step_label(wanted)}"
    return f"{step_label(action.number)} cannot run yet: {step_label(wanted)} has not succeeded"


def choices(deploy, *, busy: Action | None = None, confirming: Action | None = None) -> dict[str, bool]:
    """The failure panel's buttons and whether each is enabled: retry, roll back, stop."""
    idle = busy is None and confirming is None and not deploy.finished
    failed = deploy.failed_step
    return {
        "retry": idle and failed is not None,
        "rollback": idle and failed is not None and can_roll_back(deploy),
        "stop": idle,
    }


def needs_confirmation(deploy, action: Action) -> bool:
    """Steps that change what production serves ask first, unless they will change nothing anyway."""
    if action.kind != "run" or action.number not in DESTRUCTIVE:
        return False
    if getattr(deploy, "dry_run", False):
        return False
    return not (action.number in (6, 7) and deploy.nothing_new)


def host_text(deploy) -> str:
    """`texasca2 (core@127.0.0.1:2222)`: the name the host gives itself once connected, and where it is."""
    params = deploy.params
    where = f"{params.user}@{params.host}:{params.port}"
    hostname = deploy.record.facts.get("hostname")
    return f"{hostname} ({where})" if hostname else where


def commit_text(deploy) -> str:
    """`commit 790ec6b4a36e (790ec6b Fix the greeting (Ada))`: what is being deployed, as known after step 4."""
    commit = deploy.commit_after
    if not commit:
        return "the commit pulled in step 4"
    changelog = deploy.record.changelog
    if not changelog:
        return f"commit {commit[:12]}"
    more = f" and {len(changelog) - 1} more" if len(changelog) > 1 else ""
    return f"commit {commit[:12]} ({changelog[0]}{more})"


def confirmation_text(deploy, action: Action) -> str:
    """The question a destructive step asks: it names the host, the commit and what will change."""
    params = deploy.params
    host, commit = host_text(deploy), commit_text(deploy)
    repository = params.image.rsplit(":", 1)[0]
    if action.number == 6:
        return (f"Commit the image on {host}: save {params.admin_container} as {repository}:"
                f"{deploy.commit_after[:12]} and point {params.image} at {commit}. The current "
                f"{params.image} is kept as {repository}:previous.")
    if action.number == 7 and getattr(params, "zero_downtime", False):
        return (f"Swap the app on {host} without downtime: start {params.image} = {commit} in the idle slot, gate "
                "it on its own port, then switch haproxy to it and retire the old slot once its requests finish. "
                "If the new version fails its health check it is removed and never served.")
    if action.number == 7:
        return (f"Replace the app container on {host}: remove {params.app_container} so that it respawns from "
                f"{params.image} = {commit}. The service is unavailable for a few seconds; if the new version "
                "fails its health check, the previous image is restored.")
    target = getattr(params, "rollback_to", "") or f"{repository}:previous"
    return (f"Roll back on {host}: point {params.image} at {target} again and replace {params.app_container}, "
            f"taking {commit} out of service. The deploy then ends as rolled back.")


@dataclass(frozen=True)
class FailureReport:
    headline: str
    last_lines: tuple[str, ...]
    hint: str


def failure_report(deploy, error: BaseException | None = None, account_lines=(), count: int = LAST_LINES
                   ) -> FailureReport | None:
    """What failed, the last lines that explain it, and what to do; None if no step is failed.

    The lines come from the failing command's captured output when the error carries one, else
    from the lines the step's error message quotes (a build failure quotes its tail), else from
    the end of what the step printed.
    """
    failed = deploy.failed_step
    if failed is None:
        return None
    entry = journal_entries(deploy).get(failed.number) or StepEntry(failed.number)
    cause = getattr(error, "__cause__", None) or error
    message = getattr(cause, "message", None) or entry.error or ""
    headline = f"{step_label(failed.number)} failed: {entry.summary or (message.splitlines() or [''])[0]}"
    result = getattr(cause, "result", None)
    if result is not None:
        lines = [line for stream in ("stderr", "stdout") for line in result.tail(count, stream).splitlines()]
    elif len(message.splitlines()) > 1:
        lines = [line.rstrip() for line in textwrap.dedent("\n".join(message.splitlines()[1:])).splitlines()
                 if line.strip()]
    else:
        lines = [line for line in account_lines if line.strip()]
    hint = getattr(cause, "hint", None) or ""
    return FailureReport(headline[0].upper() + headline[1:], tuple(lines[-count:]), hint)


def banner(deploy, *, busy: Action | None = None, confirming: Action | None = None,
           record: str | None = None) -> tuple[str, str]:
    """The console's one-line state, and its tone: success | warning | failure | active | neutral."""
    run = deploy.record
    if deploy.finished:
        outcome = run.outcome
        closed = "deploy lock released, SSH session closed"
        where = f" · record: {record}" if record else ""
        serving = (run.commit_after or run.commit_before or "")[:12]
        host = run.facts.get("hostname") or deploy.params.host
        if outcome == Outcome.SUCCESS:
            return f"✔ Deploy succeeded: {host} serves {serving} · {closed}{where}", "success"
        if outcome == Outcome.NOTHING_NEW:
            return f"✔ Nothing new to deploy: {host} already serves {serving} · {closed}{where}", "success"
        if outcome == Outcome.DRY_RUN:
            return f"✔ Dry run finished: nothing was changed on {host} · {closed}{where}", "success"
        if outcome == Outcome.ROLLED_BACK:
            return f"↩ Rolled back: {host} serves {serving} again · {closed}{where}", "warning"
        if outcome == Outcome.STOPPED:
            after = f"after {step_label(run.steps[-1].number)}" if run.steps else "before step 1"
            return f"■ Deploy stopped by the operator {after} · {closed}{where}", "warning"
        at = f" at step {run.failed_step}" if run.failed_step else ""
        return f"✘ Deploy {outcome}{at} · {closed}{where}", "failure"
    if busy is not None:
        return f"Running {busy.label} …", "active"
    if confirming is not None:
        return f"Confirm or cancel {confirming.label} below", "active"
    if deploy.failed_step is not None:
        return (f"✘ {step_label(deploy.failed_step.number)} failed: retry it, roll back or stop (below)",
                "failure")
    wanted = next_step(deploy)
    return (f"Next: {step_label(wanted)}", "neutral") if wanted is not None else ("", "neutral")
