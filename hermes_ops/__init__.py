"""hermes-ops: the Hermes production deploy runbook and the step library behind it."""

from __future__ import annotations

from hermes_ops import speedups

speedups.apply()


def _version() -> str:
    """The installed distribution's version; a source tree run without installing reads its pyproject.toml."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hermes-ops")
    except PackageNotFoundError:
        import tomllib
        from pathlib import Path

        try:
            project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
            return project["project"]["version"]
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "0+unknown"


__version__ = _version()
