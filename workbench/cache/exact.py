"""The exact layer: one entry per (tenant, knowledge-base version, config hash, normalized query).

```python
exact = ExactCache(MemoryBackend(), ttl_s=300)
ns = namespace("acme", kb_version="v1", config_hash="c1")
exact.put(ns, "gold card annual fee", question="Gold card annual fee?", payload={"answer": "RMB 300"})
exact.get(ns, "gold card annual fee").payload        # {'answer': 'RMB 300'}
```
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from workbench.cache.backends.base import CacheBackend
from workbench.cache.keys import Namespace, exact_key
from workbench.cache.records import CacheEntry, decode_entry, encode_entry
from workbench.cache.stats import LayerStats

__all__ = ["ExactCache"]


class ExactCache:
    """Exact-match responses with a TTL, in any :class:`~workbench.cache.backends.CacheBackend`."""

    layer = "exact"

    def __init__(self, backend: CacheBackend, *, ttl_s: float = 300.0, prefix: str = "wb",
                 clock: Callable[[], float] = time.monotonic) -> None:
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be > 0, got {ttl_s}")
        self.backend = backend
        self.ttl_s = ttl_s
        self.prefix = prefix
        self._clock = clock
        self.stats = LayerStats(self.layer)

    def key(self, ns: Namespace, normalized: str) -> str:
        """The backend key of a normalized query in a namespace."""
        return exact_key(self.prefix, ns, normalized)

    def _check(self, blob: bytes | None, key: str) -> CacheEntry | None:
        if blob is None:
            return None
        entry = decode_entry(blob)
        if entry is None:
            return None
        if self._clock() >= entry.expires_at:
            self.stats.add("expired")
            return None
        return entry

    def _entry(self, normalized: str, question: str, payload: dict[str, Any], intent: str | None,
               ttl_s: float) -> bytes:
        return encode_entry(CacheEntry(payload=payload, question=question, intent=intent,
                                       expires_at=self._clock() + ttl_s, normalized=normalized))

    def get(self, ns: Namespace, normalized: str) -> CacheEntry | None:
        """The live entry for ``normalized``, or ``None``."""
        key = self.key(ns, normalized)
        entry = self._check(self.backend.get(key), key)
        if entry is None or entry.normalized != normalized:
            return None
        return entry

    async def aget(self, ns: Namespace, normalized: str) -> CacheEntry | None:
        """Async twin of :meth:`get`."""
        key = self.key(ns, normalized)
        entry = self._check(await self.backend.aget(key), key)
        if entry is None or entry.normalized != normalized:
            return None
        return entry

    def put(self, ns: Namespace, normalized: str, *, question: str, payload: dict[str, Any],
            intent: str | None = None, ttl_s: float | None = None) -> None:
        """Store a response for ``ttl_s`` seconds (default: the layer's TTL)."""
        ttl = min(ttl_s, self.ttl_s) if ttl_s else self.ttl_s
        self.backend.set(self.key(ns, normalized), self._entry(normalized, question, payload, intent, ttl), ttl)
        self.stats.add("stores")

    async def aput(self, ns: Namespace, normalized: str, *, question: str, payload: dict[str, Any],
                   intent: str | None = None, ttl_s: float | None = None) -> None:
        """Async twin of :meth:`put`."""
        ttl = min(ttl_s, self.ttl_s) if ttl_s else self.ttl_s
        await self.backend.aset(self.key(ns, normalized), self._entry(normalized, question, payload, intent, ttl),
                                ttl)
        self.stats.add("stores")

    def remaining_ttl(self, ns: Namespace, normalized: str) -> float | None:
        """Seconds the entry still lives by the cache's clock (``None``: no live entry)."""
        entry = self.get(ns, normalized)
        return None if entry is None else entry.expires_at - self._clock()
