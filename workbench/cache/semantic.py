"""The semantic layer: the nearest cached question by embedding, above a threshold, checked by a verifier.

Each namespace (tenant × knowledge-base version × config) has its own FAISS inner-product index over
L2-normalised embeddings of normalized questions, so one tenant's entries are never even candidates
for another tenant's query. A candidate is served when its cosine similarity is at least
``threshold``, it has not expired, the verifier accepts it, and its payload is still in the backend.

Sharing across workers (Redis backend): payloads live in Redis under ``SET … PX ttl`` (Redis owns the
TTL and the memory bound); every store is also appended to one Redis stream (``{prefix}:semlog``:
namespace, key, normalized text, intent, expiry, the float32 vector). Each worker keeps a local FAISS
mirror and, before a lookup, reads the stream records it has not seen (a non-blocking ``XREAD``, one
round trip). The nearest-neighbour search stays in process (microseconds, no Redis module needed) and
one ``GET`` fetches the payload of the winner, which also proves it is still alive::

    sem = SemanticCache(load_embedding_model("e5-small"), MemoryBackend(), threshold=0.9)
    sem.put(ns, "gold card annual fee", question="gold card annual fee?", payload={"answer": "RMB 300"})
    sem.get(ns, "whats the annual fee of the gold card")     # SemanticMatch(similarity=0.95, ...)
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np

from workbench.cache.backends.base import CacheBackend
from workbench.cache.keys import Namespace, semantic_key
from workbench.cache.records import CacheEntry, decode_entry, encode_entry
from workbench.cache.stats import LayerStats
from workbench.cache.verifier import HitVerifier, RuleVerifier
from workbench.errors import ConfigError, InputError
from workbench.models import EmbeddingModel

__all__ = ["SemanticCache", "SemanticMatch"]


@dataclass(frozen=True, slots=True)
class SemanticMatch:
    """A semantic hit: the entry, its similarity to the query, and why other candidates were refused."""

    entry: CacheEntry
    similarity: float
    key: str


@dataclass(slots=True)
class _Meta:
    key: str
    text: str
    intent: str | None
    expires_at: float


class _NamespaceIndex:
    """A FAISS inner-product index of one namespace, with ids mapped to entry metadata."""

    def __init__(self, dim: int) -> None:
        self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.by_key: dict[str, int] = {}
        self.meta: dict[int, _Meta] = {}

    def add(self, fid: int, vec: np.ndarray, meta: _Meta) -> None:
        self.index.add_with_ids(vec.reshape(1, -1), np.array([fid], dtype=np.int64))
        self.by_key[meta.key] = fid
        self.meta[fid] = meta

    def remove(self, key: str) -> bool:
        fid = self.by_key.pop(key, None)
        if fid is None:
            return False
        self.index.remove_ids(np.array([fid], dtype=np.int64))
        del self.meta[fid]
        return True

    def search(self, vec: np.ndarray, k: int) -> list[tuple[float, _Meta]]:
        n = self.index.ntotal
        if n == 0:
            return []
        sims, ids = self.index.search(vec.reshape(1, -1), min(k, n))
        return [(float(s), self.meta[int(i)]) for s, i in zip(sims[0], ids[0], strict=True) if i >= 0]


class SemanticCache:
    """Nearest-neighbour cache over embeddings of normalized questions (see the module docstring).

    ``embedder`` may be ``None`` when every call passes ``embedding=``. ``shared`` (default: whether
    the backend is a Redis backend) turns on the cross-worker log; ``sync_interval_s`` bounds how
    often a worker reads it (0: before every lookup).
    """

    layer = "semantic"

    def __init__(self, embedder: EmbeddingModel | None, backend: CacheBackend, *, threshold: float = 0.92,
                 verifier: HitVerifier | None = None, ttl_s: float = 300.0, max_entries: int = 10_000,
                 prefix: str = "wb", clock: Callable[[], float] = time.monotonic, top_k: int = 4,
                 dim: int | None = None, shared: bool | None = None, sync_interval_s: float = 0.0) -> None:
        if not -1.0 <= threshold <= 1.0:
            raise ConfigError(f"threshold must be a cosine similarity in [-1, 1], got {threshold}",
                              field="cache.semantic.threshold")
        if ttl_s <= 0 or max_entries < 1 or top_k < 1:
            raise ValueError("ttl_s must be > 0, max_entries and top_k at least 1")
        self.embedder = embedder
        self.backend = backend
        self.threshold = threshold
        self.verifier = verifier if verifier is not None else RuleVerifier()
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.prefix = prefix
        self.top_k = top_k
        self._clock = clock
        self.dim = dim or (embedder.dim if embedder is not None else None)
        self.shared = hasattr(backend, "xread") if shared is None else shared
        self.sync_interval_s = sync_interval_s
        self.stream = f"{prefix}:semlog"
        self.origin = uuid.uuid4().hex
        self.stats = LayerStats(self.layer)
        self.evictions = 0
        self._indexes: dict[str, _NamespaceIndex] = {}
        self._lru: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._next_id = 0
        self._lock = threading.RLock()
        self._last_id = "0-0"
        self._last_sync = -float("inf")
        self._puts = 0
        self.kb_filter: str | None = None
        """When set, log records of other knowledge-base versions are ignored (see :meth:`drop_kb`)."""

    # -- embedding ---------------------------------------------------------------------------------
    def embed(self, normalized: str) -> np.ndarray:
        """The embedding of a normalized question, ``(dim,)`` float32."""
        if self.embedder is None:
            raise ConfigError("the semantic cache has no embedder: pass embedding= or give it a model",
                              field="cache.semantic.model")
        return self._vector(self.embedder.embed_queries([normalized])[0])

    def _vector(self, embedding: Any) -> np.ndarray:
        vec = np.ascontiguousarray(np.asarray(embedding, dtype=np.float32).reshape(-1))
        if self.dim is None:
            self.dim = int(vec.shape[0])
        if vec.shape[0] != self.dim:
            raise InputError(f"embedding has {vec.shape[0]} dimensions, the semantic cache expects {self.dim}")
        return vec

    # -- local index -------------------------------------------------------------------------------
    def _index(self, tag: str) -> _NamespaceIndex:
        idx = self._indexes.get(tag)
        if idx is None:
            assert self.dim is not None
            idx = self._indexes[tag] = _NamespaceIndex(self.dim)
        return idx

    def _add_local(self, tag: str, vec: np.ndarray, meta: _Meta) -> None:
        with self._lock:
            idx = self._index(tag)
            idx.remove(meta.key)
            idx.add(self._next_id, vec, meta)
            self._next_id += 1
            self._lru[(tag, meta.key)] = None
            self._lru.move_to_end((tag, meta.key))
            while len(self._lru) > self.max_entries:
                (old_tag, old_key), _ = self._lru.popitem(last=False)
                self._indexes[old_tag].remove(old_key)
                self.evictions += 1
                if not self.shared:  # a shared payload may still serve other workers: Redis's TTL/LRU owns it
                    self.backend.delete(old_key)

    def _remove_local(self, tag: str, key: str) -> None:
        with self._lock:
            idx = self._indexes.get(tag)
            if idx is not None and idx.remove(key):
                self._lru.pop((tag, key), None)

    def _purge_expired(self) -> None:
        now = self._clock()
        with self._lock:
            for tag, idx in list(self._indexes.items()):
                for meta in [m for m in idx.meta.values() if m.expires_at <= now]:
                    self._remove_local(tag, meta.key)

    def __len__(self) -> int:
        return len(self._lru)

    def drop_kb(self, kb_tag: str) -> int:
        """Forget every local index of a knowledge-base version (its hash, :attr:`Namespace.kb`)."""
        with self._lock:
            doomed = [t for t in self._indexes if t.startswith(kb_tag + ":")]
            n = 0
            for tag in doomed:
                idx = self._indexes.pop(tag)
                n += len(idx.by_key)
                for key in idx.by_key:
                    self._lru.pop((tag, key), None)
            return n

    # -- the shared log ----------------------------------------------------------------------------
    def _ingest(self, records: list[tuple[str, dict[bytes, bytes]]]) -> None:
        now = self._clock()
        for rid, f in records:
            self._last_id = rid
            try:
                if f[b"o"].decode() == self.origin:
                    continue
                tag, key, text = f[b"ns"].decode(), f[b"k"].decode(), f[b"n"].decode()
                intent = f[b"i"].decode() or None
                expires_at = float(f[b"e"])
                vec = np.frombuffer(f[b"v"], dtype=np.float32)
            except (KeyError, ValueError, UnicodeDecodeError):
                continue
            if expires_at <= now or (self.kb_filter is not None and not tag.startswith(self.kb_filter + ":")):
                continue
            if self.dim is None:
                self.dim = int(vec.shape[0])
            if vec.shape[0] != self.dim:
                continue
            self._add_local(tag, vec.copy(), _Meta(key, text, intent, expires_at))

    def _due(self) -> bool:
        if not self.shared:
            return False
        now = time.monotonic()
        if now - self._last_sync < self.sync_interval_s:
            return False
        self._last_sync = now
        return True

    def sync(self) -> None:
        """Read the shared log's new records into the local index (no-op when not shared)."""
        if not self._due():
            return
        while True:
            records = self.backend.xread(self.stream, self._last_id)  # type: ignore[attr-defined]
            if not records:
                return
            self._ingest(records)
            if len(records) < 1000:
                return

    async def async_sync(self) -> None:
        """Async twin of :meth:`sync`."""
        if not self._due():
            return
        while True:
            records = await self.backend.axread(self.stream, self._last_id)  # type: ignore[attr-defined]
            if not records:
                return
            self._ingest(records)
            if len(records) < 1000:
                return

    def _log_fields(self, tag: str, meta: _Meta, vec: np.ndarray) -> dict[str, bytes | str]:
        return {"ns": tag, "k": meta.key, "n": meta.text, "i": meta.intent or "", "e": repr(meta.expires_at),
                "v": vec.tobytes(), "o": self.origin}

    # -- lookups -----------------------------------------------------------------------------------
    def _candidates(self, ns: Namespace, normalized: str, vec: np.ndarray) -> list[tuple[float, _Meta]]:
        with self._lock:
            idx = self._indexes.get(ns.tag)
            found = idx.search(vec, self.top_k) if idx is not None else []
        out = []
        now = self._clock()
        for sim, meta in found:
            if sim < self.threshold:
                break
            if meta.expires_at <= now:
                self._remove_local(ns.tag, meta.key)
                self.stats.add("expired")
                continue
            if self.verifier.verify(normalized, meta.text) is not None:
                self.stats.add("rejected")
                continue
            out.append((sim, meta))
        return out

    def _accept(self, ns: Namespace, sim: float, meta: _Meta, blob: bytes | None) -> SemanticMatch | None:
        entry = decode_entry(blob) if blob is not None else None
        if entry is None or entry.normalized != meta.text or entry.expires_at <= self._clock():
            self._remove_local(ns.tag, meta.key)  # gone from the backend (TTL, eviction, restart)
            return None
        with self._lock:
            if (ns.tag, meta.key) in self._lru:
                self._lru.move_to_end((ns.tag, meta.key))
        return SemanticMatch(entry, sim, meta.key)

    def get(self, ns: Namespace, normalized: str, *, embedding: Any = None) -> SemanticMatch | None:
        """The best acceptable cached entry for ``normalized``, or ``None``."""
        vec = self._vector(embedding) if embedding is not None else self.embed(normalized)
        self.sync()
        for sim, meta in self._candidates(ns, normalized, vec):
            match = self._accept(ns, sim, meta, self.backend.get(meta.key))
            if match is not None:
                return match
        return None

    async def aget(self, ns: Namespace, normalized: str, *, embedding: Any = None) -> SemanticMatch | None:
        """Async twin of :meth:`get` (the embedding runs in a worker thread)."""
        vec = self._vector(embedding) if embedding is not None else await asyncio.to_thread(self.embed, normalized)
        await self.async_sync()
        for sim, meta in self._candidates(ns, normalized, vec):
            match = self._accept(ns, sim, meta, await self.backend.aget(meta.key))
            if match is not None:
                return match
        return None

    # -- stores ------------------------------------------------------------------------------------
    def _prepare(self, ns: Namespace, normalized: str, question: str, payload: dict[str, Any],
                 intent: str | None, embedding: Any) -> tuple[np.ndarray, _Meta, bytes]:
        vec = self._vector(embedding) if embedding is not None else self.embed(normalized)
        expires_at = self._clock() + self.ttl_s
        key = semantic_key(self.prefix, ns, normalized)
        blob = encode_entry(CacheEntry(payload=payload, question=question, intent=intent, expires_at=expires_at,
                                       normalized=normalized))
        self._puts += 1
        if self._puts % 256 == 0:
            self._purge_expired()
        return vec, _Meta(key, normalized, intent, expires_at), blob

    def put(self, ns: Namespace, normalized: str, *, question: str, payload: dict[str, Any],
            intent: str | None = None, embedding: Any = None) -> None:
        """Store a response under the embedding of ``normalized`` (computed unless given)."""
        vec, meta, blob = self._prepare(ns, normalized, question, payload, intent, embedding)
        self.backend.set(meta.key, blob, self.ttl_s)
        self._add_local(ns.tag, vec, meta)
        if self.shared:
            self.backend.xadd(self.stream, self._log_fields(ns.tag, meta, vec),  # type: ignore[attr-defined]
                              maxlen=self.max_entries)
        self.stats.add("stores")

    async def aput(self, ns: Namespace, normalized: str, *, question: str, payload: dict[str, Any],
                   intent: str | None = None, embedding: Any = None) -> None:
        """Async twin of :meth:`put`."""
        if embedding is None:
            embedding = await asyncio.to_thread(self.embed, normalized)
        vec, meta, blob = self._prepare(ns, normalized, question, payload, intent, embedding)
        await self.backend.aset(meta.key, blob, self.ttl_s)
        self._add_local(ns.tag, vec, meta)
        if self.shared:
            await self.backend.axadd(self.stream, self._log_fields(ns.tag, meta, vec),  # type: ignore[attr-defined]
                                     maxlen=self.max_entries)
        self.stats.add("stores")

    def local_stats(self) -> dict[str, Any]:
        """Entries in the local index, namespaces, evictions and the shared-log position."""
        with self._lock:
            return {"entries": len(self._lru), "namespaces": len(self._indexes), "evictions": self.evictions,
                    "shared": self.shared, "log_position": self._last_id if self.shared else None,
                    "threshold": self.threshold}
