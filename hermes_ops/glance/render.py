"""Plain text for the terminal: `status` as labelled lines, `images` as a table. Pure functions of the model.

Nothing is cut: the host, commits, operators and reasons are shown whole (columns are as wide as
their widest value). Everything that came from the host is neutralised (`terminal_text`) and kept
on one line, so no label, log line or lock holder can drive the operator's terminal.
"""

from __future__ import annotations

from hermes_ops.facts.images import short_id
from hermes_ops.glance.model import HOST_LOG_LINES, KeptImages, LastDeploy, LockInfo, ProductionStatus
from hermes_ops.terminal_text import neutralise

LABEL_WIDTH = 12
NOTHING = "-"


def shown(value) -> str:
    """One value from the host, safe for a terminal and on one line; "-" for none."""
    if value is None or value == "":
        return NOTHING
    return neutralise(str(value)).replace("\n", "\\n").replace("\t", "\\t")


def render_status(status: ProductionStatus) -> str:
    """`hermes-ops status` for people: one labelled line per subject, then any problems."""
    serving = status.serving
    hostname = f" (hostname {shown(status.hostname)})"
    if serving.image is None:
        serves = "nothing: no app container"
    else:
        running = "" if serving.running else " (container NOT running)"
        serves = f"{shown(serving.commit or serving.version or 'no version reported')}{running}"
    image = NOTHING if serving.image is None else "  ".join(
        [short_id(serving.image), ", ".join(shown(tag) for tag in status.image_tags) or "(no tag of its repository)"])
    health = (f"healthy: {status.health_url} answers 200" if serving.healthy
              else f"NOT healthy: {status.health_url} did not answer 200")
    rows = [("host", status.host + hostname), ("serving", serves), ("image", image), ("health", health),
            ("lock", _lock(status.lock)), *_last_deploy("last deploy", status.last_deploy)]
    if status.last_success != status.last_deploy:
        rows += _last_deploy("last success", status.last_success)
    rows.append(("checked", status.checked_at))
    rows += [("problem", shown(problem)) for problem in status.problems]
    return "\n".join(f"{label:{LABEL_WIDTH}} {text}" for label, text in rows)


def _lock(lock: LockInfo) -> str:
    if lock.state == "free":
        return "free"
    if lock.state == "held":
        return f"held by {shown(lock.holder or 'an unknown holder')}"
    return f"unknown (the probe said {shown(lock.holder)})"


def _last_deploy(label: str, run: LastDeploy | None) -> list[tuple[str, str]]:
    if run is None:
        return [(label, f"none in the host log's last {HOST_LOG_LINES} lines")]
    field = run.fields.get
    rows = [(label, f"{shown(field('time'))} {shown(field('kind'))} {shown(field('outcome'))} by "
                         f"{shown(field('operator'))}, commit {shown(field('commit'))}, image {shown(field('image'))}, "
                         f"run {shown(field('run'))}")]
    if field("reason"):
        rows.append(("", f"reason: {shown(field('reason'))}"))
    return rows


IMAGE_COLUMNS = ("IMAGE", "COMMIT", "DEPLOYED", "OPERATOR", "ROLE", "REASON")


def render_images(kept: KeptImages, params_hint: str = "PARAMS") -> str:
    """`hermes-ops images` for people: a heading, one row per image (newest first), how to roll back."""
    heading = (f"{shown(kept.repository)} on {kept.host}: {len(kept)} image(s) kept for rollback "
               f"(a successful deploy keeps the newest {kept.keep_images})")
    if not kept.images:
        return heading
    rows = [IMAGE_COLUMNS] + [
        (shown(image.reference), shown(image.commit[:12] if image.commit else None), shown(image.deployed_at),
         shown(image.operator), shown(", ".join(image.roles)), shown(image.reason))
        for image in kept.images]
    widths = [max(len(row[column]) for row in rows) for column in range(len(IMAGE_COLUMNS) - 1)]
    table = ["  ".join([*(cell.ljust(width) for cell, width in zip(row, widths)), row[-1]]).rstrip()
             for row in rows]
    return "\n".join([heading, *table, f"roll back to one: hermes-ops rollback -f {params_hint} --to IMAGE"])
