"""The runbook's words, spelled once: the steps, the outcomes of a run, the statuses of a step.

Outcomes and statuses are `str` enums, so JSON records keep the plain strings they always had
(`"success"`, `"rolled-back"`, …) and old records load unchanged. A step's label (`"5 Build"`)
comes from its `Step`, never from a literal typed elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Outcome(str, Enum):
    """How a run ended (or that it is still running)."""

    RUNNING = "running"
    SUCCESS = "success"
    NOTHING_NEW = "nothing-new"
    DRY_RUN = "dry-run"
    FAILED = "failed"
    ROLLED_BACK = "rolled-back"
    INTERRUPTED = "interrupted"
    STOPPED = "stopped"
    ABANDONED = "abandoned"

    def __str__(self) -> str:
        return self.value

    @property
    def needs_failure_text(self) -> bool:
        return self in (Outcome.FAILED, Outcome.ROLLED_BACK, Outcome.INTERRUPTED, Outcome.ABANDONED)


class StepStatus(str, Enum):
    """What one step did."""

    RUNNING = "running"
    DONE = "done"
    NO_OP = "no-op"
    SKIPPED = "skipped"
    DRY_RUN = "dry-run"
    RESUMED = "resumed"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


# A deploy notebook succeeds with these; a rollback notebook's purpose is to end rolled back.
DEPLOY_SUCCESS = frozenset({Outcome.SUCCESS, Outcome.NOTHING_NEW, Outcome.DRY_RUN})
ROLLBACK_SUCCESS = frozenset({Outcome.ROLLED_BACK, Outcome.DRY_RUN})
# An access run succeeds with these (nothing-new: the key was granted, or revoked, exactly so already).
ACCESS_SUCCESS = frozenset({Outcome.SUCCESS, Outcome.NOTHING_NEW})
# A step with one of these needs not run again when the run is resumed.
FINISHED_STATUSES = frozenset({StepStatus.DONE, StepStatus.NO_OP, StepStatus.RESUMED})


@dataclass(frozen=True)
class Step:
    number: int
    name: str
    title: str
    mutating: bool

    @property
    def label(self) -> str:
        """How records and errors name the step: `"5 Build"`, `"preflight"`, `"9 Roll back"`.

        Records have always named a failed rollback `"9 Roll back"` (its `failed_step`), so the
        rollback keeps its number here; only the preflight, which has none, is named by word.
        """
        if self.number == 0:
            return "preflight"
        return f"{self.number} {self.title}"


STEPS = (
    Step(1, "ssh_key", "SSH key", False),
    Step(2, "connect", "Connect", False),
    Step(3, "start_admin", "Start the admin client", True),
    Step(4, "pull", "Pull", True),
    Step(5, "build", "Build", True),
    Step(6, "commit_image", "Commit the image", True),
    Step(7, "replace_app", "Replace the app container", True),
    Step(8, "exit", "Exit", False),
)
PREFLIGHT = Step(0, "preflight", "Preflight", False)
ROLLBACK = Step(9, "rollback", "Roll back", True)
# The order a deploy runs in: the read-only preflight comes once connected, before anything changes.
RUN_ORDER = (1, 2, PREFLIGHT.number, 3, 4, 5, 6, 7, 8)


def step_numbered(number: int) -> Step:
    """The step with `number` (0 = preflight, 1-8 the wiki's steps, 9 = rollback)."""
    return {0: PREFLIGHT, 9: ROLLBACK}.get(number) or STEPS[number - 1]
