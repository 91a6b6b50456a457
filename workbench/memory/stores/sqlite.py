"""Sessions in an embedded SQLite file: the durable default, shared by the workers of one machine.

WAL journal, ``BEGIN IMMEDIATE`` for appends (sequence numbers are assigned and the owner is checked
inside the write lock, so appends from several processes never collide or leave gaps) and a busy timeout.
When :meth:`SQLiteSessionStore.append` returns, the turn is committed:

- ``synchronous=FULL`` (default): the commit fsyncs the WAL, so the turn survives a SIGKILL of the
  worker and also a power loss or kernel crash.
- ``synchronous=NORMAL``: the commit has written the WAL frame to the operating system (``write()``
  returned) but not fsynced it. A SIGKILLed process loses nothing (the kernel holds the data and writes
  it out; the next opener replays the WAL); only a machine crash can lose the last commits. Cheaper per
  append; enough when the threat is a worker crash (``memory.sqlite_synchronous``).
Reads run in one transaction, so a session's owner and its turns come from one snapshot.

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
from workbench.memory.records import ANY_OWNER, Summary, Turn, check_owner
from workbench.memory.stores.base import BaseSessionStore

__all__ = ["SQLiteSessionStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS wb_sessions (
    tenant TEXT NOT NULL, session TEXT NOT NULL, next_seq INTEGER NOT NULL, updated_at REAL NOT NULL,
    summary TEXT, summary_upto INTEGER NOT NULL DEFAULT 0, owner TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant, session));
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
        conn = self._conn()
        conn.executescript(_SCHEMA)
        if "owner" not in {r[1] for r in conn.execute("PRAGMA table_info(wb_sessions)")}:
            try:  # a file from before sessions had owners: its sessions become anonymous ones
                conn.execute("ALTER TABLE wb_sessions ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
            except sqlite3.OperationalError:  # another process added it first
                pass

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
        rows = self._read("SELECT next_seq, updated_at, summary, summary_upto, owner FROM wb_sessions "
                          "WHERE tenant=? AND session=?", (tenant, session))
        if not rows or self._expired(rows[0][1]):
            return None
        return rows[0]

    def _append(self, tenant: str, session: str, user: str, assistant: str, meta: dict[str, Any],
                ts: float, owner: str) -> Turn:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT next_seq, updated_at, owner FROM wb_sessions WHERE tenant=? AND "
                                   "session=?", (tenant, session)).fetchone()
                if row is not None and self._expired(row[1]):
                    conn.execute("DELETE FROM wb_turns WHERE tenant=? AND session=?", (tenant, session))
                    conn.execute("DELETE FROM wb_sessions WHERE tenant=? AND session=?", (tenant, session))
                    row = None
                if row is not None:
                    check_owner(row[2], owner, session)
                seq = 1 if row is None else int(row[0])
                conn.execute(
                    "INSERT INTO wb_sessions (tenant, session, next_seq, updated_at, owner) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (tenant, session) DO UPDATE SET next_seq=excluded.next_seq, "
                    "updated_at=max(updated_at, excluded.updated_at)",
                    (tenant, session, seq + 1, ts, "" if owner == ANY_OWNER else owner))
                conn.execute("INSERT INTO wb_turns VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (tenant, session, seq, user, assistant, ts, json.dumps(meta, ensure_ascii=False)))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise SessionStoreError(f"SQLite session store {self.path}: append failed: {exc}") from exc
        return Turn(seq, user, assistant, ts, meta)

    def _turns(self, tenant: str, session: str, last: int | None, owner: str) -> list[Turn]:
        conn = self._conn()
        try:
            conn.execute("BEGIN")  # one snapshot for the owner check and the turns
            try:
                live = self._live(tenant, session)
                if live is None:
                    return []
                check_owner(live[4], owner, session)
                sql = "SELECT seq, user_text, assistant_text, ts, meta FROM wb_turns WHERE tenant=? AND session=? "
                if last is None:
                    rows = self._read(sql + "ORDER BY seq", (tenant, session))
                else:
                    rows = self._read(sql + "ORDER BY seq DESC LIMIT ?", (tenant, session, last))[::-1]
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise SessionStoreError(f"SQLite session store {self.path}: {exc}") from exc
        return [Turn(int(r[0]), r[1], r[2], float(r[3]), json.loads(r[4])) for r in rows]

    def _owner(self, tenant: str, session: str) -> str | None:
        row = self._live(tenant, session)
        return None if row is None else str(row[4])

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
