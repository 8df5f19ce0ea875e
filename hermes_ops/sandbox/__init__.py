"""The sandbox production host: a local stand-in for the droplet, built from nothing on this machine."""

from hermes_ops.sandbox.config import SandboxConfig
from hermes_ops.sandbox.host import SandboxHost
from hermes_ops.sandbox.local import SandboxError

__all__ = ["SandboxConfig", "SandboxError", "SandboxHost"]
