"""What every run does with each command and as it ends, whichever runbook it is (deploy, rollback, access).

Each command it runs goes into its journal, a failed one too; its line goes into the host's audit log
if the host can still be reached (the journal says whether it got there); its notebook is archived
with its record once the cell that ended it has ended.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hermes_ops.commands import host as host_commands
from hermes_ops.errors import HermesOpsError
from hermes_ops.result import Result
from hermes_ops.runbook.account import Account
from hermes_ops.runbook.journal import Journal


def run_journaled(runner, argv: Sequence, journal_command: Callable[[Result, bool], None], *, quiet: bool = False,
                  **options) -> Result:
    """`runner.run(argv, **options)`, its result handed to `journal_command(result, quiet)`, a failed one's too."""
    try:
        result = runner.run(argv, **options)
    except HermesOpsError as error:
        failed = getattr(error, "result", None)
        if failed is not None:
            journal_command(failed, False)
        raise
    journal_command(result, quiet)
    return result


def log_on_host(runner, journal: Journal, line: str) -> None:
    """Append the run's `line` to the host's audit log; the journal records the line and whether it landed."""
    journal.set(audit_line=line, audit_logged=False)
    if runner is None or not runner.connected:
        return
    try:
        runner.run(host_commands.append_audit_line(line), timeout=30)
        journal.set(audit_logged=True)
    except HermesOpsError as error:
        journal.set(audit_error=str(error))


def archive_notebook(notebook, journal: Journal, account: Account, records_dir, connection=None) -> None:
    """A run the kernel records (`records.kernel_notebook`) archives its notebook once the finishing cell ends.

    Then, with `connection` (its `DeployParameters`), the record is archived on the host too (see
    `records.host_archive.archive_after_run`; a failure leaves it for the next run). The journal
    stays the record if this fails; the operator reads why.
    """
    if notebook is None:
        return
    try:
        notebook.save()
        if not journal.save_error:
            notebook.archive_when_cell_ends(lambda: journal.record, then=_on_host(connection, records_dir))
    except Exception as error:
        account.note(f"WARNING: the record's notebook could not be archived in {records_dir} ({error}); the JSON "
                     f"record is {journal.path}")


def _on_host(connection, records_dir):
    if connection is None:
        return None

    def archive(notebook) -> None:
        from hermes_ops.records import host_archive

        if notebook is not None:
            host_archive.archive_after_run(connection, records_dir, notebook.with_suffix(".json"))
    return archive
