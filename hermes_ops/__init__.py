"""hermes-ops: the Hermes production deploy runbook and the step library behind it."""

__version__ = "0.1.0"
