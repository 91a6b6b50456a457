"""One routable variant of the engine: its config and its query pipeline, embedding through a micro-batcher.

A lane is built once per variant (the control and each A/B variant) and shared by all requests; the
pipeline owns every stage and generator (main, small, extractive), the lane only adds what serving needs::

    lane = Lane.build("control", cfg, kb, embed_executor)
    await lane.start()
    async for piece in lane.qp.astream(question, plan=level.plan): ...
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from dataclasses import dataclass

from workbench.config import PipelineConfig
from workbench.pipelines import QueryPipeline
from workbench.pipelines.knowledge_base import KnowledgeBase
from workbench.serving.batching import MicroBatcher

__all__ = ["Lane"]


@dataclass
class Lane:
    """A variant's pipeline and its request count (see the module docstring)."""

    name: str
    cfg: PipelineConfig
    qp: QueryPipeline
    requests: int = 0

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

    def stats(self) -> dict[str, float]:
        """Requests routed here and the embedding batches they shared."""
        b = self.batcher
        return {"requests": self.requests, "embed_batches": b.batches if b else 0,
                "mean_embed_batch": b.mean_batch if b else 0.0}

    async def start(self) -> None:
        """Load every model of the pipeline, degraded-service generators included (in a thread)."""
        await asyncio.to_thread(self.qp.warm_up)

    async def aclose(self) -> None:
        """Stop the batcher and the pipeline's worker threads, close remote generators' clients."""
        if self.batcher is not None:
            self.batcher.close()
        await self.qp.aclose()
