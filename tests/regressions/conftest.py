"""Regression fixtures: the service with the bundled packs (as in tests/e2e)."""

from tests.e2e.conftest import client, engine  # noqa: F401
