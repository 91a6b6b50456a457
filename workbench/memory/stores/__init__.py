"""Session stores: in-process, SQLite (embedded, durable default), Redis and PostgreSQL.

```python
store = make_session_store(cfg.memory)        # from MemoryConfig.store / .url / .idle_ttl_s
```
"""

from __future__ import annotations

from typing import Any

from workbench.config import MemoryConfig
from workbench.memory.stores.base import BaseSessionStore, SessionStore
from workbench.memory.stores.inprocess import InProcessSessionStore
from workbench.memory.stores.postgres import PostgresSessionStore
from workbench.memory.stores.redis_store import RedisSessionStore
from workbench.memory.stores.sqlite import SQLiteSessionStore

__all__ = [
    "BaseSessionStore",
    "InProcessSessionStore",
    "PostgresSessionStore",
    "RedisSessionStore",
    "SQLiteSessionStore",
    "SessionStore",
    "make_session_store",
]


def make_session_store(cfg: MemoryConfig, **kwargs: Any) -> SessionStore:
    """The store a :class:`~workbench.config.MemoryConfig` names (``kwargs`` go to its constructor)."""
    ttl = cfg.idle_ttl_s
    if cfg.store == "memory":
        return InProcessSessionStore(idle_ttl_s=ttl, **kwargs)
    if cfg.store == "sqlite":
        kwargs.setdefault("synchronous", cfg.sqlite_synchronous)
        return SQLiteSessionStore(cfg.url or ".workbench/sessions.sqlite3", idle_ttl_s=ttl, **kwargs)
    if cfg.store == "redis":
        return RedisSessionStore(cfg.url or "redis://127.0.0.1:6379/0", idle_ttl_s=ttl, **kwargs)
    if not cfg.url:
        from workbench.errors import ConfigError

        raise ConfigError("memory.store 'postgres' needs memory.url, a DSN such as "
                          "postgresql://postgres@127.0.0.1:5432/postgres", field="memory.url")
    return PostgresSessionStore(cfg.url, idle_ttl_s=ttl, **kwargs)
