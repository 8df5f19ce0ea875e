"""The `hermes-ops` command: argument parsing in `main`, host-key pinning in `hostkey`."""

from hermes_ops.cli.main import main

__all__ = ["main"]
