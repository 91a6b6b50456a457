"""Sessions in an embedded SQLite file: the durable default, shared by the workers of one machine.

WAL journal, ``BEGIN IMMEDIATE`` for appends (sequence numbers are assigned inside the write lock, so
appends from several processes never collide or leave gaps) and a busy timeout. ``synchronous=FULL``
(default) survives power loss; ``NORMAL`` survives a killed process, which is all a worker crash needs.

```python
store = SQLiteSessionStore(".workbench/sessions.sqlite3")
store.append("acme", "s1", "gold card annual fee?", "RMB 600")
```
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from workbench.memory.errors import SessionStoreError
from workbench.memory.records import Summary, Turn
from workbench.memory.stores.base import BaseSessionStore

__all__ = ["SQLiteSessionStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS wb_sessions (
    tenant TEXT NOT NULL, session TEXT NOT NULL, next_seq INTEGER NOT NULL, updated_at REAL NOT NULL,
    summary TEXT, summary_upto INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (tenant, session));
CREATE TABLE IF NOT EXISTS wb_turns (
    tenant TEXT NOT NULL, session TEXT NOT NULL, seq INTEGER NOT NULL, user_text TEXT NOT NULL,
    assistant_text TEXT NOT NULL, ts REAL NOT NULL, meta TEXT NOT NULL, PRIMARY KEY (tenant, session, seq));
CREATE INDEX IF NOT EXISTS wb_sessions_idle ON wb_sessions (updated_at);
"""


class SQLiteSessionStore(BaseSessionStore):
    """A :class:`~workbench.memory.stores.base.SessionStore` in one SQLite file (one connection per thread)."""

    def __init__(self, path: str | Path = ".workbench/sessions.sqlite3", *, idle_ttl_s: float = 86_400.0,
                 synchronous: Literal["FULL", "NORMAL"] = "FULL", busy_timeout_s: float = 10.0) -> None:
        super().__init__(idle_ttl_s=idle_ttl_s)
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError("synchronous must be 'FULL' or 'NORMAL'")
        self.path = Path(path)
        self.synchronous, self.busy_timeout_s = synchronous, busy_timeout_s
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._conn().executescript(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            return conn
        try:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
        except sqlite3.Error as exc:
            raise SessionStoreError(f"cannot open SQLite session store {self.path}: {exc}") from exc
        self._local.conn, self._local.pid = conn, os.getpid()
        with self._lock:
            self._all.append(conn)
        return conn

    def _read(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            return self._conn().execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise SessionStoreError(f"SQLite session store {self.path}: {exc}") from exc

    def _live(self, tenant: str, session: str) -> tuple[Any, ...] | None:
        rows = self._read("SELECT next_seq, updated_at, summary, summary_upto FROM wb_sessions "
                          "WHERE tenant=? AND session=?", (tenant, session))
        if not rows or self._expired(rows[0][1]):
            return None
        return rows[0]

    def _append(self, tenant: str, session: str, user: str, assistant: str, meta: dict[str, Any],
                ts: float) -> Turn:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT next_seq, updated_at FROM wb_sessions WHERE tenant=? AND session=?",
                                   (tenant, session)).fetchone()
                if row is not None and self._expired(row[1]):
                    conn.execute("DELETE FROM wb_turns WHERE tenant=? AND session=?", (tenant, session))
                    conn.execute("DELETE FROM wb_sessions WHERE tenant=? AND session=?", (tenant, session))
                    row = None
                seq = 1 if row is None else int(row[0])
                conn.execute(
                    "INSERT INTO wb_sessions (tenant, session, next_seq, updated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (tenant, session) DO UPDATE SET next_seq=excluded.next_seq, "
                    "updated_at=max(updated_at, excluded.updated_at)", (tenant, session, seq + 1, ts))
                conn.execute("INSERT INTO wb_turns VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (tenant, session, seq, user, assistant, ts, json.dumps(meta, ensure_ascii=False)))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise SessionStoreError(f"SQLite session store {self.path}: append failed: {exc}") from exc
        return Turn(seq, user, assistant, ts, meta)

    def _turns(self, tenant: str, session: str, last: int | None) -> list[Turn]:
        if self._live(tenant, session) is None:
            return []
        sql = "SELECT seq, user_text, assistant_text, ts, meta FROM wb_turns WHERE tenant=? AND session=? "
        if last is None:
            rows = self._read(sql + "ORDER BY seq", (tenant, session))
        else:
            rows = self._read(sql + "ORDER BY seq DESC LIMIT ?", (tenant, session, last))[::-1]
        return [Turn(int(r[0]), r[1], r[2], float(r[3]), json.loads(r[4])) for r in rows]

    def _count(self, tenant: str, session: str) -> int:
        row = self._live(tenant, session)
        return 0 if row is None else int(row[0]) - 1

    def _get_summary(self, tenant: str, session: str) -> Summary | None:
        row = self._live(tenant, session)
        return None if row is None or row[2] is None else Summary(row[2], int(row[3]))

    def _set_summary(self, tenant: str, session: str, text: str, upto_seq: int) -> bool:
        if self._live(tenant, session) is None:
            return False
        try:
            cur = self._conn().execute("UPDATE wb_sessions SET summary=?, summary_upto=? WHERE tenant=? AND "
                                       "session=? AND summary_upto < ?", (text, upto_seq, tenant, session, upto_seq))
        except sqlite3.Error as exc:
            raise SessionStoreError(f"SQLite session store {self.path}: {exc}") from exc
        return cur.rowcount > 0

    def _delete(self, tenant: str, session: str) -> bool:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM wb_turns WHERE tenant=? AND session=?", (tenant, session))
            n = conn.execute("DELETE FROM wb_sessions WHERE tenant=? AND session=?", (tenant, session)).rowcount
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise SessionStoreError(f"SQLite session store {self.path}: {exc}") from exc
        return n > 0

    def _sessions(self, tenant: str) -> Sequence[str]:
        import time

        cutoff = time.time() - self.idle_ttl_s
        return [r[0] for r in self._read("SELECT session FROM wb_sessions WHERE tenant=? AND updated_at >= ?",
                                         (tenant, cutoff))]

    def _expire_idle(self, now: float) -> int:
        conn = self._conn()
        cutoff = now - self.idle_ttl_s
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM wb_turns WHERE (tenant, session) IN "
                         "(SELECT tenant, session FROM wb_sessions WHERE updated_at < ?)", (cutoff,))
            n = conn.execute("DELETE FROM wb_sessions WHERE updated_at < ?", (cutoff,)).rowcount
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise SessionStoreError(f"SQLite session store {self.path}: {exc}") from exc
        return n

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._lock:
            conns, self._all = self._all, []
        for c in conns:
            try:
                c.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()
