"""One routable variant of the engine: its config and its query pipeline, embedding through a micro-batcher.

A lane is built once per variant (the control and each A/B variant) and shared by all requests; the
pipeline owns every stage and generator (main, small, extractive), the lane only adds what serving needs::

    lane = Lane.build("control", cfg, kb, embed_executor)
    await lane.start()
    async for piece in lane.qp.astream(question, plan=level.plan): ...
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from workbench.config import PipelineConfig
from workbench.models import load_embedding_model
from workbench.pipelines import QueryPipeline
from workbench.pipelines.knowledge_base import KnowledgeBase
from workbench.serving.admission import AdmissionQueue
from workbench.serving.batching import MicroBatcher

__all__ = ["Lane"]


@dataclass
class Lane:
    """A variant's pipeline and its request count (see the module docstring)."""

    name: str
    cfg: PipelineConfig
    qp: QueryPipeline
    requests: int = 0
    cached_embedding: Callable[[str], np.ndarray | None] | None = None
    """The embedding the lane's cache lookup computed for a question, when the cache's semantic layer embeds with
    this pipeline's model through its micro-batcher (:meth:`share_embedding`); a miss hands it to the pipeline
    (:meth:`hand_on_embedding`)."""
    shared_embeddings: int = 0
    """Requests whose pipeline reused the cache lookup's embedding."""

    @classmethod
    def build(cls, name: str, cfg: PipelineConfig, kb: KnowledgeBase, embed_executor: Executor) -> Lane:
        """Construct (not yet warm) the pipeline of ``cfg``; query embeddings are micro-batched on ``embed_executor``."""
        qp = QueryPipeline(cfg, kb)
        if qp.query_embedder is not None:
            s = cfg.serving
            qp.batcher = MicroBatcher(qp.query_embedder.embed_batch, max_batch=s.embed_batch_size,
                                      max_wait_ms=s.embed_max_wait_ms, executor=embed_executor)
        return cls(name=name, cfg=cfg, qp=qp)

    @property
    def batcher(self) -> MicroBatcher | None:
        """The micro-batcher of the pipeline's query embeddings (``None`` without dense retrieval)."""
        return self.qp.batcher if isinstance(self.qp.batcher, MicroBatcher) else None

    def share_embedding(self, cache: object, lookups: AdmissionQueue | None = None) -> bool:
        """Make ``cache``'s semantic lookups embed through this lane's micro-batcher, and its misses hand their
        embedding to the pipeline, when its semantic layer runs the very model of the pipeline's query embedder
        (one embedding per request). Returns whether it does.

        :param lookups: the admission line in front of those lookups' embeddings
            (:meth:`AdmissionQueue.for_lookups`): a lookup that cannot get a slot in time is shed before it
            embeds, so the embedding thread's queue stays bounded under overload.
        """
        from workbench.cache import CacheStack

        qe, b = self.qp.query_embedder, self.batcher
        if not isinstance(cache, CacheStack) or cache.semantic is None or qe is None or b is None:
            return False
        if cache.semantic.embedder is not load_embedding_model(qe.model, threads=qe.threads):
            return False
        cache.share_embedding(b.embed if lookups is None else lookups.gate(b.embed))
        self.cached_embedding = cache.query_embedding
        return True

    def hand_on_embedding(self, question: str) -> bool:
        """Prime the micro-batcher with the embedding the cache lookup computed for ``question`` (same model), so
        the pipeline's embed stage reuses it; returns whether there was one."""
        vec = self.cached_embedding(question) if self.cached_embedding is not None else None
        if vec is None or self.batcher is None:
            return False
        self.batcher.prime(question, vec)
        self.shared_embeddings += 1
        return True

    def stats(self) -> dict[str, float]:
        """Requests routed here, the embedding batches they shared, and the requests whose pipeline reused the
        cache lookup's embedding."""
        b = self.batcher
        return {"requests": self.requests, "embed_batches": b.batches if b else 0,
                "mean_embed_batch": b.mean_batch if b else 0.0, "shared_embeddings": self.shared_embeddings,
                "embeddings_reused": b.reused if b else 0}

    async def start(self) -> None:
        """Load every model of the pipeline, degraded-service generators included (in a thread)."""
        await asyncio.to_thread(self.qp.warm_up)

    async def aclose(self) -> None:
        """Stop the batcher and the pipeline's worker threads, close remote generators' clients."""
        if self.batcher is not None:
            self.batcher.close()
        await self.qp.aclose()
