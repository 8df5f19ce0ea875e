"""The verdict cell: the archived notebook (and so its HTML) opens with how the run ended.

An auditor opening a record should read the outcome before the narrative: who ran what,
why, on which host (and its key), what served before and after, how long it took, and for a
failure which step failed and why. The cell is built from the finished record alone, so it
says exactly what the JSON summary says.
"""

from __future__ import annotations

import html

from hermes_ops.runbook.record import Record

VERDICT_CELL_ID = "hermes-verdict"
_BADGE = {"success": "✅", "nothing-new": "✅", "dry-run": "🧪", "rolled-back": "↩️", "failed": "❌",
          "interrupted": "⏹️", "stopped": "⏹️", "abandoned": "⚠️", "running": "⏳"}


def _short(value: str | None, length: int = 12) -> str:
    if not value:
        return "none"
    return value.split(":", 1)[1][:length] if value.startswith("sha256:") else value[:length]


def _text(value) -> str:
    """A record value safe inside markdown: HTML-escaped, no table-breaking pipes or newlines."""
    return html.escape("" if value is None else str(value)).replace("|", "&#124;").replace("\n", " ")


def verdict_markdown(record: Record) -> str:
    """The verdict as markdown: a headline with the outcome, then a table of what an auditor asks first."""
    outcome = str(record.outcome or "unknown")
    facts = record.facts or {}
    rows = [
        ("Outcome", f"**{_text(outcome)}**" + (" (dry run)" if record.dry_run and outcome != "dry-run" else "")),
        ("Run", f"`{_text(record.run_id)}` ({_text(record.kind)})"),
        ("Operator", _text(record.operator)),
        ("Reason", _text(record.reason)),
        ("Host", f"{_text(facts.get('hostname') or record.host)} ({_text(record.host)}), host key "
                 f"`{_text(facts.get('host_key_fingerprint') or 'not seen')}`"),
        ("Commit", f"`{_short(record.commit_before)}` → `{_short(record.commit_after)}`"),
        ("Image", f"`{_short(record.image_before)}` → `{_short(record.image_after)}`"),
        ("Started / ended (UTC)", f"{_text(record.started_at)} / {_text(record.ended_at)}"),
        ("Duration", f"{record.duration:.1f} s" if record.duration is not None else "unknown"),
    ]
    if record.failed_step:
        rows.append(("Failed step", _text(record.failed_step)))
    if record.failure:
        rows.append(("Why", _text(record.failure)))
    if record.access:
        rows.append(("Access", _text(", ".join(f"{key}: {value}" for key, value in record.access.items()
                                               if value not in (None, "")))))
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    headline = f"# {_BADGE.get(outcome, 'ℹ️')} Verdict: {_text(outcome)}"
    return (f"{headline}\n\nThe record of this run, summarised from its JSON record before the narrative below.\n\n"
            f"| | |\n|---|---|\n{table}\n")


def with_verdict(notebook: dict, record: Record) -> dict:
    """`notebook` (nbformat JSON) with the verdict cell first; an earlier verdict cell is replaced, not stacked."""
    cells = [cell for cell in notebook.get("cells", []) if cell.get("id") != VERDICT_CELL_ID]
    cell = {"cell_type": "markdown", "id": VERDICT_CELL_ID, "metadata": {"tags": ["verdict"]},
            "source": verdict_markdown(record)}
    return {**notebook, "cells": [cell, *cells]}
