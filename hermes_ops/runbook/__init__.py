"""The deploy runbook: eight steps that one notebook cell, papermill or the step console each call.

`Deploy` and `DeployFailed` are loaded on first use: importing a light module of this package (the
record, the vocabulary) must not import the SSH stack, which the CLI needs only after the kernel it
starts is already booting.
"""

from hermes_ops.runbook.vocabulary import STEPS

__all__ = ["Deploy", "DeployFailed", "STEPS"]


def __getattr__(name: str):
    if name in ("Deploy", "DeployFailed"):
        from hermes_ops.runbook import deploy

        return getattr(deploy, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
