"""`DeployContext`: what a step needs from the deploy that runs it, as a protocol.

Steps, serving facts and resume checks are written against this, not against `Deploy`
itself: `deploy.py` imports the steps, so the steps must not import `deploy.py` back.
`Deploy` satisfies it (a unit test checks), and so can a test's stand-in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from hermes_ops.params import DeployParameters
from hermes_ops.result import Result
from hermes_ops.runbook.account import Account
from hermes_ops.runbook.journal import Journal
from hermes_ops.runbook.lock import DeployLock
from hermes_ops.ssh.runner import SSHRunner


class DeployContext(Protocol):
    params: DeployParameters
    account: Account
    journal: Journal
    lock: DeployLock
    runner: SSHRunner | None
    run_id: str
    dry_run: bool
    nothing_new: bool
    rolled_back: bool
    started_at_text: str

    @property
    def commit_after(self) -> str: ...

    @property
    def image_after(self) -> str: ...

    def open_connection(self) -> None: ...

    def run(self, argv: Sequence, *, timeout: float | None = None, check: bool = True, stream=None,
            quiet: bool = False, mutating: bool = False) -> Result: ...

    def in_admin(self, argv: Sequence, *, environment: dict | None = None, **kwargs) -> Result: ...

    def check_lock(self) -> None: ...

    def remember(self, name: str, value) -> None: ...

    def recall(self, name: str, default=None): ...
