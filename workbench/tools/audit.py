"""The append-only audit log of tool calls: who, tenant, tool, a hash of the arguments, status, latency.

Arguments are never stored, only a SHA-256 of their canonical JSON (personal data stays out of the
log, yet a given call can be matched). Two backends: SQLite (UPDATE and DELETE are refused by
triggers) and JSONL (opened in append mode)::

    audit = SQLiteAuditLog(".workbench/audit.sqlite3")
    audit.record(AuditRecord.of(user="u001", tenant="bank", tool="get_bill", version="1.0",
                                arguments={"month": "2026-05"}, status="ok", latency_ms=1.2))
    audit.records(tenant="bank")[-1].status     # 'ok'
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

__all__ = ["AuditLog", "AuditRecord", "InMemoryAuditLog", "JSONLAuditLog", "SQLiteAuditLog", "hash_arguments",
           "make_audit_log"]


def hash_arguments(arguments: Any) -> str:
    """SHA-256 (hex, 16 chars) of the canonical JSON of ``arguments``."""
    canonical = json.dumps(arguments, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class AuditRecord:
    """One audited tool call (or refusal)."""

    ts: float
    """Wall-clock time (seconds since the epoch)."""
    who: str
    """The user on whose behalf the call was made."""
    tenant: str
    tool: str
    version: str
    args_hash: str
    status: str
    """``ok``, ``cached``, ``denied``, ``invalid``, ``not_found``, ``timeout``, ``error``, ``circuit_open``,
    ``busy``."""
    latency_ms: float
    error: str | None = None

    @classmethod
    def of(cls, *, user: str, tenant: str, tool: str, version: str, arguments: Any, status: str,
           latency_ms: float, error: str | None = None) -> AuditRecord:
        """A record stamped now, with the arguments hashed."""
        return cls(time.time(), user, tenant, tool, version, hash_arguments(arguments), status,
                   round(latency_ms, 3), error)


class AuditLog(Protocol):
    """Where audit records go."""

    def record(self, rec: AuditRecord) -> None: ...

    def records(self, *, tenant: str | None = None) -> list[AuditRecord]: ...


class InMemoryAuditLog:
    """A list (tests, notebooks)."""

    def __init__(self) -> None:
        self._items: list[AuditRecord] = []
        self._lock = threading.Lock()

    def record(self, rec: AuditRecord) -> None:
        with self._lock:
            self._items.append(rec)

    def records(self, *, tenant: str | None = None) -> list[AuditRecord]:
        with self._lock:
            return [r for r in self._items if tenant is None or r.tenant == tenant]


class JSONLAuditLog:
    """One JSON object per line, appended (``O_APPEND``: concurrent writers never interleave a line)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def record(self, rec: AuditRecord) -> None:
        line = json.dumps(asdict(rec), ensure_ascii=False) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(line)

    def records(self, *, tenant: str | None = None) -> list[AuditRecord]:
        if not self.path.is_file():
            return []
        with self.path.open(encoding="utf-8") as f:
            recs = [AuditRecord(**json.loads(line)) for line in f if line.strip()]
        return [r for r in recs if tenant is None or r.tenant == tenant]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, who TEXT NOT NULL,
    tenant TEXT NOT NULL, tool TEXT NOT NULL, version TEXT NOT NULL, args_hash TEXT NOT NULL, status TEXT NOT NULL,
    latency_ms REAL NOT NULL, error TEXT);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


class SQLiteAuditLog:
    """An SQLite table whose triggers refuse UPDATE and DELETE."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)

    def record(self, rec: AuditRecord) -> None:
        with self._lock:
            self._conn.execute("INSERT INTO audit (ts, who, tenant, tool, version, args_hash, status, latency_ms, "
                               "error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               (rec.ts, rec.who, rec.tenant, rec.tool, rec.version, rec.args_hash, rec.status,
                                rec.latency_ms, rec.error))

    def records(self, *, tenant: str | None = None) -> list[AuditRecord]:
        sql = "SELECT ts, who, tenant, tool, version, args_hash, status, latency_ms, error FROM audit"
        with self._lock:
            rows = self._conn.execute(sql + (" WHERE tenant=?" if tenant else "") + " ORDER BY id",
                                      (tenant,) if tenant else ()).fetchall()
        return [AuditRecord(*r) for r in rows]

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def make_audit_log(path: str | None) -> AuditLog:
    """``*.jsonl`` → :class:`JSONLAuditLog`; other paths → :class:`SQLiteAuditLog`; ``None`` → in memory."""
    if path is None:
        return InMemoryAuditLog()
    return JSONLAuditLog(path) if path.endswith(".jsonl") else SQLiteAuditLog(path)
