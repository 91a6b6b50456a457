"""The semantic layer: the nearest cached question by embedding, above a threshold, checked by a verifier.

Each namespace (tenant × knowledge-base version × config) has its own FAISS inner-product index over
L2-normalised embeddings of normalized questions, so one tenant's entries are never even candidates
for another tenant's query. Candidates are taken nearest first; one is served when its cosine
similarity is at least ``threshold``, it has not expired, the verifier accepts it, inside the judge's
band (:mod:`workbench.cache.judge`) the judge agrees, its payload is still in the backend, and no nearer
candidate was refused, unless it is clearly closer to the query than to every refused one
(:func:`clearly_closer`): a refusal means "the query asks something else than this neighbourhood", so
the refused entry's own paraphrases are not served in its place.

Sharing across workers: a backend that declares itself ``shared`` (Redis) is also a
:class:`~workbench.cache.backends.ReplicationLog`. Payloads live in it under ``SET … PX ttl`` (Redis
owns the TTL and the memory bound); every store is also appended to the log (``{prefix}:semlog``, a
:class:`~workbench.cache.records.SemanticLogRecord` each). Each worker keeps a local FAISS mirror and,
before a lookup, reads the records it has not seen (a non-blocking ``XREAD``, one round trip). The
nearest-neighbour search stays in process (microseconds, no Redis module needed) and one ``GET``
fetches the payload of the winner, which also proves it is still alive::

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
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import faiss
import numpy as np

from workbench.cache.backends.base import CacheBackend, LogRecords, ReplicationLog, replication_log
from workbench.cache.judge import JudgeTier
from workbench.cache.keys import Namespace, semantic_key
from workbench.cache.layer import DEFAULT_PREFIX, CacheLayer, LayerInvalidation
from workbench.cache.records import CacheEntry, SemanticLogRecord
from workbench.cache.steps import Plan, run_async, run_sync
from workbench.cache.verifier import HitVerifier, RuleVerifier
from workbench.config import SemanticCacheConfig
from workbench.errors import ConfigError, InputError
from workbench.models import EmbeddingModel

__all__ = ["REFUSAL_MARGIN", "SemanticCache", "SemanticMatch", "clearly_closer"]

_DEFAULTS = SemanticCacheConfig()
_LOG_BATCH = 1000

REFUSAL_MARGIN: float = _DEFAULTS.refusal_margin
"""The default of ``cache.semantic.refusal_margin`` (0.02): how much closer (in cosine similarity) a candidate
must be to the query than to a nearer candidate the verifier refused, to be served in its place. With e5-small,
paraphrases of one question sit about 0.95-0.99 apart, so a candidate that is a paraphrase of the refused entry fails this test, and a candidate that is
a different question from the refused one (similarity to it below the query's by 0.02 or more) passes."""


def clearly_closer(similarity: float, candidate: np.ndarray, refused: Sequence[np.ndarray],
                   margin: float = REFUSAL_MARGIN) -> bool:
    """Whether a candidate is clearly closer to the query than to every refused, nearer candidate.

    :param similarity: the candidate's cosine similarity to the query.
    :param candidate: the candidate's L2-normalised embedding.
    :param refused: the L2-normalised embeddings of the nearer candidates the verifier refused.
    :param margin: how much closer it must be (see :data:`REFUSAL_MARGIN`).
    :returns: ``True`` when ``similarity >= cos(candidate, r) + margin`` for every refused ``r``.

    ```python
    clearly_closer(0.97, c, [r])     # False when c and r are paraphrases of each other (cos 0.99)
    ```
    """
    return all(similarity >= float(np.dot(candidate, r)) + margin for r in refused)


@dataclass(frozen=True, slots=True)
class SemanticMatch:
    """A semantic hit: the entry, its similarity to the query, and its backend key."""

    entry: CacheEntry
    similarity: float
    key: str


@dataclass(slots=True)
class _Meta:
    key: str
    text: str
    intent: str | None
    expires_at: float


@contextmanager
def _one_omp_thread() -> Iterator[None]:
    """Run FAISS on one OpenMP thread in this thread only (the setting is per thread), then restore it.

    A one-query search gains nothing from threads, and on a busy machine each parallel region waits at a
    barrier for a thread the scheduler has not run yet: measured 20 ms against 7.5 µs per search of 200
    vectors (``IndexIDMap2``, 2 cores under a load average of 12).
    """
    prev = faiss.omp_get_max_threads()
    if prev == 1:
        yield
        return
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(prev)


class _NamespaceIndex:
    """A FAISS inner-product index of one namespace, with ids mapped to entry metadata (one OpenMP thread)."""

    def __init__(self, dim: int) -> None:
        self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.by_key: dict[str, int] = {}
        self.meta: dict[int, _Meta] = {}

    def add(self, fid: int, vec: np.ndarray, meta: _Meta) -> None:
        with _one_omp_thread():
            self.index.add_with_ids(vec.reshape(1, -1), np.array([fid], dtype=np.int64))
        self.by_key[meta.key] = fid
        self.meta[fid] = meta

    def remove(self, key: str) -> bool:
        fid = self.by_key.pop(key, None)
        if fid is None:
            return False
        with _one_omp_thread():
            self.index.remove_ids(np.array([fid], dtype=np.int64))
        del self.meta[fid]
        return True

    def vector(self, key: str) -> np.ndarray | None:
        fid = self.by_key.get(key)
        return None if fid is None else self.index.reconstruct(fid)

    def search(self, vec: np.ndarray, k: int) -> list[tuple[float, _Meta]]:
        n = self.index.ntotal
        if n == 0:
            return []
        with _one_omp_thread():
            sims, ids = self.index.search(vec.reshape(1, -1), min(k, n))
        return [(float(s), self.meta[int(i)]) for s, i in zip(sims[0], ids[0], strict=True) if i >= 0]


class SemanticCache(CacheLayer):
    """Nearest-neighbour cache over embeddings of normalized questions (see the module docstring).

    :param embedder: the model; may be ``None`` when every call passes ``embedding=``.
    :param backend: where payloads live.
    :param threshold: the cosine similarity at or above which a candidate may be served (default:
        ``cache.semantic.threshold``, the one source of this default).
    :param verifier: refuses candidates that ask something else (default: :class:`RuleVerifier`).
    :param ttl_s: entry lifetime (default ``cache.semantic.ttl_s``).
    :param max_entries: bound of the local index (default ``cache.semantic.max_entries``).
    :param top_k: candidates examined per lookup.
    :param dim: embedding size (default: the embedder's, or the first vector's).
    :param shared: use the backend's replication log (default: whether the backend is ``shared``);
        ``sync_interval_s`` bounds how often a worker reads it (0: before every lookup).
    :param refusal_margin: see :func:`clearly_closer` and :data:`REFUSAL_MARGIN`.
    :param judge: the judge tier: a candidate the rules accept at a similarity below ``judge.accept_above``
        is served only if the judge says both questions ask for the same answer (``None``: no judge).
    :raises ConfigError: a threshold outside [-1, 1], non-positive sizes, or ``shared`` on a backend
        without a replication log.
    """

    layer = "semantic"
    default_ttl_s = _DEFAULTS.ttl_s

    def __init__(self, embedder: EmbeddingModel | None, backend: CacheBackend, *,
                 threshold: float = _DEFAULTS.threshold, verifier: HitVerifier | None = None,
                 ttl_s: float | None = None, max_entries: int = _DEFAULTS.max_entries, prefix: str = DEFAULT_PREFIX,
                 clock: Callable[[], float] = time.monotonic, top_k: int = 4, dim: int | None = None,
                 shared: bool | None = None, sync_interval_s: float = 0.0,
                 refusal_margin: float = REFUSAL_MARGIN, judge: JudgeTier | None = None) -> None:
        super().__init__(backend, ttl_s=ttl_s, prefix=prefix, clock=clock)
        if not -1.0 <= threshold <= 1.0:
            raise ConfigError(f"threshold must be a cosine similarity in [-1, 1], got {threshold}",
                              field="cache.semantic.threshold")
        if max_entries < 1 or top_k < 1:
            raise ConfigError(f"max_entries and top_k must be at least 1, got {max_entries} and {top_k}",
                              field="cache.semantic.max_entries")
        self.embedder = embedder
        self.threshold = threshold
        self.verifier = verifier if verifier is not None else RuleVerifier()
        self.max_entries = max_entries
        self.top_k = top_k
        self.refusal_margin = refusal_margin
        self.judge = judge
        self.dim = dim or (embedder.dim if embedder is not None else None)
        self.shared = backend.shared if shared is None else shared
        self._log: ReplicationLog | None = replication_log(backend) if self.shared else None
        self.sync_interval_s = sync_interval_s
        self.stream = f"{prefix}:semlog"
        self.origin = uuid.uuid4().hex
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
        self.shared_embed: Callable[[str], Awaitable[np.ndarray]] | None = None
        """When set, async lookups embed through it (the serving engine's micro-batcher of the pipeline's
        embedder, when it is this layer's model: :meth:`CacheStack.share_embedding`); blocking ones still call
        the embedder."""

    # -- embedding ---------------------------------------------------------------------------------
    def embed(self, normalized: str) -> np.ndarray:
        """The embedding of a normalized question, ``(dim,)`` float32.

        :raises ConfigError: the cache has no embedder.
        """
        if self.embedder is None:
            raise ConfigError("the semantic cache has no embedder: pass embedding= or give it a model",
                              field="cache.semantic.model")
        return self.vector(self.embedder.embed_queries([normalized])[0])

    async def _embed_in_thread(self, normalized: str) -> np.ndarray:
        if self.shared_embed is not None:  # the pipeline's micro-batcher of the same model: one queue, one thread
            return self.vector(await self.shared_embed(normalized))
        return await asyncio.to_thread(self.embed, normalized)

    def vector(self, embedding: Any) -> np.ndarray:
        """``embedding`` as a contiguous ``(dim,)`` float32 array.

        :raises InputError: it has another number of dimensions than the cache.
        """
        vec = np.ascontiguousarray(np.asarray(embedding, dtype=np.float32).reshape(-1))
        if self.dim is None:
            self.dim = int(vec.shape[0])
        if vec.shape[0] != self.dim:
            raise InputError(f"embedding has {vec.shape[0]} dimensions, the semantic cache expects {self.dim}")
        return vec

    def plan_embedding(self, normalized: str, embedding: Any = None) -> Plan[np.ndarray]:
        """Plan: ``embedding`` as a vector when given, else the model's (in a worker thread when async)."""
        if embedding is not None:
            return self.vector(embedding)
        vec: np.ndarray = yield (self.embed, self._embed_in_thread, (normalized,))
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

    def plan_invalidate(self, kb: str, doc_ids: Collection[str],
                        tags: Collection[str] | None = None) -> Plan[LayerInvalidation]:
        """Plan: as :meth:`CacheLayer.plan_invalidate`, and the entries leave this worker's local index too
        (another worker drops its copy at its next candidate loop: the payload is gone from the backend)."""
        done = yield from super().plan_invalidate(kb, doc_ids, tags)
        for tag, key in done.keys:
            self._remove_local(tag, key)
        return done

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

    # -- the replication log -------------------------------------------------------------------------
    def _ingest(self, records: LogRecords) -> None:
        now = self._clock()
        for rid, fields in records:
            self._last_id = rid
            rec = SemanticLogRecord.from_fields(fields)
            if rec is None or rec.origin == self.origin or rec.expires_at <= now:
                continue
            if self.kb_filter is not None and not rec.namespace.startswith(self.kb_filter + ":"):
                continue
            vec = rec.embedding()
            if self.dim is None:
                self.dim = int(vec.shape[0])
            if vec.shape[0] != self.dim:
                continue
            self._add_local(rec.namespace, vec, _Meta(rec.key, rec.normalized, rec.intent, rec.expires_at))

    def _due(self) -> bool:
        if self._log is None:
            return False
        now = time.monotonic()
        if now - self._last_sync < self.sync_interval_s:
            return False
        self._last_sync = now
        return True

    def plan_sync(self) -> Plan[None]:
        """Plan of :meth:`sync`."""
        if not self._due():
            return
        assert self._log is not None
        while True:
            records = yield (self._log.xread, self._log.axread, (self.stream, self._last_id))
            if not records:
                return
            self._ingest(records)
            if len(records) < _LOG_BATCH:
                return

    def sync(self) -> None:
        """Read the replication log's new records into the local index (no-op when not shared)."""
        run_sync(self.plan_sync())

    async def async_sync(self) -> None:
        """Async form of :meth:`sync`."""
        await run_async(self.plan_sync())

    # -- lookups -----------------------------------------------------------------------------------
    def _nearest(self, ns: Namespace, vec: np.ndarray) -> list[tuple[float, _Meta]]:
        """The live candidates at or above the threshold, nearest first (expired ones are dropped)."""
        with self._lock:
            idx = self._indexes.get(ns.tag)
            found = idx.search(vec, self.top_k) if idx is not None else []
        now = self._clock()
        out = []
        for sim, meta in found:
            if sim < self.threshold:
                break
            if meta.expires_at <= now:
                self._remove_local(ns.tag, meta.key)
                self.stats.add("expired")
                continue
            out.append((sim, meta))
        return out

    def _vector_of(self, ns: Namespace, key: str) -> np.ndarray | None:
        with self._lock:
            idx = self._indexes.get(ns.tag)
            return idx.vector(key) if idx is not None else None

    def _promotable(self, ns: Namespace, sim: float, meta: _Meta, refused: list[np.ndarray]) -> bool:
        if not refused:
            return True
        vec = self._vector_of(ns, meta.key)
        return vec is not None and clearly_closer(sim, vec, refused, self.refusal_margin)

    def _accept(self, ns: Namespace, sim: float, meta: _Meta, blob: bytes | None) -> SemanticMatch | None:
        entry = self._live(blob, meta.text)
        if entry is None:
            self._remove_local(ns.tag, meta.key)  # gone from the backend (TTL, eviction, restart)
            return None
        with self._lock:
            if (ns.tag, meta.key) in self._lru:
                self._lru.move_to_end((ns.tag, meta.key))
        return SemanticMatch(entry, sim, meta.key)

    def _refuse(self, ns: Namespace, meta: _Meta, refused: list[np.ndarray], counter: str) -> None:
        self.stats.add(counter)
        own = self._vector_of(ns, meta.key)
        if own is not None:
            refused.append(own)

    def plan_get(self, ns: Namespace, normalized: str, embedding: Any = None) -> Plan[SemanticMatch | None]:
        """Plan of :meth:`get`: the decision, written once (see the module docstring).

        Per candidate, nearest first: the rules (inside the judge's band only if ``judge.rules_in_band``);
        then, if a nearer candidate was refused, whether this one is clearly closer to the query; then,
        inside the judge's band, the judge; then the payload.
        """
        vec = yield from self.plan_embedding(normalized, embedding)
        yield from self.plan_sync()
        refused: list[np.ndarray] = []
        for sim, meta in self._nearest(ns, vec):
            judge = self.judge if self.judge is not None and self.judge.in_band(sim) else None
            if (judge is None or judge.rules_in_band) and self.verifier.verify(normalized, meta.text) is not None:
                self._refuse(ns, meta, refused, "rejected")
                continue
            if not self._promotable(ns, sim, meta, refused):
                self.stats.add("shadowed")
                continue
            if judge is not None:
                verdict = yield from judge.plan_verdict(self.backend, self.prefix, normalized, meta.text)
                if verdict is not True:
                    self._refuse(ns, meta, refused, "judge_refused" if verdict is False else "judge_failed")
                    continue
            blob = yield (self.backend.get, self.backend.aget, (meta.key,))
            match = self._accept(ns, sim, meta, blob)
            if match is not None:
                return match
        return None

    def get(self, ns: Namespace, normalized: str, *, embedding: Any = None) -> SemanticMatch | None:
        """The best acceptable cached entry for ``normalized``, or ``None``."""
        return run_sync(self.plan_get(ns, normalized, embedding))

    async def aget(self, ns: Namespace, normalized: str, *, embedding: Any = None) -> SemanticMatch | None:
        """Async form of :meth:`get` (the embedding runs in a worker thread)."""
        return await run_async(self.plan_get(ns, normalized, embedding))

    # -- stores ------------------------------------------------------------------------------------
    def plan_put(self, ns: Namespace, normalized: str, question: str, payload: dict[str, Any],
                 intent: str | None = None, embedding: Any = None) -> Plan[None]:
        """Plan of :meth:`put`."""
        vec = yield from self.plan_embedding(normalized, embedding)
        key = semantic_key(self.prefix, ns, normalized)
        expires_at = yield from self._write(key, normalized, payload, question=question, intent=intent, ttl_s=None,
                                            tag=ns.tag)
        assert expires_at is not None
        self._puts += 1
        if self._puts % 256 == 0:
            self._purge_expired()
        meta = _Meta(key, normalized, intent, expires_at)
        self._add_local(ns.tag, vec, meta)
        if self._log is not None:
            rec = SemanticLogRecord(namespace=ns.tag, key=key, normalized=normalized, intent=intent,
                                    expires_at=expires_at, vector=vec.tobytes(), origin=self.origin)
            yield (partial(self._log.xadd, maxlen=self.max_entries), partial(self._log.axadd, maxlen=self.max_entries),
                   (self.stream, rec.to_fields()))

    def put(self, ns: Namespace, normalized: str, *, question: str, payload: dict[str, Any],
            intent: str | None = None, embedding: Any = None) -> None:
        """Store a response under the embedding of ``normalized`` (computed unless given)."""
        run_sync(self.plan_put(ns, normalized, question, payload, intent, embedding))

    async def aput(self, ns: Namespace, normalized: str, *, question: str, payload: dict[str, Any],
                   intent: str | None = None, embedding: Any = None) -> None:
        """Async form of :meth:`put`."""
        await run_async(self.plan_put(ns, normalized, question, payload, intent, embedding))

    def local_stats(self) -> dict[str, Any]:
        """Entries in the local index, namespaces, evictions and the replication-log position."""
        with self._lock:
            return {"entries": len(self._lru), "namespaces": len(self._indexes), "evictions": self.evictions,
                    "shared": self.shared, "log_position": self._last_id if self.shared else None,
                    "threshold": self.threshold, "refusal_margin": self.refusal_margin,
                    "judge": self.judge.stats() if self.judge is not None else None}
