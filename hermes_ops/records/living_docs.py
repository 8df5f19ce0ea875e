"""Living documentation: the notebooks' stored outputs come from a real sandbox deploy, and nbval checks them.

`refresh()` re-executes the notebooks in place against the sandbox; CI re-executes them with
`pytest --nbval` and compares through `notebooks/nbval_sanitize.cfg`. Both start from the same
sandbox state, prepared here, and run their kernels with `KERNEL_ENVIRONMENT`, so the outputs match
line for line apart from what legitimately varies.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat

from hermes_ops import paths
from hermes_ops.params import DeployParameters
from hermes_ops.sandbox import SandboxConfig, SandboxHost
from hermes_ops.sandbox.rehearsal import catch_up

DOCS_OPERATOR = "Ada Operator"
# Set in a living notebook's kernel, which runs the notebook as stored (no parameter is injected): the
# operator's name would otherwise default to whoever runs it ($HERMES_OPS_OPERATOR, git's user.name).
KERNEL_ENVIRONMENT = {"HERMES_OPS_OPERATOR": DOCS_OPERATOR}
DOCS_CHANGE = "Docs rehearsal: a visible change"
LIVING_NOTEBOOKS = ("deploy.ipynb", "rollback.ipynb", "access.ipynb", "grant_access.ipynb")
DOCS_REQUEST_REASON = "Docs rehearsal: on call next week"
DOCS_REQUEST_DURATION = "30d"


def prepare_sandbox(notebook: str = "deploy.ipynb") -> SandboxHost:
    """Sandbox up and serving origin's HEAD; for the deploy runbook, exactly one new commit to deploy.

    The rollback runbook then finds what a real rollback finds: a current and a previous image. The
    access runbooks find a newcomer with a key: the operator's side one whose access was granted and
    whose host key is not pinned yet, the admin's side one whose request waits and is not granted.
    """
    host = SandboxHost(SandboxConfig.load_or_default(None))
    host.up()
    if notebook in ("access.ipynb", "grant_access.ipynb"):
        _prepare_access(host, notebook)
        return host
    catch_up(host)
    _leave_room_for_one_more_image(host)
    if notebook == "deploy.ipynb":
        host.commit(DOCS_CHANGE)
    return host


def _prepare_access(host: SandboxHost, notebook: str) -> None:
    from hermes_ops.access.operator_key import find_or_create_key
    from hermes_ops.access.parameters import NEWCOMER_KEY, NEWCOMER_KNOWN_HOSTS, SANDBOX_REQUESTS
    from hermes_ops.access.requests import new_request, write_request

    newcomer = find_or_create_key(host.state_dir / NEWCOMER_KEY, comment=DOCS_OPERATOR).public_key
    host.reset_authorized_keys()
    if notebook == "access.ipynb":
        host.authorize_key(newcomer.text)
        (host.state_dir / NEWCOMER_KNOWN_HOSTS).unlink(missing_ok=True)
        return
    params = host.params()
    write_request(host.state_dir / SANDBOX_REQUESTS, new_request(
        operator=DOCS_OPERATOR, public_key=newcomer, host=params["host"], port=params["port"], user=params["user"],
        reason=DOCS_REQUEST_REASON, duration=DOCS_REQUEST_DURATION))


def _leave_room_for_one_more_image(host: SandboxHost) -> None:
    """The notebook's deploy must prune nothing (its output would vary): keep fewer deploy images than the limit."""
    from hermes_ops.commands import docker
    from hermes_ops.facts import images

    repository = host.config.image_repository
    listing = host.run_docker(docker.list_repository_tags(repository), timeout=60).stdout.decode()
    tags = [image.tag for image in images.deploy_images.value(listing)]  # newest first
    for tag in tags[DeployParameters().keep_images - 1:]:
        host.run_docker(docker.remove_image(f"{repository}:{tag}"), timeout=60, check=False)


def refresh(names: tuple[str, ...] = LIVING_NOTEBOOKS, records_dir: Path | None = None) -> list[Path]:
    """Execute each living notebook in place (nbclient, not papermill: no injected cell, no metadata).

    Their runs' records go to `records_dir` (default: `paths.default_records_dir()` of the caller).
    """
    from nbclient import NotebookClient

    notebooks = paths.runbooks_dir()
    written = []
    for name in names:
        prepare_sandbox(name)
        path = notebooks / name
        notebook = nbformat.read(path, as_version=4)
        client = NotebookClient(notebook, kernel_name="python3", timeout=1800,
                                resources={"metadata": {"path": str(notebooks)}})
        client.execute(env=kernel_environment(records_dir))
        strip_volatile_metadata(notebook)
        nbformat.validate(notebook)
        nbformat.write(notebook, path)
        written.append(path)
    return written


def kernel_environment(records_dir: Path | None = None) -> dict[str, str]:
    """The environment of a living notebook's kernel: this process's, with `KERNEL_ENVIRONMENT` set.

    The notebook runs as stored (`records_dir` empty) in a kernel whose working directory is the
    notebooks folder, so $HERMES_OPS_RECORDS names the records directory: `records_dir`, else this
    process's default; never a `records/` beside the runbooks.

    Without `JPY_SESSION_NAME`: inherited from a JupyterLab terminal and passed on explicitly, it would
    be written into the kernel's connection file, and the kernel would take itself for a person's
    (`console.detect`) and show the step console.
    """
    environment = {name: value for name, value in os.environ.items() if name != "JPY_SESSION_NAME"}
    records = Path(records_dir).absolute() if records_dir else paths.default_records_dir()
    return {**environment, **KERNEL_ENVIRONMENT, paths.RECORDS_ENV: str(records)}


def strip_volatile_metadata(notebook) -> None:
    """Execution timings and widget state change every run and tell a reader nothing."""
    notebook.metadata.pop("widgets", None)
    notebook.metadata.pop("papermill", None)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
