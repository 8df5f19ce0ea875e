"""`Deploy` offers everything the steps use through `DeployContext` (the steps never import `deploy.py`)."""

from __future__ import annotations

import inspect

from hermes_ops.params import DeployParameters
from hermes_ops.runbook import Deploy
from hermes_ops.runbook.context import DeployContext


def protocol_members() -> set[str]:
    annotated = set(DeployContext.__annotations__)
    defined = {name for name, _ in inspect.getmembers(DeployContext) if not name.startswith("_")}
    return annotated | defined


def test_a_deploy_has_every_member_the_steps_use(tmp_path):
    deploy = Deploy(DeployParameters(operator="Ada", records_dir=str(tmp_path)).resolved())
    try:
        missing = sorted(name for name in protocol_members() if not hasattr(deploy, name))
        assert not missing, f"Deploy lacks {missing}"
        for name in ("run", "in_admin", "check_lock", "open_connection"):
            assert inspect.signature(getattr(DeployContext, name)).parameters.keys() <= \
                inspect.signature(getattr(Deploy, name)).parameters.keys() | {"kwargs"}, name
    finally:
        deploy.signals.uninstall()
