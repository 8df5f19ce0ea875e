"""`records/index.html`: one static page to browse the runs, for people who open the records folder in a browser.

The page is self-contained (inline CSS and a little inline JavaScript, nothing fetched), so it works
from `file://`, on a machine without network, and years later. Every value from a record is
untrusted text (operator names, reasons, failures), so each is passed through `html.escape`; and a
Content-Security-Policy allows only this page's own style and script (by their sha256), so even a
value that slipped through could neither run a script nor load anything.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from html import escape
from urllib.parse import quote

from hermes_ops.records.listing import COLUMNS, RecordRow, newest_first, table_cells
from hermes_ops.runbook.vocabulary import Outcome

# A row's colour says how the run ended: green it serves what was meant, amber it was rolled back,
# red it failed, grey it stopped part-way, blue nothing was changed on purpose.
OUTCOME_COLOURS = {
    Outcome.SUCCESS: "#d9f2d9", Outcome.NOTHING_NEW: "#d9f2d9",
    Outcome.ROLLED_BACK: "#fde7b5",
    Outcome.FAILED: "#f8d0d0",
    Outcome.INTERRUPTED: "#e3e3e3", Outcome.STOPPED: "#e3e3e3", Outcome.ABANDONED: "#e3e3e3",
    Outcome.DRY_RUN: "#d6e6fb",
}

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d1d1d; }
h1 { font-size: 1.4em; margin: 0 0 .2em; }
.generated { color: #555; margin: 0 0 1em; }
.controls { display: flex; gap: 1em; align-items: center; margin-bottom: .8em; }
#search { width: 24em; padding: .3em; }
table { border-collapse: collapse; }
th, td { padding: .3em .7em; text-align: left; border-bottom: 1px solid #ccc; white-space: nowrap; }
th { background: #f2f2f2; }
td.number { text-align: right; }
code { font-size: .95em; }
[hidden] { display: none !important; }
""" + "".join(f'tr[data-outcome="{outcome.value}"] td {{ background: {colour}; }}\n'
              for outcome, colour in OUTCOME_COLOURS.items())

_SCRIPT = """
(function () {
  const search = document.getElementById("search");
  const outcome = document.getElementById("outcome");
  const count = document.getElementById("count");
  const rows = Array.from(document.querySelectorAll("#records tbody tr"));
  function show() {
    const words = search.value.toLowerCase().split(/\\s+/).filter(Boolean);
    let shown = 0;
    for (const row of rows) {
      const text = row.textContent.toLowerCase();
      const visible = (!outcome.value || row.dataset.outcome === outcome.value)
        && words.every((word) => text.includes(word));
      row.hidden = !visible;
      shown += visible ? 1 : 0;
    }
    count.textContent = shown + " of " + rows.length + " records shown";
  }
  search.addEventListener("input", show);
  outcome.addEventListener("change", show);
  show();
})();
"""


def render_index(rows: Sequence[RecordRow], *, title: str = "Hermes deploy records", generated_at: str) -> str:
    """The whole page for `rows` (any order: shown newest first); `generated_at` is shown as given."""
    ordered = newest_first(rows)
    policy = (f"default-src 'none'; style-src '{_sha256(_STYLE)}'; script-src '{_sha256(_SCRIPT)}'; "
              "base-uri 'none'; form-action 'none'")
    header = "".join(f"<th>{escape(name)}</th>" for name in COLUMNS)
    body = "\n".join(_row_html(row) for row in ordered)
    shown = f"{len(ordered)} of {len(ordered)} records shown"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{escape(policy)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>{escape(title)}</h1>
<p class="generated">generated at {escape(generated_at)}</p>
<div class="controls">
<input id="search" type="search" placeholder="search: run, operator, host, commit, outcome" aria-label="search">
<select id="outcome" aria-label="outcome">{_outcome_options(ordered)}</select>
<span id="count">{escape(shown)}</span>
</div>
<table id="records">
<thead><tr>{header}</tr></thead>
<tbody>
{body}
</tbody>
</table>
<script>{_SCRIPT}</script>
</body>
</html>
"""


def _row_html(row: RecordRow) -> str:
    cells = []
    for column, value in zip(COLUMNS, table_cells(row)):
        if column == "run id":
            href = escape(quote(f"{row.stem}.html", safe=""))  # relative, and never a scheme like javascript:
            cells.append(f'<td><a href="{href}"><code>{escape(value)}</code></a></td>')
        elif column == "outcome" and (row.failed_step or row.failure):
            why = ": ".join(part for part in (row.failed_step, row.failure) if part)
            cells.append(f'<td title="{escape(why)}">{escape(value)}</td>')
        elif column == "duration":
            cells.append(f'<td class="number">{escape(value)}</td>')
        else:
            cells.append(f"<td>{escape(value)}</td>")
    return (f'<tr data-outcome="{escape(row.outcome)}" data-run-id="{escape(row.run_id)}">'
            + "".join(cells) + "</tr>")


def _outcome_options(rows: Sequence[RecordRow]) -> str:
    """"all outcomes", then each outcome the rows have (in the vocabulary's order) with its count."""
    known = [outcome.value for outcome in Outcome]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.outcome] = counts.get(row.outcome, 0) + 1
    ordered = sorted(counts, key=lambda outcome: (known.index(outcome) if outcome in known else len(known), outcome))
    return '<option value="">all outcomes</option>' + "".join(
        f'<option value="{escape(outcome)}">{escape(outcome)} ({counts[outcome]})</option>' for outcome in ordered)


def _sha256(text: str) -> str:
    """A CSP source allowing exactly the inline block `text`."""
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
