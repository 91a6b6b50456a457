"""The in-process backend: an LRU bounded by entries and bytes, with TTL on an injectable clock.

```python
clock = FakeClock()
b = MemoryBackend(max_entries=2, max_bytes=1 << 20, clock=clock)
b.set("a", b"1", ttl_s=10); clock.advance(11)
b.get("a")       # None: expired
```
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["MemoryBackend"]


class MemoryBackend:
    """Bytes by key in this process; least recently used entries go first when a bound is exceeded."""

    name = "memory"
    shared = False
    """Entries live in this process only (no replication log)."""

    def __init__(self, *, max_entries: int = 10_000, max_bytes: int = 64 * 1024 * 1024,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("max_entries and max_bytes must be at least 1")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._data: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._sets: dict[str, tuple[set[str], float]] = {}
        self._bytes = 0
        self._lock = threading.Lock()
        self.evictions = 0
        self.expirations = 0

    @staticmethod
    def _size(key: str, value: bytes) -> int:
        return len(key) + len(value)

    def _drop(self, key: str) -> None:
        value, _ = self._data.pop(key)
        self._bytes -= self._size(key, value)

    def get(self, key: str) -> bytes | None:
        """The value, or ``None`` when absent or expired (an expired entry is removed)."""
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            if self._clock() >= item[1]:
                self._drop(key)
                self.expirations += 1
                return None
            self._data.move_to_end(key)
            return item[0]

    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        """Store ``value`` for ``ttl_s`` seconds, evicting the least recently used entries to fit the bounds."""
        size = self._size(key, value)
        with self._lock:
            if key in self._data:
                self._drop(key)
            if size > self.max_bytes:
                return  # larger than the whole cache: not cached
            self._data[key] = (value, self._clock() + ttl_s)
            self._bytes += size
            while len(self._data) > self.max_entries or self._bytes > self.max_bytes:
                oldest = next(iter(self._data))
                self._drop(oldest)
                self.evictions += 1

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        with self._lock:
            if key in self._data:
                self._drop(key)

    def delete_prefix(self, prefix: str) -> int:
        """Remove every key starting with ``prefix``; returns how many."""
        with self._lock:
            doomed = [k for k in self._data if k.startswith(prefix)]
            for k in doomed:
                self._drop(k)
            return len(doomed)

    def delete_many(self, keys: Sequence[str]) -> int:
        """Remove ``keys``; returns how many were present."""
        with self._lock:
            present = [k for k in dict.fromkeys(keys) if k in self._data]
            for k in present:
                self._drop(k)
            return len(present)

    def _live_set(self, key: str, now: float) -> set[str] | None:
        item = self._sets.get(key)
        if item is None:
            return None
        if now >= item[1]:
            del self._sets[key]
            return None
        return item[0]

    def add_members(self, items: Sequence[tuple[str, str]], ttl_s: float) -> None:
        """Add each member to its set; every set touched lives ``ttl_s`` from now."""
        with self._lock:
            now = self._clock()
            for key, member in items:
                members = self._live_set(key, now)
                if members is None:
                    members = set()
                members.add(member)
                self._sets[key] = (members, now + ttl_s)
            if len(self._sets) > 4 * self.max_entries:  # drop expired sets now and then
                for key in [k for k, (_, exp) in self._sets.items() if now >= exp]:
                    del self._sets[key]

    def members(self, key: str) -> set[str] | None:
        """The members of the set at ``key`` (empty when there is none)."""
        with self._lock:
            return set(self._live_set(key, self._clock()) or ())

    def take_members(self, keys: Sequence[str]) -> dict[str, set[str]] | None:
        """The members of each set, removing the sets."""
        with self._lock:
            now = self._clock()
            out = {k: set(self._live_set(k, now) or ()) for k in keys}
            for k in keys:
                self._sets.pop(k, None)
            return out

    async def aget(self, key: str) -> bytes | None:
        """Async twin of :meth:`get` (in-process: no I/O, runs inline)."""
        return self.get(key)

    async def aset(self, key: str, value: bytes, ttl_s: float) -> None:
        """Async twin of :meth:`set`."""
        self.set(key, value, ttl_s)

    async def adelete(self, key: str) -> None:
        """Async twin of :meth:`delete`."""
        self.delete(key)

    async def adelete_many(self, keys: Sequence[str]) -> int:
        """Async twin of :meth:`delete_many`."""
        return self.delete_many(keys)

    async def aadd_members(self, items: Sequence[tuple[str, str]], ttl_s: float) -> None:
        """Async twin of :meth:`add_members`."""
        self.add_members(items, ttl_s)

    async def amembers(self, key: str) -> set[str] | None:
        """Async twin of :meth:`members`."""
        return self.members(key)

    async def atake_members(self, keys: Sequence[str]) -> dict[str, set[str]] | None:
        """Async twin of :meth:`take_members`."""
        return self.take_members(keys)

    def stats(self) -> dict[str, Any]:
        """Entries, bytes, evictions and expirations."""
        with self._lock:
            return {"backend": self.name, "entries": len(self._data), "sets": len(self._sets), "bytes": self._bytes,
                    "evictions": self.evictions, "expirations": self.expirations}

    def close(self) -> None:
        """Drop everything."""
        with self._lock:
            self._data.clear()
            self._sets.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._data)
