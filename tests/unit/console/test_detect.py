"""When the console appears: only in a kernel a Jupyter server started; headless runs see nothing of it."""

from __future__ import annotations

from hermes_ops.console import show_console
from hermes_ops.console.detect import in_jupyter_server
from hermes_ops.params import DeployParameters
from hermes_ops.runbook import Deploy

NOTEBOOK = "/srv/runbooks/notebooks/deploy.ipynb"


def test_a_kernel_started_by_jupyter_server_has_the_session_in_env_and_connection_file():
    # jupyter_server: SessionManager.get_kernel_env sets JPY_SESSION_NAME, and the provisioner writes the
    # same path as `jupyter_session` into the kernel's connection file.
    assert in_jupyter_server({"JPY_SESSION_NAME": NOTEBOOK}, {"jupyter_session": NOTEBOOK, "kernel_name": "python3"})


def test_papermill_nbclient_and_nbval_kernels_have_neither():
    assert not in_jupyter_server({}, {"kernel_name": "python3"})
    assert not in_jupyter_server({"JPY_SESSION_NAME": ""}, {})


def test_a_session_name_inherited_from_an_outer_jupyter_kernel_is_not_enough():
    # papermill started from a JupyterLab terminal or notebook: its kernel inherits the variable, but the
    # connection file nbclient wrote for it names no session.
    assert not in_jupyter_server({"JPY_SESSION_NAME": NOTEBOOK}, {"kernel_name": "python3"})
    assert not in_jupyter_server({"JPY_SESSION_NAME": NOTEBOOK}, {"jupyter_session": "/elsewhere/other.ipynb"})


def test_outside_any_kernel_there_is_no_console(monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", NOTEBOOK)
    assert not in_jupyter_server()


def test_headless_show_console_prints_nothing_and_leaves_the_deploy_to_the_cells(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    deploy = Deploy(DeployParameters(operator="Ada", records_dir=str(tmp_path)).resolved())
    assert show_console(deploy) is None
    assert capsys.readouterr() == ("", "")
    assert not deploy.console_active and deploy.finish_on_failure
