"""Resume: continue a failed or interrupted deploy from its failed step, if the host is as its record says."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hermes_ops.errors import ConfigError
from hermes_ops.runbook.context import DeployContext
from hermes_ops.runbook.record import Record, load_record
from hermes_ops.runbook.vocabulary import DEPLOY_SUCCESS, FINISHED_STATUSES, Outcome


@dataclass(frozen=True)
class ResumePoint:
    run_id: str
    record: str
    outcome: Outcome | str
    finished_steps: frozenset[int]
    failed_step: str | None
    commit_before: str | None
    commit_after: str | None
    image_before: str | None
    image_after: str | None
    changelog: tuple[str, ...]

    def summary(self) -> dict:
        return {"run_id": self.run_id, "record": self.record, "outcome": str(self.outcome),
                "failed_step": self.failed_step, "finished_steps": sorted(self.finished_steps)}


def find_record(records_dir: Path, run_id: str) -> Path | None:
    direct = records_dir / f"{run_id}.json"
    if direct.exists():
        return direct
    for path in sorted(records_dir.glob("*.json")):
        record = load_record(path)
        if record is not None and record.run_id == run_id:
            return path
    return None


def load(params) -> ResumePoint:
    """The finished steps and facts of run `params.resume`; refuses runs that need no resuming."""
    records_dir = Path(params.records_dir)
    path = find_record(records_dir, params.resume)
    if path is None:
        raise ConfigError(f"no record of run {params.resume!r} in {records_dir}", step="parameters",
                          hint="`hermes-ops records` lists the runs; pass --records-dir if they are elsewhere")
    record = Record.from_json(json.loads(path.read_text()))
    if record.outcome in DEPLOY_SUCCESS:
        raise ConfigError(f"run {params.resume} ended with {record.outcome}: there is nothing to resume",
                          step="parameters", hint="start a new deploy instead")
    finished = frozenset(step.number for step in record.steps
                         if step.status in FINISHED_STATUSES and 3 <= step.number <= 7)
    return ResumePoint(
        run_id=record.run_id, record=str(path), outcome=record.outcome, finished_steps=finished,
        failed_step=record.failed_step, commit_before=record.commit_before, commit_after=record.commit_after,
        image_before=record.image_before, image_after=record.image_after, changelog=tuple(record.changelog))


def verify_host(deploy: DeployContext, point: ResumePoint) -> None:
    """The host must still be where the record left it; then the record's facts carry over."""
    from hermes_ops.facts import checkout, containers
    from hermes_ops.runbook.steps import CONNECT, StepError, image_id, probe

    problems = []
    if 4 in point.finished_steps:
        if probe(deploy, containers.state, deploy.params.admin_container) != containers.ContainerState.RUNNING:
            problems.append(f"{deploy.params.admin_container} is not running")
        else:
            head = checkout.head.read(deploy.in_admin, check=False, quiet=True)
            if head != point.commit_after:
                problems.append(f"the checkout is at {(head or '')[:12] or '?'}, the record says "
                                f"{point.commit_after[:12]}")
    latest = image_id(deploy, deploy.params.image)
    expected = point.image_after if 6 in point.finished_steps else point.image_before
    if expected and latest != expected:
        problems.append(f"{deploy.params.image} is {latest[:19] if latest else 'missing'}, the record says "
                        f"{expected[:19]}")
    if problems:
        raise StepError(f"the host has changed since run {point.run_id}: " + "; ".join(problems),
                        step=CONNECT.label, host=deploy.params.host,
                        hint="resuming would build on a state nobody checked: start a new deploy (no resume)")
    deploy.journal.set(commit_before=point.commit_before, commit_after=point.commit_after,
                       image_before=point.image_before, changelog=list(point.changelog),
                       image_after=point.image_after if 6 in point.finished_steps else None)
    deploy.account.note(f"resuming run {point.run_id}: host matches its record; steps "
                        f"{', '.join(map(str, sorted(point.finished_steps))) or 'none'} are not repeated")
