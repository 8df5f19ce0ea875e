"""The deploy runbook: eight steps that one notebook cell, papermill or the step console each call."""

from hermes_ops.runbook.deploy import Deploy, DeployFailed
from hermes_ops.runbook.vocabulary import STEPS

__all__ = ["Deploy", "DeployFailed", "STEPS"]
