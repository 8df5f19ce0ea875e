"""What `hermes-ops` exits with, so a CI job can tell a refusal from a failure from a rollback.

    0    success (or nothing new to deploy, or a dry run); for `rollback`: rolled back; for `access`:
         done, or nothing to change (the key was granted exactly so, or is not there to revoke)
    1    failed: the run started changing the host and stopped (production was left serving
         what it served, or restored); or the command itself failed
    2    refused before connecting: a parameter, the parameters file, the key, the records folder
    3    refused by the host before anything changed: preflight failed or another deploy holds the lock
    4    rolled back: the new version failed its health gate and the previous image serves again
    130  interrupted (Ctrl-C, SIGTERM, SIGHUP); the run ended cleanly and wrote its record

The mapping reads only the record (outcome, failed step, refused_by), never the wording of an error.
"""

from __future__ import annotations

from hermes_ops.errors import ConfigError
from hermes_ops.runbook.record import Record
from hermes_ops.runbook.vocabulary import ACCESS_SUCCESS, DEPLOY_SUCCESS, PREFLIGHT, ROLLBACK_SUCCESS, STEPS, Outcome

SUCCESS = 0
FAILED = 1
REFUSED = 2
REFUSED_BY_HOST = 3
ROLLED_BACK = 4
INTERRUPTED = 130

TABLE = __doc__.split("\n\n", 1)[1].rsplit("\n\n", 1)[0]
SUCCESS_BY_KIND = {"rollback": ROLLBACK_SUCCESS, "access": ACCESS_SUCCESS, "grant-access": ACCESS_SUCCESS}
# Steps that fail before any connection is made: the parameter check and the key.
BEFORE_CONNECTING = frozenset({"parameters", STEPS[0].label})


def for_record(record: Record | None) -> int:
    """The exit code of a run whose record (the archived JSON) says how it ended, by its kind."""
    if record is None:
        return FAILED
    outcome = record.outcome
    if outcome == Outcome.INTERRUPTED:
        return INTERRUPTED
    if outcome in SUCCESS_BY_KIND.get(record.kind, DEPLOY_SUCCESS):
        return SUCCESS
    if outcome == Outcome.ROLLED_BACK:
        return ROLLED_BACK
    if outcome == Outcome.FAILED:
        if record.refused_by == "lock" or record.failed_step == PREFLIGHT.label:
            return REFUSED_BY_HOST
        if record.failed_step in BEFORE_CONNECTING:
            return REFUSED
    return FAILED


def for_error(error: BaseException) -> int:
    """The exit code of an error raised in this process before or after a run."""
    if isinstance(error, KeyboardInterrupt):
        return INTERRUPTED
    if isinstance(error, ConfigError):
        return REFUSED
    return FAILED
