"""The base of every cache layer: it owns the backend, the TTL, the key prefix, the clock and the stats,
and reads and writes the :class:`~workbench.cache.records.CacheEntry` envelope.

A layer adds its keys and its decision plans (see :mod:`workbench.cache.steps`); the base gives it
the plans every layer needs, *read a live entry*, *write an entry* and *invalidate by document*, so the
expiry check, the identity check (a key collision or a foreign key is a miss), the reverse index of cited
documents and the counters are written once::

    class ExactCache(CacheLayer):
        layer = "exact"
        def _get(self, ns, normalized):
            return self._read(self.key(ns, normalized), normalized)   # a plan
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import ValidationError

from workbench.cache.backends.base import CacheBackend
from workbench.cache.keys import citing_key, citing_namespaces_key
from workbench.cache.records import CacheEntry, Layer, cited_documents, decode_entry, encode_entry
from workbench.cache.stats import LayerStats
from workbench.cache.steps import Plan
from workbench.config import CacheConfig
from workbench.errors import ConfigError, InputError

__all__ = ["DEFAULT_PREFIX", "CacheLayer", "LayerInvalidation"]

#: The key prefix when none is given (the ``cache.key_prefix`` default).
DEFAULT_PREFIX: str = CacheConfig().key_prefix


@dataclass(frozen=True)
class LayerInvalidation:
    """What invalidating documents removed from one layer."""

    keys: tuple[tuple[str, str], ...]
    """``(namespace tag, entry key)`` of every entry that cited one of the documents."""
    removed: int
    """How many of those entries were still in the backend (and are now gone)."""
    complete: bool
    """False when the backend was unavailable for part of it (some citing entries may remain)."""


class CacheLayer:
    """TTL, prefix, clock, stats and the entry envelope of one cache layer.

    :param backend: where the entries live (in-process or Redis).
    :param ttl_s: how long an entry lives, seconds (> 0; default: the layer's :attr:`default_ttl_s`, the config's).
    :param prefix: the first part of every key (``cache.key_prefix``).
    :param clock: seconds, for expiry (tests inject a :class:`~workbench.cache.testing.FakeClock`).
    :raises ConfigError: ``ttl_s`` is not positive.
    """

    layer: ClassVar[Layer]
    """The layer's name in hits and stats."""
    default_ttl_s: ClassVar[float]
    """The TTL when none is given: the config default of the layer's section (one source of truth)."""
    ttl_is_a_ceiling: ClassVar[bool] = True
    """Whether a write's own TTL is capped at the layer's (per-user tool results keep their own)."""

    def __init__(self, backend: CacheBackend, *, ttl_s: float | None = None, prefix: str = DEFAULT_PREFIX,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if ttl_s is None:
            ttl_s = self.default_ttl_s
        if not ttl_s > 0:
            raise ConfigError(f"ttl_s must be > 0, got {ttl_s}", field=f"cache.{self.layer}.ttl_s")
        self.backend = backend
        self.ttl_s = float(ttl_s)
        self.prefix = prefix
        self._clock = clock
        self.stats = LayerStats(self.layer)

    def now(self) -> float:
        """The layer's clock, seconds."""
        return self._clock()

    def _ttl(self, ttl_s: float | None) -> float:
        """The TTL of a write: the layer's, or ``ttl_s`` when given (capped if :attr:`ttl_is_a_ceiling`)."""
        if ttl_s is None:
            return self.ttl_s
        return min(ttl_s, self.ttl_s) if self.ttl_is_a_ceiling else ttl_s

    @staticmethod
    def _encode(identity: str, payload: dict[str, Any], question: str, intent: str | None,
                expires_at: float) -> bytes:
        try:
            entry = CacheEntry(payload=payload, question=question, intent=intent, expires_at=expires_at,
                               normalized=identity)
        except ValidationError as exc:
            raise InputError(f"cache payload must be a JSON object with string keys: {exc.errors()[0]['msg']}") \
                from None
        return encode_entry(entry)

    def _live(self, blob: bytes | None, identity: str) -> CacheEntry | None:
        """The entry in ``blob`` if it is one, was written for ``identity`` and has not expired."""
        entry = decode_entry(blob) if blob is not None else None
        if entry is None or entry.normalized != identity:
            return None
        if self._clock() >= entry.expires_at:
            self.stats.add("expired")
            return None
        return entry

    # -- plans (run with workbench.cache.steps.run_sync / run_async) --------------------------------
    def _read(self, key: str, identity: str) -> Plan[CacheEntry | None]:
        """Plan: the live entry under ``key`` written for ``identity``, or ``None``."""
        blob = yield (self.backend.get, self.backend.aget, (key,))
        return self._live(blob, identity)

    def _write(self, key: str, identity: str, payload: dict[str, Any], *, question: str, intent: str | None,
               ttl_s: float | None, tag: str | None = None) -> Plan[float | None]:
        """Plan: store ``payload`` under ``key`` for ``ttl_s`` (see :meth:`_ttl`), counted as a store.

        With the namespace ``tag``, the entry is also added to the reverse index of every document its
        payload cites (:func:`~workbench.cache.records.cited_documents`), so :meth:`plan_invalidate` finds it.
        Returns the entry's expiry on the layer's clock; a TTL that is not positive (an entry already
        expired) writes nothing and returns ``None``.
        """
        ttl = self._ttl(ttl_s)
        if ttl <= 0:
            return None
        expires_at = self._clock() + ttl
        blob = self._encode(identity, payload, question, intent, expires_at)
        yield (self.backend.set, self.backend.aset, (key, blob, ttl))
        self.stats.add("stores")
        docs = cited_documents(payload) if tag is not None else ()
        if docs:
            assert tag is not None
            items = [(citing_key(self.prefix, self.layer, tag, d), key) for d in docs]
            items.append((citing_namespaces_key(self.prefix, self.layer, tag.split(":", 1)[0]), tag))
            yield (self.backend.add_members, self.backend.aadd_members, (items, ttl))
        return expires_at

    def plan_invalidate(self, kb: str, doc_ids: Collection[str],
                        tags: Collection[str] | None = None) -> Plan[LayerInvalidation]:
        """Plan: delete every entry, under knowledge-base hash ``kb``, whose payload cites one of ``doc_ids``.

        :param kb: the knowledge-base hash (:attr:`~workbench.cache.keys.Namespace.kb`).
        :param doc_ids: the changed or removed documents.
        :param tags: only these namespaces (default: every namespace that stored a citing entry).
        """
        complete = True
        if tags is None:
            known = yield (self.backend.members, self.backend.amembers,
                           (citing_namespaces_key(self.prefix, self.layer, kb),))
            complete = known is not None
            tags = sorted(known or ())
        set_keys = {citing_key(self.prefix, self.layer, t, d): t for t in sorted(tags) for d in sorted(doc_ids)}
        found: dict[str, set[str]] | None = {}
        if set_keys:
            found = yield (self.backend.take_members, self.backend.atake_members, (list(set_keys),))
        complete = complete and found is not None
        keys = tuple(sorted({(set_keys[sk], k) for sk, members in (found or {}).items() for k in members}))
        removed = 0
        if keys:
            removed = yield (self.backend.delete_many, self.backend.adelete_many, ([k for _, k in keys],))
            self.stats.add("invalidated", removed)
        return LayerInvalidation(keys, removed, complete)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(backend={self.backend.name!r}, ttl_s={self.ttl_s}, prefix={self.prefix!r})"
