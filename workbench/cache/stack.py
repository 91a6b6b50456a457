"""The multi-layer cache in front of the query pipeline: exact → semantic for shared answers, and a
per-user layer for personalized ones. Every hit says which layer served it.

```python
stack = CacheStack.from_config(cfg.with_overrides({"cache.enabled": True}), kb_version=kb.version)
hit = stack.lookup("acme", "what's the gold card annual fee?")
if hit is None:
    answer = pipeline.run(question).to_dict()
    stack.store("acme", "what's the gold card annual fee?", answer)    # reuses the lookup's embedding
else:
    answer, layer = hit.payload, hit.layer                               # "exact" | "semantic" | "user"
stack.stats()["layers"]["exact"]["hits"]
```

A personalized question (``personalized=True``) is looked up in and stored into the per-user layer
only, keyed by tenant and user: it is never served from, nor written to, a shared layer.

When documents of the knowledge base change, only the answers that cited them go (every stored answer
keeps its ``sources``; each layer keeps a reverse index document → entries in its backend)::

    update = update_knowledge_base(kb, cfg, changed=[new_doc], removed=["cards-gold-zh"])   # pipelines.knowledge_base
    stack.invalidate_documents(update.doc_ids).removed      # {'exact': 3, 'semantic': 2, 'user': 0}
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.cache.backends.base import CacheBackend
from workbench.cache.backends.memory import MemoryBackend
from workbench.cache.backends.redis_backend import RedisBackend
from workbench.cache.exact import ExactCache
from workbench.cache.hotspot import HotItem, HotspotDetector, HotspotRefresher, SharedHotspotDetector
from workbench.cache.judge import JudgeTier, PairJudge
from workbench.cache.keys import Namespace, answer_config_hash, digest, namespace
from workbench.cache.layer import CacheLayer
from workbench.cache.normalizer import QueryNormalizer
from workbench.cache.records import CacheEntry, CacheHit, Layer
from workbench.cache.semantic import SemanticCache
from workbench.cache.stats import LayerStats
from workbench.cache.steps import Plan, run_async, run_sync
from workbench.cache.user_snapshot import UserSnapshotCache, UserSnapshotStore, check_user
from workbench.cache.verifier import HitVerifier, NullVerifier, RuleVerifier
from workbench.config import PipelineConfig
from workbench.errors import InputError
from workbench.models import EmbeddingModel, load_embedding_model

__all__ = ["CacheStack", "DocumentInvalidation"]

_NS = time.perf_counter_ns
#: Per-user answers are stored under this name prefix (tool snapshots use their own names).
ANSWER = "answer:"


@dataclass(frozen=True)
class DocumentInvalidation:
    """What :meth:`CacheStack.invalidate_documents` removed."""

    documents: tuple[str, ...]
    """The changed or removed document ids."""
    removed: dict[str, int]
    """Entries deleted, per layer."""
    complete: bool
    """False when a backend was unavailable for part of it: some citing entries may remain (retry it)."""

    @property
    def total(self) -> int:
        """Entries deleted in all layers."""
        return sum(self.removed.values())


class CacheStack:
    """Exact, semantic and per-user layers composed in that order (see the module docstring).

    Build it with :meth:`from_config`; the constructor takes ready layers (``None``: layer off).
    """

    def __init__(self, *, normalizer: QueryNormalizer, kb_version: str, config_hash: str,
                 exact: ExactCache | None, semantic: SemanticCache | None, user: UserSnapshotCache | None,
                 hotspot: HotspotDetector | None = None, enabled: bool = True, backend_name: str = "memory",
                 prefix: str = "wb", max_question_chars: int = 2000, promote_semantic_hits: bool = True,
                 refresh_ahead_s: float = 60.0, max_refreshes_per_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.normalizer = normalizer
        self.config_hash = config_hash
        self.exact = exact
        self.semantic = semantic
        self.user = user
        self.hotspot = hotspot
        self.enabled = enabled
        self.backend_name = backend_name
        self.prefix = prefix
        self.max_question_chars = max_question_chars
        self.promote_semantic_hits = promote_semantic_hits
        self.refresh_ahead_s = refresh_ahead_s
        self.max_refreshes_per_s = max_refreshes_per_s
        self._clock = clock
        self._namespaces: dict[str, Namespace] = {}
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._refresher: HotspotRefresher | None = None
        self.requests = LayerStats("stack")
        self.kb_version = kb_version
        if self.semantic is not None:
            self.semantic.kb_filter = digest(kb_version, size=12)

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def from_config(cls, cfg: PipelineConfig, *, kb_version: str, embedder: EmbeddingModel | None = None,
                    clock: Callable[[], float] = time.monotonic, verifier: HitVerifier | None = None,
                    backend: CacheBackend | None = None, redis_retry_interval_s: float = 1.0,
                    semantic_sync_interval_s: float = 0.0, judge: PairJudge | None = None) -> CacheStack:
        """The stack ``cfg.cache`` describes, for one knowledge-base version.

        ``embedder``: the semantic layer's model (default: ``cache.semantic.model`` or the pipeline's
        embedder, loaded now). ``backend``: one backend for every layer instead of the configured
        one (tests, benchmarks). ``clock``: seconds, for TTLs and hotspot windows (tests inject one).
        ``verifier``: instead of the rules of ``cache.semantic.lexicon``. ``judge``: the model of the judge
        tier instead of the one ``cache.semantic.judge`` describes (its band and cache settings still apply).

        ```python
        stack = CacheStack.from_config(PipelineConfig.load("fast").with_overrides(
            {"cache.enabled": True, "cache.backend": "redis", "cache.redis_url": url}), kb_version="v1")
        ```
        """
        c = cfg.cache
        if not isinstance(kb_version, str) or not kb_version:
            raise InputError("kb_version must be a non-empty string (the knowledge base's version)")

        def make(max_entries: int) -> CacheBackend:
            if backend is not None:
                return backend
            if c.backend == "redis":
                return shared_redis
            return MemoryBackend(max_entries=max_entries, max_bytes=c.exact.max_bytes, clock=clock)

        shared_redis: Any = None
        if backend is None and c.backend == "redis":
            shared_redis = RedisBackend(c.redis_url, retry_interval_s=redis_retry_interval_s)
        exact = ExactCache(make(c.exact.max_entries), ttl_s=c.exact.ttl_s, prefix=c.key_prefix, clock=clock) \
            if c.enabled and c.exact.enabled else None
        semantic = None
        if c.enabled and c.semantic.enabled:
            model = embedder or load_embedding_model(c.semantic.model or cfg.embedder.model,
                                                     threads=cfg.embedder.threads)
            chosen = verifier or (RuleVerifier(c.semantic.lexicon) if c.semantic.verifier == "rules"
                                  else NullVerifier())
            semantic = SemanticCache(model, make(c.semantic.max_entries), threshold=c.semantic.threshold,
                                     verifier=chosen, ttl_s=c.semantic.ttl_s, max_entries=c.semantic.max_entries,
                                     prefix=c.key_prefix, clock=clock, sync_interval_s=semantic_sync_interval_s,
                                     refusal_margin=c.semantic.refusal_margin,
                                     judge=JudgeTier.from_config(c.semantic.judge, judge=judge))
        user = UserSnapshotCache(make(c.user_snapshot.max_entries), ttl_s=c.user_snapshot.ttl_s,
                                 prefix=c.key_prefix, clock=clock) if c.enabled and c.user_snapshot.enabled else None
        hotspot: HotspotDetector | None = None
        if c.enabled and c.hotspot.enabled:
            shared = backend if isinstance(backend, RedisBackend) else shared_redis
            if shared is not None:  # every worker's traffic counts (wall-clock buckets unless a test clock is given)
                hotspot = SharedHotspotDetector(shared, prefix=c.key_prefix, window_s=c.hotspot.window_s,
                                                top_k=c.hotspot.top_k,
                                                clock=time.time if clock is time.monotonic else clock)
            else:
                hotspot = HotspotDetector(window_s=c.hotspot.window_s, top_k=c.hotspot.top_k, clock=clock)
        return cls(normalizer=QueryNormalizer.from_config(c.normalizer), kb_version=kb_version,
                   config_hash=answer_config_hash(cfg), exact=exact, semantic=semantic, user=user, hotspot=hotspot,
                   enabled=c.enabled, backend_name=(backend.name if backend is not None else c.backend),
                   prefix=c.key_prefix, max_question_chars=cfg.limits.max_question_chars,
                   refresh_ahead_s=c.hotspot.refresh_ahead_s, max_refreshes_per_s=c.hotspot.max_refreshes_per_s,
                   clock=clock)

    # -- helpers -----------------------------------------------------------------------------------
    def namespace(self, tenant: str) -> Namespace:
        """The namespace of ``tenant`` under the current knowledge-base version."""
        ns = self._namespaces.get(tenant)
        if ns is None:
            ns = self._namespaces[tenant] = namespace(tenant, kb_version=self.kb_version,
                                                      config_hash=self.config_hash)
        return ns

    def _validate(self, tenant: Any, question: Any) -> str:
        if not isinstance(tenant, str) or not tenant:
            raise InputError("tenant must be a non-empty string")
        if not isinstance(question, str) or not question.strip():
            raise InputError("question must be a non-empty string")
        if len(question) > self.max_question_chars:
            raise InputError(f"question is {len(question)} characters; the limit is {self.max_question_chars}")
        return question

    def normalize(self, question: str) -> str:
        """The normalized form the keys and the cache embedding are made from."""
        return self.normalizer(question)

    def embed(self, question: str) -> np.ndarray:
        """The semantic layer's embedding of ``question`` (normalized first); pass it back as ``embedding=``."""
        if self.semantic is None:
            raise InputError("the semantic layer is off: there is no cache embedding")
        norm = self.normalizer(question)
        return self._remember(norm, self.semantic.embed(norm))

    def share_embedding(self, embed: Callable[[str], Awaitable[np.ndarray]]) -> None:
        """Make async lookups embed through ``embed`` (the serving engine's micro-batcher of the pipeline's
        query embedder), so a lookup and the pipeline queue for one model, on one thread. Use it only when
        ``embed`` runs the semantic layer's own model (the vectors must be the same).

        :raises InputError: the semantic layer is off.
        """
        if self.semantic is None:
            raise InputError("the semantic layer is off: there is no cache embedding to share")
        self.semantic.shared_embed = embed

    def query_embedding(self, question: str) -> np.ndarray | None:
        """The semantic layer's embedding of ``question`` (normalized) that a recent lookup computed, or ``None``
        (no such lookup, or an exact hit answered it first). The serving engine passes it to the pipeline on a
        miss, so the request's question is embedded once."""
        return self._recent.get(self.normalizer(question)) if self.semantic is not None else None

    def _remember(self, norm: str, vec: np.ndarray) -> np.ndarray:
        self._recent[norm] = vec
        self._recent.move_to_end(norm)
        if len(self._recent) > 1024:
            self._recent.popitem(last=False)
        return vec

    # -- lookup ------------------------------------------------------------------------------------
    def _count(self, layer: CacheLayer, entry: CacheEntry | None, t0: int, intent: str | None) -> None:
        layer.stats.record(hit=entry is not None, latency_ns=_NS() - t0,
                           wrong=None if entry is None or intent is None or entry.intent is None
                           else entry.intent != intent)

    def plan_lookup(self, tenant: str, question: str, user: str | None = None, personalized: bool = False,
                    embedding: Any = None, intent: str | None = None) -> Plan[CacheHit | None]:
        """Plan of :meth:`lookup`: the cache's decision, written once (run by :meth:`lookup` and :meth:`alookup`)."""
        t0 = _NS()
        self._validate(tenant, question)
        if not self.enabled:
            return None
        norm = self.normalizer(question)
        ns = self.namespace(tenant)
        if personalized:
            u = check_user(user)
            if self.user is None:
                return None
            entry = yield from self.user.plan_get(ns, u, ANSWER + norm)
            self._count(self.user, entry, t0, intent)
            return self._finish(entry, "user", 1.0, t0)
        if self.hotspot is not None:
            self.hotspot.record((tenant, norm), HotItem(tenant, question, intent))
        if self.exact is not None:
            t1 = _NS()
            entry = yield from self.exact.plan_get(ns, norm)
            self._count(self.exact, entry, t1, intent)
            if entry is not None:
                return self._finish(entry, "exact", 1.0, t0)
        if self.semantic is not None:
            t1 = _NS()
            vec = yield from self.semantic.plan_embedding(norm, embedding)
            self._remember(norm, vec)
            match = yield from self.semantic.plan_get(ns, norm, vec)
            self._count(self.semantic, match.entry if match is not None else None, t1, intent)
            if match is not None:
                if self.exact is not None and self.promote_semantic_hits:
                    yield from self.exact.plan_put(ns, norm, question, match.entry.payload, match.entry.intent,
                                                   match.entry.expires_at - self._clock())
                return self._finish(match.entry, "semantic", match.similarity, t0)
        return self._finish(None, "exact", 0.0, t0)

    def lookup(self, tenant: str, question: str, *, user: str | None = None, personalized: bool = False,
               embedding: Any = None, intent: str | None = None) -> CacheHit | None:
        """The cached response for ``question``, or ``None`` (a miss; also when a backend is down).

        :param tenant: the tenant; its entries are never candidates for another tenant.
        :param question: the question as asked (normalized here).
        :param user: the user, for a personalized question.
        :param personalized: look in the per-user layer only (never in a shared layer).
        :param embedding: the query's embedding if the caller already has one (see :meth:`embed`).
        :param intent: the request's true intent when known (evaluation: counts wrong hits).
        :returns: the hit, with the layer that served it, or ``None``.
        :raises InputError: empty tenant or question, a question over the length limit, or a
            personalized lookup without a user.
        """
        return run_sync(self.plan_lookup(tenant, question, user, personalized, embedding, intent))

    async def alookup(self, tenant: str, question: str, *, user: str | None = None, personalized: bool = False,
                      embedding: Any = None, intent: str | None = None) -> CacheHit | None:
        """Async form of :meth:`lookup` (Redis via ``redis.asyncio``; the embedding runs in a thread)."""
        return await run_async(self.plan_lookup(tenant, question, user, personalized, embedding, intent))

    def _finish(self, entry: CacheEntry | None, layer: Layer, similarity: float, t0: int) -> CacheHit | None:
        latency_ns = _NS() - t0
        self.requests.record(hit=entry is not None, latency_ns=latency_ns)
        if entry is None:
            return None
        return CacheHit(payload=entry.payload, layer=layer, similarity=similarity, latency_ms=latency_ns / 1e6,
                        intent=entry.intent, matched_question=entry.normalized)

    # -- store -------------------------------------------------------------------------------------
    def plan_store(self, tenant: str, question: str, payload: dict[str, Any], user: str | None = None,
                   personalized: bool = False, embedding: Any = None, intent: str | None = None) -> Plan[None]:
        """Plan of :meth:`store` (run by :meth:`store` and :meth:`astore`)."""
        if not self.enabled:
            return
        self._validate(tenant, question)
        if not isinstance(payload, dict):
            raise InputError(f"payload must be a dict (e.g. RAGAnswer.to_dict()), got {type(payload).__name__}")
        norm, ns = self.normalizer(question), self.namespace(tenant)
        if personalized:
            u = check_user(user)
            if self.user is not None:
                yield from self.user.plan_put(ns, u, ANSWER + norm, payload, question, intent, None)
            return
        if self.exact is not None:
            yield from self.exact.plan_put(ns, norm, question, payload, intent, None)
        if self.semantic is not None:
            vec = embedding if embedding is not None else self._recent.pop(norm, None)
            yield from self.semantic.plan_put(ns, norm, question, payload, intent, vec)

    def store(self, tenant: str, question: str, payload: dict[str, Any], *, user: str | None = None,
              personalized: bool = False, embedding: Any = None, intent: str | None = None) -> None:
        """Cache ``payload`` as the answer to ``question`` (a no-op for a layer that is off or a backend that is down).

        Personalized: only the per-user layer, keyed by tenant and ``user``. Otherwise the exact and
        semantic layers (the semantic layer reuses the embedding of this question's lookup).

        :raises InputError: bad tenant or question, a payload that is not a JSON object, or a
            personalized store without a user.
        """
        run_sync(self.plan_store(tenant, question, payload, user, personalized, embedding, intent))

    async def astore(self, tenant: str, question: str, payload: dict[str, Any], *, user: str | None = None,
                     personalized: bool = False, embedding: Any = None, intent: str | None = None) -> None:
        """Async form of :meth:`store`."""
        await run_async(self.plan_store(tenant, question, payload, user, personalized, embedding, intent))

    # -- per-user snapshots (tool results) -----------------------------------------------------------
    def snapshot_store(self) -> UserSnapshotStore:
        """The per-user layer as the tool executor's snapshot cache (``tools.snapshot.SnapshotCache``).

        ```python
        agent = ToolCallingAgent.from_config(cfg.tools, snapshot_cache=stack.snapshot_store())
        ```
        """
        return UserSnapshotStore(self.user if self.enabled else None)

    def get_snapshot(self, tenant: str, user: str, name: str) -> Any | None:
        """A user's cached tool result (e.g. ``"card_limit"``), or ``None``."""
        return self.snapshot_store().get(tenant, user, name)

    def put_snapshot(self, tenant: str, user: str, name: str, value: Any, *, ttl_s: float | None = None) -> None:
        """Cache a user's tool result for ``ttl_s`` (default ``cache.user_snapshot.ttl_s``)."""
        self.snapshot_store().set(tenant, user, name, value, ttl_s)

    # -- invalidation --------------------------------------------------------------------------------
    def set_kb_version(self, kb_version: str, *, purge: bool = True) -> int:
        """Switch to a re-indexed knowledge base: nothing cached under the old version is served again.

        Keys carry the version, so old entries simply stop matching; ``purge`` also deletes them
        (in Redis: ``SCAN``/``UNLINK`` on the old version's key pattern). Returns entries removed.
        """
        if not isinstance(kb_version, str) or not kb_version:
            raise InputError("kb_version must be a non-empty string")
        old = digest(self.kb_version, size=12)
        self.kb_version = kb_version
        self._namespaces.clear()
        self._recent.clear()
        removed = 0
        if self.semantic is not None:
            self.semantic.kb_filter = digest(kb_version, size=12)
            removed += self.semantic.drop_kb(old)
        if purge and old != digest(kb_version, size=12):
            for layer, name in ((self.exact, "exact"), (self.semantic, "sem"), (self.user, "user")):
                if layer is not None:
                    removed += layer.backend.delete_prefix(f"{self.prefix}:{name}:{old}:")
        return removed

    def plan_invalidate_documents(self, doc_ids: Iterable[str],
                                  tenants: Iterable[str] | None = None) -> Plan[DocumentInvalidation]:
        """Plan of :meth:`invalidate_documents`."""
        if isinstance(doc_ids, str):
            raise InputError(f"pass a list of document ids, not one string: [{doc_ids!r}]")
        docs = tuple(dict.fromkeys(doc_ids))
        if any(not isinstance(d, str) or not d for d in docs):
            raise InputError("document ids must be non-empty strings")
        tags = None if tenants is None else {self.namespace(t).tag for t in tenants}
        kb = digest(self.kb_version, size=12)
        removed: dict[str, int] = {}
        complete = True
        for layer in (self.exact, self.semantic, self.user):
            if layer is None or not docs:
                continue
            done = yield from layer.plan_invalidate(kb, docs, tags)
            removed[layer.layer] = done.removed
            complete = complete and done.complete
        return DocumentInvalidation(docs, removed, complete)

    def invalidate_documents(self, doc_ids: Iterable[str], *,
                             tenants: Iterable[str] | None = None) -> DocumentInvalidation:
        """Delete every cached answer that cited one of ``doc_ids``, in every layer, and nothing else.

        Use it after an incremental re-index (``workbench.pipelines.knowledge_base.update_knowledge_base``):
        the rest of the cache keeps serving under the same knowledge-base version. A semantic entry also leaves this
        worker's nearest-neighbour index; other workers drop theirs when they next find its payload gone.

        :param doc_ids: the changed or removed document ids (the ``id`` of an answer's ``sources``).
        :param tenants: only these tenants' namespaces (default: every namespace that cached a citing answer).
        :returns: entries removed per layer, and whether every backend answered.
        :raises InputError: an id that is not a non-empty string, or one string instead of a list.

        ```python
        stack.invalidate_documents(["cards-gold-en", "cards-gold-zh"]).total     # e.g. 5
        ```
        """
        return run_sync(self.plan_invalidate_documents(doc_ids, tenants))

    async def ainvalidate_documents(self, doc_ids: Iterable[str], *,
                                    tenants: Iterable[str] | None = None) -> DocumentInvalidation:
        """Async form of :meth:`invalidate_documents`."""
        return await run_async(self.plan_invalidate_documents(doc_ids, tenants))

    # -- hotspots ------------------------------------------------------------------------------------
    def refresher(self, answer: Callable[[str, str], dict[str, Any]]) -> HotspotRefresher:
        """A refresher that re-answers hot questions with ``answer(tenant, question)`` before their TTL ends."""
        if self.hotspot is None:
            raise InputError("hotspot detection is off: set cache.hotspot.enabled")

        def remaining(key: Any) -> float | None:
            tenant, norm = key
            if self.exact is not None:
                return self.exact.remaining_ttl(self.namespace(tenant), norm)
            return None

        def refresh(key: Any, info: HotItem) -> None:
            self.store(info.tenant, info.question, answer(info.tenant, info.question), intent=info.intent)

        if self._refresher is None:
            self._refresher = HotspotRefresher(self.hotspot, remaining_ttl=remaining, refresh=refresh,
                                               refresh_ahead_s=self.refresh_ahead_s,
                                               max_refreshes_per_s=self.max_refreshes_per_s, clock=self._clock)
        return self._refresher

    # -- stats & lifecycle -----------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Per-layer counters (hits, misses, wrong hits, evictions, bytes, latency) and the totals."""
        layers: dict[str, Any] = {}
        for layer in (self.exact, self.semantic, self.user):
            if layer is None:
                continue
            d = layer.stats.as_dict()
            d["backend"] = layer.backend.stats()
            if isinstance(layer, SemanticCache):
                d["index"] = layer.local_stats()
                d["evictions"] = layer.evictions
            else:
                d["evictions"] = d["backend"].get("evictions", 0)
            d["bytes"] = d["backend"].get("bytes")
            layers[layer.layer] = d
        total = self.requests.as_dict()
        out: dict[str, Any] = {"enabled": self.enabled, "backend": self.backend_name, "kb_version": self.kb_version,
                               "requests": total["lookups"], "hits": total["hits"], "hit_rate": total["hit_rate"],
                               "latency_ms": total["latency_ms"], "layers": layers}
        if self.hotspot is not None:
            out["hotspot"] = {"recorded": self.hotspot.recorded, "top": [
                {"tenant": k[0], "question": k[1], "count": c} for k, c in self.hotspot.top()]}
            if self._refresher is not None:
                out["hotspot"].update(self._refresher.stats())
        return out

    def _backends(self) -> list[CacheBackend]:
        seen: dict[int, CacheBackend] = {}
        for layer in (self.exact, self.semantic, self.user):
            if layer is not None:
                seen.setdefault(id(layer.backend), layer.backend)
        return list(seen.values())

    def close(self) -> None:
        """Stop the refresher, close the judge and the backends' connections."""
        if self._refresher is not None:
            self._refresher.stop()
        if self.semantic is not None and self.semantic.judge is not None:
            self.semantic.judge.close()
        for b in self._backends():
            b.close()

    async def aclose(self) -> None:
        """Async twin of :meth:`close` (also closes ``redis.asyncio`` clients)."""
        if self._refresher is not None:
            self._refresher.stop()
        if self.semantic is not None and self.semantic.judge is not None:
            self.semantic.judge.close()
        for b in self._backends():
            if isinstance(b, RedisBackend):
                await b.aclose()
            else:
                b.close()
