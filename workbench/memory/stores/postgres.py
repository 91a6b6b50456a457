"""Sessions in PostgreSQL (``psycopg`` 3): durable and shared, for deployments that already run it.

An append upserts the session row (``next_seq = next_seq + 1 ... RETURNING``), whose row lock
serializes concurrent appends to one session, and inserts the turn in the same transaction.

```python
store = PostgresSessionStore("postgresql://postgres@127.0.0.1:5432/postgres")
store.append("acme", "s1", "gold card annual fee?", "RMB 600")
```
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from workbench.memory.errors import SessionStoreError
from workbench.memory.records import ANY_OWNER, Summary, Turn, check_owner
from workbench.memory.stores.base import BaseSessionStore

__all__ = ["PostgresSessionStore"]

T = TypeVar("T")


class PostgresSessionStore(BaseSessionStore):
    """A :class:`~workbench.memory.stores.base.SessionStore` in PostgreSQL (one connection per thread)."""

    def __init__(self, dsn: str, *, idle_ttl_s: float = 86_400.0, table_prefix: str = "wb",
                 connect_timeout_s: float = 5.0) -> None:
        super().__init__(idle_ttl_s=idle_ttl_s)
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,30}", table_prefix):
            raise ValueError("table_prefix must be a lower-case SQL identifier (letters, digits, _)")
        import psycopg

        self._psycopg = psycopg
        self.dsn, self.connect_timeout_s = dsn, connect_timeout_s
        self.t_sessions, self.t_turns = f"{table_prefix}_sessions", f"{table_prefix}_turns"
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()
        self._tx("create tables", lambda cur: (
            cur.execute(f"CREATE TABLE IF NOT EXISTS {self.t_sessions} (tenant TEXT NOT NULL, session TEXT NOT NULL, "
                        "next_seq INTEGER NOT NULL, updated_at DOUBLE PRECISION NOT NULL, summary TEXT, "
                        "summary_upto INTEGER NOT NULL DEFAULT 0, owner TEXT NOT NULL DEFAULT '', "
                        "PRIMARY KEY (tenant, session))"),
            cur.execute(f"ALTER TABLE {self.t_sessions} ADD COLUMN IF NOT EXISTS owner TEXT NOT NULL DEFAULT ''"),
            cur.execute(f"CREATE TABLE IF NOT EXISTS {self.t_turns} (tenant TEXT NOT NULL, session TEXT NOT NULL, "
                        "seq INTEGER NOT NULL, user_text TEXT NOT NULL, assistant_text TEXT NOT NULL, "
                        "ts DOUBLE PRECISION NOT NULL, meta JSONB NOT NULL, PRIMARY KEY (tenant, session, seq))"),
        ))

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is not None and not conn.closed and getattr(self._local, "pid", None) == os.getpid():
            return conn
        conn = self._psycopg.connect(self.dsn, connect_timeout=max(1, int(self.connect_timeout_s)))
        self._local.conn, self._local.pid = conn, os.getpid()
        with self._lock:
            self._all.append(conn)
        return conn

    def _tx(self, what: str, fn: Callable[[Any], T]) -> T:
        try:
            conn = self._conn()
            with conn.transaction(), conn.cursor() as cur:
                return fn(cur)
        except self._psycopg.Error as exc:
            raise SessionStoreError(f"PostgreSQL session store: {what} failed: {exc}; is the server running and "
                                    "memory.url right?") from exc

    def _live(self, cur: Any, tenant: str, session: str) -> tuple[Any, ...] | None:
        cur.execute(f"SELECT next_seq, updated_at, summary, summary_upto, owner FROM {self.t_sessions} "
                    "WHERE tenant=%s AND session=%s", (tenant, session))
        row = cur.fetchone()
        return None if row is None or self._expired(row[1]) else row

    def _append(self, tenant: str, session: str, user: str, assistant: str, meta: dict[str, Any],
                ts: float, owner: str) -> Turn:
        ttl = self.idle_ttl_s

        def run(cur: Any) -> int:
            # An expired session restarts at seq 1: drop its rows first (under the row lock).
            cur.execute(f"SELECT updated_at, owner FROM {self.t_sessions} WHERE tenant=%s AND session=%s FOR UPDATE",
                        (tenant, session))
            row = cur.fetchone()
            if row is not None and time.time() - row[0] > ttl:
                cur.execute(f"DELETE FROM {self.t_turns} WHERE tenant=%s AND session=%s", (tenant, session))
                cur.execute(f"DELETE FROM {self.t_sessions} WHERE tenant=%s AND session=%s", (tenant, session))
            elif row is not None:
                check_owner(row[1], owner, session)      # raising rolls the transaction back
            # Two first appends race past the SELECT (no row to lock yet): the loser's upsert waits for the
            # winner's commit, then updates only if it is the owner (no row back: another owner's session).
            cur.execute(
                f"INSERT INTO {self.t_sessions} AS s (tenant, session, next_seq, updated_at, owner) "
                "VALUES (%s, %s, 2, %s, %s) ON CONFLICT (tenant, session) DO UPDATE SET next_seq = s.next_seq + 1, "
                "updated_at = GREATEST(s.updated_at, EXCLUDED.updated_at) WHERE %s OR s.owner = EXCLUDED.owner "
                "RETURNING next_seq",
                (tenant, session, ts, "" if owner == ANY_OWNER else owner, owner == ANY_OWNER))
            got = cur.fetchone()
            if got is None:
                check_owner("\0", owner, session)
            seq = int(got[0]) - 1
            cur.execute(f"INSERT INTO {self.t_turns} VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        (tenant, session, seq, user, assistant, ts, json.dumps(meta, ensure_ascii=False)))
            return seq

        return Turn(self._tx("append", run), user, assistant, ts, meta)

    def _turns(self, tenant: str, session: str, last: int | None, owner: str) -> list[Turn]:
        def run(cur: Any) -> list[Turn]:
            live = self._live(cur, tenant, session)
            if live is None:
                return []
            check_owner(live[4], owner, session)
            sql = (f"SELECT seq, user_text, assistant_text, ts, meta FROM {self.t_turns} "
                   "WHERE tenant=%s AND session=%s ")
            if last is None:
                cur.execute(sql + "ORDER BY seq", (tenant, session))
                rows = cur.fetchall()
            else:
                cur.execute(sql + "ORDER BY seq DESC LIMIT %s", (tenant, session, last))
                rows = cur.fetchall()[::-1]
            return [Turn(int(r[0]), r[1], r[2], float(r[3]), dict(r[4])) for r in rows]

        return self._tx("read", run)

    def _owner(self, tenant: str, session: str) -> str | None:
        row = self._tx("read", lambda cur: self._live(cur, tenant, session))
        return None if row is None else str(row[4])

    def _count(self, tenant: str, session: str) -> int:
        row = self._tx("count", lambda cur: self._live(cur, tenant, session))
        return 0 if row is None else int(row[0]) - 1

    def _get_summary(self, tenant: str, session: str) -> Summary | None:
        row = self._tx("read", lambda cur: self._live(cur, tenant, session))
        return None if row is None or row[2] is None else Summary(row[2], int(row[3]))

    def _set_summary(self, tenant: str, session: str, text: str, upto_seq: int) -> bool:
        cutoff = time.time() - self.idle_ttl_s

        def run(cur: Any) -> bool:
            cur.execute(f"UPDATE {self.t_sessions} SET summary=%s, summary_upto=%s WHERE tenant=%s AND session=%s "
                        "AND summary_upto < %s AND updated_at >= %s",
                        (text, upto_seq, tenant, session, upto_seq, cutoff))
            return cur.rowcount > 0

        return self._tx("set_summary", run)

    def _delete(self, tenant: str, session: str) -> bool:
        def run(cur: Any) -> bool:
            cur.execute(f"DELETE FROM {self.t_turns} WHERE tenant=%s AND session=%s", (tenant, session))
            cur.execute(f"DELETE FROM {self.t_sessions} WHERE tenant=%s AND session=%s", (tenant, session))
            return cur.rowcount > 0

        return self._tx("delete", run)

    def _sessions(self, tenant: str) -> Sequence[str]:
        cutoff = time.time() - self.idle_ttl_s

        def run(cur: Any) -> list[str]:
            cur.execute(f"SELECT session FROM {self.t_sessions} WHERE tenant=%s AND updated_at >= %s", (tenant, cutoff))
            return [r[0] for r in cur.fetchall()]

        return self._tx("sessions", run)

    def _expire_idle(self, now: float) -> int:
        cutoff = now - self.idle_ttl_s

        def run(cur: Any) -> int:
            cur.execute(f"DELETE FROM {self.t_turns} t USING {self.t_sessions} s WHERE t.tenant=s.tenant AND "
                        "t.session=s.session AND s.updated_at < %s", (cutoff,))
            cur.execute(f"DELETE FROM {self.t_sessions} WHERE updated_at < %s", (cutoff,))
            return int(cur.rowcount)

        return self._tx("expire_idle", run)

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._lock:
            conns, self._all = self._all, []
        for c in conns:
            c.close()
        self._local = threading.local()
