"""One routable variant of the engine: its config, query pipeline, embedding batcher and generators.

A lane is built once per variant (the control and each A/B variant) and shared by all requests::

    lane = Lane.build("control", cfg, kb, embed_pool)
    await lane.start()
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import httpx

from workbench.components import ExtractiveAnswerer, OpenAICompatibleGenerator
from workbench.config import PipelineConfig
from workbench.pipelines import QueryPipeline, make_generator
from workbench.pipelines.knowledge_base import KnowledgeBase
from workbench.serving.batching import MicroBatcher

__all__ = ["Lane"]


@dataclass
class Lane:
    """A variant's pipeline parts (see the module docstring)."""

    name: str
    cfg: PipelineConfig
    qp: QueryPipeline
    batcher: MicroBatcher | None
    extractive: ExtractiveAnswerer
    small: Any = None
    """The level-2 generator (``serving.degradation.small_generator``); ``None``: level 2 answers extractively."""
    simulated: bool = False
    """The main generator is the simulated LLM service (probed at start)."""
    small_simulated: bool = False
    """The level-2 generator is the simulated LLM service."""
    requests: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, name: str, cfg: PipelineConfig, kb: KnowledgeBase, embed_pool: Executor) -> Lane:
        """Construct (not yet warm) the parts of ``cfg``."""
        qp = QueryPipeline(cfg, kb)
        s = cfg.serving
        batcher = None
        if qp.query_embedder is not None:
            batcher = MicroBatcher(qp.query_embedder.embed_batch, max_batch=s.embed_batch_size,
                                   max_wait_ms=s.embed_max_wait_ms, executor=embed_pool)
        small_cfg = s.degradation.small_generator
        small = make_generator(small_cfg, max_passages=cfg.prompt.max_passages) if small_cfg is not None else None
        return cls(name=name, cfg=cfg, qp=qp, batcher=batcher,
                   extractive=ExtractiveAnswerer(max_passages=cfg.prompt.max_passages), small=small)

    async def start(self) -> None:
        """Load the models (in a thread) and probe whether a remote generator is simulated."""
        await asyncio.to_thread(self.qp.warm_up)
        if self.small is not None and hasattr(self.small, "warm_up"):
            await asyncio.to_thread(self.small.warm_up)
        gen = self.qp.generator
        if isinstance(gen, OpenAICompatibleGenerator):
            self.simulated = await _probe_simulated(gen)
        if isinstance(self.small, OpenAICompatibleGenerator):
            self.small_simulated = await _probe_simulated(self.small)

    async def aclose(self) -> None:
        """Close the remote generators' HTTP clients."""
        for gen in (self.qp.generator, self.small):
            client = getattr(gen, "_aclient", None)
            if client is not None:
                await client.aclose()
                gen._aclient = None
            sync_client = getattr(gen, "_client", None)
            if sync_client is not None:
                sync_client.close()
                gen._client = None


async def _probe_simulated(gen: OpenAICompatibleGenerator) -> bool:
    """``GET {base_url}/models``: the workbench's LLM service says whether it is simulated."""
    try:
        async with httpx.AsyncClient(timeout=5.0) as client:
            r = await client.get(f"{gen.base_url}/models")
            data = r.json().get("data") or [{}]
            return bool(data[0].get("simulated"))
    except (httpx.HTTPError, ValueError, AttributeError, IndexError):
        return False
