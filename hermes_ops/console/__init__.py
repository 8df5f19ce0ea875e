"""The ipywidgets step console: a stepwise deploy in JupyterLab, one click per step.

`show_console(deploy)` is the notebook's one call. In a kernel a Jupyter server started (a person
at JupyterLab) it displays the console and takes the deploy over: the step cells then leave the
steps to it. Anywhere else (papermill, nbclient, nbval) it prints nothing and returns None, and
the cells run the steps as before.

The package: `detect` (is a person looking?), `state` (what is shown and allowed, from the
deploy's record), `controller` (clicks to actions, run off the kernel's main thread), `view` (widgets).
"""

from __future__ import annotations

from hermes_ops.console.detect import in_jupyter_server
from hermes_ops.errors import HermesOpsError

__all__ = ["StepConsole", "in_jupyter_server", "show_console"]

_latest: "StepConsole | None" = None


class ConsoleBusy(HermesOpsError):
    """A console of the same deploy is running a step; a second one cannot take over now."""


class StepConsole:
    """A console driving one deploy: its `controller` (the logic) and `view` (the widgets)."""

    def __init__(self, deploy, *, original_writer=None):
        from hermes_ops.console.controller import Controller
        from hermes_ops.console.view import ConsoleView

        self.deploy = deploy
        self.controller = Controller(deploy, original_writer=original_writer)
        self.view = ConsoleView(self.controller)

    @property
    def widget(self):
        return self.view.widget

    def __repr__(self) -> str:
        return f"<StepConsole run={self.deploy.run_id} outcome={self.deploy.record.outcome}>"


def show_console(deploy) -> StepConsole | None:
    """Show the step console when a person is at JupyterLab; headless runs get None and print nothing.

    Running the console cell again replaces the console shown before. If the earlier console drove
    another deploy (the deploy cell was run again too), that deploy is stopped: its lock released,
    its session closed, its record written.

    Raises:
        ConsoleBusy: the earlier console of this same deploy is running a step.
    """
    global _latest
    if not in_jupyter_server():
        return None
    from IPython.display import display

    previous, original_writer = _latest, None
    if previous is not None:
        same_deploy = previous.deploy is deploy
        if same_deploy and previous.controller.busy is not None:
            raise ConsoleBusy(f"{previous.controller.busy.label} is still running in the console above",
                              host=deploy.params.host, hint="wait for it to finish, then run this cell again")
        previous.controller.retire(stop_deploy=not same_deploy)
        if same_deploy:
            original_writer = previous.controller.original_writer
    console = StepConsole(deploy, original_writer=original_writer)
    display(console.widget)
    _latest = console
    return console
