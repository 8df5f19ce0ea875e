"""Facts: read-only probes of the host, each a command builder plus a pure parser returning a typed value.

Nothing outside this package parses what the host prints. A fact is a `Fact` (see `fact.py`):
`fact.command(*arguments)` builds the argument list (from `hermes_ops.commands`), `fact.parse(output)`
turns what it printed into a value, and `fact.read(run, *arguments, **options)` does both through
the caller's runner (`Deploy.run`, `Deploy.in_admin`, `SSHRunner.run`), with the caller's options.

| module | fact | value |
|---|---|---|
| `host` | `hostname`, `docker_version` | `str` |
| `disk` | `free_kilobytes` (`df -Pk PATH`) | `int` KiB, or None |
| `containers` | `state` | `ContainerState`, or None (no such container) |
| | `instance` (image, running, id) | `ContainerInstance`, or None |
| | `ids_matching` (`docker ps --filter`) | `tuple[str, ...]` |
| `images` | `image_id` | `str`, or None (no such image) |
| | `labels` (incl. `io.hermes.commit`) | `dict[str, str]`, or None |
| | `deploy_images` (commit tags, newest first) | `tuple[DeployImage, ...]` |
| | `ids_matching` (`docker images --filter`) | `tuple[str, ...]` |
| `app` | `container` (image, running, commit label) | `AppContainer`, or None |
| | `health` (HTTP status) | `int`, or None (nothing answered) |
| | `version` (the version URL's body) | `str`, or None |
| | `log_tail` (the app's last log lines) | `tuple[str, ...]` |
| `lock` | `probe` (FREE/BUSY), `fence` (HELD/LOST); `parse_answer` also reads `hold` and `break_lock` | `LockAnswer` |
| | `parse_holder`: the holder line's `run`, `operator`, `commit`, `since`, `pid` | `dict[str, str]` |
| `checkout` | `changes` (`git status --porcelain`) | `tuple[str, ...]`, () when clean |
| | `branch` | `str`, or None (detached HEAD) |
| | `head`, `remote_commit` (`git ls-remote`) | `str`, or None |
| | `changelog` | `tuple[str, ...]` |
| `builds` | `leftovers` (deploy builds still running); `running_builds`, run in the container | `dict[run id, pids]` |
| `batch` | `together(*readings)`: several facts in one command, each parsed as if alone | `tuple[Answer, ...]` |

`images.parse_new_image_id` reads the id `docker commit` prints, so step 6 need not inspect the image it made.
"""

from hermes_ops.facts.fact import Fact

__all__ = ["Fact"]
