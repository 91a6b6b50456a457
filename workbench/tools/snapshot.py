"""The per-user snapshot cache in front of personal tools: a small protocol and an in-process default.

The workbench's multi-layer cache implements the protocol through ``CacheStack.snapshot_store()`` (a
``workbench.cache.UserSnapshotStore`` over the cache's per-user layer, in-process or Redis); any object
with these two methods fits::

    agent = ToolCallingAgent.from_config(cfg.tools, snapshot_cache=stack.snapshot_store())
    cache = InProcessSnapshotCache(max_entries=10_000)            # the stand-alone default
    cache.set("bank", "u001", "get_credit_limit:1.0:ab12", {"credit_limit": 50000}, ttl_s=120)
    cache.get("bank", "u001", "get_credit_limit:1.0:ab12")
Entries are keyed by (tenant, user, key): one user's data is never served to another.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Protocol, runtime_checkable

__all__ = ["InProcessSnapshotCache", "SnapshotCache"]


@runtime_checkable
class SnapshotCache(Protocol):
    """Per-user cached tool results."""

    def get(self, tenant: str, user: str, key: str) -> Any | None: ...

    def set(self, tenant: str, user: str, key: str, value: Any, ttl_s: float) -> None: ...


class InProcessSnapshotCache:
    """An LRU dict with a TTL per entry (monotonic clock)."""

    def __init__(self, *, max_entries: int = 10_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self.max_entries = max_entries
        self._data: OrderedDict[tuple[str, str, str], tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, tenant: str, user: str, key: str) -> Any | None:
        k = (tenant, user, key)
        with self._lock:
            item = self._data.get(k)
            if item is None or item[0] < time.monotonic():
                self._data.pop(k, None)
                self.misses += 1
                return None
            self._data.move_to_end(k)
            self.hits += 1
            return item[1]

    def set(self, tenant: str, user: str, key: str, value: Any, ttl_s: float) -> None:
        with self._lock:
            self._data[(tenant, user, key)] = (time.monotonic() + ttl_s, value)
            self._data.move_to_end((tenant, user, key))
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)
