"""The exact layer: one entry per (tenant, knowledge-base version, config hash, normalized query).

```python
exact = ExactCache(MemoryBackend(), ttl_s=300)
ns = namespace("acme", kb_version="v1", config_hash="c1")
exact.put(ns, "gold card annual fee", question="Gold card annual fee?", payload={"answer": "RMB 300"})
exact.get(ns, "gold card annual fee").payload        # {'answer': 'RMB 300'}
```
"""

from __future__ import annotations

from typing import Any

from workbench.cache.keys import Namespace, exact_key
from workbench.cache.layer import CacheLayer
from workbench.cache.records import CacheEntry
from workbench.cache.steps import Plan, run_async, run_sync
from workbench.config import ExactCacheConfig

__all__ = ["ExactCache"]


class ExactCache(CacheLayer):
    """Exact-match responses with a TTL, in any :class:`~workbench.cache.backends.CacheBackend`.

    Constructed as :class:`~workbench.cache.layer.CacheLayer` (backend, ``ttl_s``, ``prefix``, ``clock``);
    the TTL defaults to ``cache.exact.ttl_s`` and caps a write's own TTL.
    """

    layer = "exact"
    default_ttl_s = ExactCacheConfig().ttl_s

    def key(self, ns: Namespace, normalized: str) -> str:
        """The backend key of a normalized query in a namespace."""
        return exact_key(self.prefix, ns, normalized)

    def plan_get(self, ns: Namespace, normalized: str) -> Plan[CacheEntry | None]:
        """The plan of :meth:`get` (see :mod:`workbench.cache.steps`)."""
        return self._read(self.key(ns, normalized), normalized)

    def plan_put(self, ns: Namespace, normalized: str, question: str, payload: dict[str, Any], intent: str | None,
             ttl_s: float | None) -> Plan[float | None]:
        """The plan of :meth:`put`."""
        return self._write(self.key(ns, normalized), normalized, payload, question=question, intent=intent,
                           ttl_s=ttl_s, tag=ns.tag)

    def get(self, ns: Namespace, normalized: str) -> CacheEntry | None:
        """The live entry for ``normalized``, or ``None``."""
        return run_sync(self.plan_get(ns, normalized))

    async def aget(self, ns: Namespace, normalized: str) -> CacheEntry | None:
        """Async form of :meth:`get`."""
        return await run_async(self.plan_get(ns, normalized))

    def put(self, ns: Namespace, normalized: str, *, question: str, payload: dict[str, Any],
            intent: str | None = None, ttl_s: float | None = None) -> None:
        """Store a response for ``ttl_s`` seconds (default and ceiling: the layer's TTL)."""
        run_sync(self.plan_put(ns, normalized, question, payload, intent, ttl_s))

    async def aput(self, ns: Namespace, normalized: str, *, question: str, payload: dict[str, Any],
                   intent: str | None = None, ttl_s: float | None = None) -> None:
        """Async form of :meth:`put`."""
        await run_async(self.plan_put(ns, normalized, question, payload, intent, ttl_s))

    def remaining_ttl(self, ns: Namespace, normalized: str) -> float | None:
        """Seconds the entry still lives by the cache's clock (``None``: no live entry)."""
        entry = self.get(ns, normalized)
        return None if entry is None else entry.expires_at - self._clock()
