"""The per-user layer: data and answers that belong to one user (a card limit a tool fetched, an answer
built from it), with a short TTL. The user is part of every key, so no other user, and no shared
layer, can ever reach these entries::

    snap = UserSnapshotCache(MemoryBackend(), ttl_s=120)
    ns = namespace("acme", kb_version="-", config_hash="-")
    snap.put(ns, "u1", "tool:card_limit", {"limit": 50000})
    snap.get(ns, "u1", "tool:card_limit").payload     # {'limit': 50000}
    snap.get(ns, "u2", "tool:card_limit")             # None
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from workbench.cache.backends.base import CacheBackend
from workbench.cache.keys import Namespace, digest, user_key
from workbench.cache.records import CacheEntry, decode_entry, encode_entry
from workbench.cache.stats import LayerStats
from workbench.errors import InputError

__all__ = ["UserSnapshotCache"]


def _check_user(user: str | None) -> str:
    if not isinstance(user, str) or not user.strip():
        raise InputError("a per-user cache entry needs a non-empty user id (personalized answers are keyed by user)")
    return user


class UserSnapshotCache:
    """Per-user entries with a TTL (default 120 s), never shared across users."""

    layer = "user"

    def __init__(self, backend: CacheBackend, *, ttl_s: float = 120.0, prefix: str = "wb",
                 clock: Callable[[], float] = time.monotonic) -> None:
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be > 0, got {ttl_s}")
        self.backend = backend
        self.ttl_s = ttl_s
        self.prefix = prefix
        self._clock = clock
        self.stats = LayerStats(self.layer)

    def key(self, ns: Namespace, user: str, name: str) -> str:
        """The backend key of ``name`` for ``user`` in a namespace."""
        return user_key(self.prefix, ns, _check_user(user), name)

    def _decode(self, blob: bytes | None, user: str, name: str) -> CacheEntry | None:
        entry = decode_entry(blob) if blob is not None else None
        if entry is None or entry.normalized != f"{digest(user, size=24)}:{name}":
            return None
        if self._clock() >= entry.expires_at:
            self.stats.add("expired")
            return None
        return entry

    def _encode(self, user: str, name: str, payload: dict[str, Any], question: str, intent: str | None,
                ttl_s: float) -> bytes:
        return encode_entry(CacheEntry(payload=payload, question=question, intent=intent,
                                       expires_at=self._clock() + ttl_s,
                                       normalized=f"{digest(user, size=24)}:{name}"))

    def get(self, ns: Namespace, user: str, name: str) -> CacheEntry | None:
        """The live entry ``name`` of ``user``, or ``None``."""
        return self._decode(self.backend.get(self.key(ns, user, name)), user, name)

    async def aget(self, ns: Namespace, user: str, name: str) -> CacheEntry | None:
        """Async twin of :meth:`get`."""
        return self._decode(await self.backend.aget(self.key(ns, user, name)), user, name)

    def put(self, ns: Namespace, user: str, name: str, payload: dict[str, Any], *, question: str = "",
            intent: str | None = None, ttl_s: float | None = None) -> None:
        """Store ``payload`` as ``name`` for ``user`` (TTL: ``ttl_s`` or the layer's)."""
        ttl = ttl_s or self.ttl_s
        self.backend.set(self.key(ns, user, name), self._encode(user, name, payload, question, intent, ttl), ttl)
        self.stats.add("stores")

    async def aput(self, ns: Namespace, user: str, name: str, payload: dict[str, Any], *, question: str = "",
                   intent: str | None = None, ttl_s: float | None = None) -> None:
        """Async twin of :meth:`put`."""
        ttl = ttl_s or self.ttl_s
        await self.backend.aset(self.key(ns, user, name), self._encode(user, name, payload, question, intent, ttl),
                                ttl)
        self.stats.add("stores")

    def forget_user(self, ns: Namespace, user: str) -> int:
        """Remove every entry of ``user`` in a namespace (e.g. after a profile change); returns how many."""
        return self.backend.delete_prefix(self.key(ns, user, "").rsplit(":", 1)[0] + ":")
