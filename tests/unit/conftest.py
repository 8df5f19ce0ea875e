"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest

from hermes_ops import secrets


@pytest.fixture(autouse=True)
def secrets_registry(monkeypatch):
    """A fresh process-wide secrets registry for every unit test: values registered by earlier tests (in this
    process, e.g. an SSH test loading an encrypted key) never leak into a unit test, nor its values out."""
    registry = secrets._Registry()
    monkeypatch.setattr(secrets, "_registry", registry)
    return registry
