"""Every session store passes the same contract, against real SQLite, Redis and PostgreSQL servers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from workbench.memory import (
    InProcessSessionStore,
    PostgresSessionStore,
    RedisSessionStore,
    SessionStore,
    SQLiteSessionStore,
)
from workbench.memory.contract import SessionStoreContract

TTL = SessionStoreContract.IDLE_TTL_S


class TestInProcess(SessionStoreContract):
    @pytest.fixture
    def store(self) -> InProcessSessionStore:
        return InProcessSessionStore(idle_ttl_s=TTL)


class TestSQLite(SessionStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SQLiteSessionStore]:
        with SQLiteSessionStore(tmp_path / "sessions.sqlite3", idle_ttl_s=TTL, synchronous="NORMAL") as s:
            yield s


@pytest.mark.redis
class TestRedis(SessionStoreContract):
    @pytest.fixture
    def store(self, redis_server: Any) -> Iterator[RedisSessionStore]:
        s = RedisSessionStore(redis_server.url, idle_ttl_s=TTL, key_prefix="wb-" + uuid.uuid4().hex[:6])
        yield s
        s.close()


class TestPostgres(SessionStoreContract):
    @pytest.fixture
    def store(self, postgres_server: Any) -> Iterator[PostgresSessionStore]:
        s = PostgresSessionStore(postgres_server.dsn, idle_ttl_s=TTL, table_prefix="wb_" + uuid.uuid4().hex[:6])
        yield s
        s.close()


def test_every_store_satisfies_the_protocol(tmp_path: Path) -> None:
    assert isinstance(InProcessSessionStore(), SessionStore)
    with SQLiteSessionStore(tmp_path / "x.sqlite3") as s:
        assert isinstance(s, SessionStore)


def test_sqlite_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "durable.sqlite3"
    with SQLiteSessionStore(path) as s:
        s.append("bank", "s1", "q1", "a1")
        s.set_summary("bank", "s1", "sum", 1)
    with SQLiteSessionStore(path) as s:
        assert [t.user for t in s.turns("bank", "s1")] == ["q1"]
        assert s.get_summary("bank", "s1").text == "sum"


def test_redis_outage_raises_a_store_error(redis_server: Any) -> None:
    from workbench.memory import SessionStoreError
    from workbench.testing.servers import free_port

    s = RedisSessionStore(f"redis://127.0.0.1:{free_port()}/0", socket_timeout_s=0.5)
    with pytest.raises(SessionStoreError, match="is the server running"):
        s.append("bank", "s1", "q", "a")
