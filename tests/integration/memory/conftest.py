"""Fixtures for the memory integration tests: a real PostgreSQL server on 127.0.0.1 for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from workbench.testing.postgres import PostgresServer, find_pg_bin


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throw-away PostgreSQL server (skipped, with the reason, when the binaries are absent)."""
    if find_pg_bin() is None:
        pytest.skip("PostgreSQL binaries not found under /usr/lib/postgresql/*/bin: apt-get install postgresql")
    with PostgresServer() as server:
        yield server
