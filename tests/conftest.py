"""Shared fixtures. The suite runs once on SQLite and once on PostgreSQL (``DATABASE_URL``)."""

from __future__ import annotations

import os
import tempfile

# Before Django reads its settings: never touch a real data folder from the tests.
os.environ.setdefault("KEIIN_HOME", tempfile.mkdtemp(prefix="keiin-test-home-"))
os.environ.setdefault("KEIIN_BASE_URL", "http://127.0.0.1:8000")

import pytest

from tests.support.server import KeiinServer, start_server


@pytest.fixture
def hierarchy(db):
    """The CA hierarchy in the test database (created per test, rolled back after)."""
    from keiin.web.ca import services

    return services.ensure_hierarchy("Test Operator", actor="test")


@pytest.fixture(scope="session")
def live_server_keiin(tmp_path_factory) -> KeiinServer:
    """A real ``keiin serve`` (granian, 2 workers) on a fresh home and database."""
    server = start_server(tmp_path_factory.mktemp("live-home"), workers=2)
    try:
        yield server
    finally:
        server.stop()
