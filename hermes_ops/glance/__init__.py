"""Production at a glance: what serves, its health, the lock and the last run; the images kept for rollback.

Read-only by construction: every command is a fact's probe (`hermes_ops.facts`) or the host
log's tail, through one verified SSH connection, each bounded by `command_timeout`.

| module | job |
|---|---|
| `model` | the frozen values (`ProductionStatus`, `KeptImages`, `KeptImage`), pure judgements, `to_json()` |
| `read` | `status(params_file, overrides)`, `kept_images(params_file, overrides)`: connect, probe, build the model |
| `render` | `render_status`, `render_images`: plain text for the terminal, nothing cut, host values neutralised |
"""

from hermes_ops.glance.model import KeptImage, KeptImages, ProductionStatus
from hermes_ops.glance.read import kept_images, status
from hermes_ops.glance.render import render_images, render_status

__all__ = ["KeptImage", "KeptImages", "ProductionStatus", "kept_images", "render_images", "render_status", "status"]
