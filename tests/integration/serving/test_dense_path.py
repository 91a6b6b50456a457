"""The engine on the hybrid path with a real query embedder: micro-batching across concurrent requests."""

from __future__ import annotations

import asyncio
from pathlib import Path

from workbench.config import PipelineConfig
from workbench.pipelines import load_knowledge_base
from workbench.serving import AsyncEngine
from workbench.serving.schema import ChatRequest


async def test_hybrid_requests_share_embedding_batches(serving_index_dir: Path) -> None:
    cfg = PipelineConfig.load("default").model_copy(update={"index_dir": str(serving_index_dir)})
    cfg = cfg.with_overrides({"serving.embed_max_wait_ms": 20.0, "serving.max_concurrency": 32})
    kb = await asyncio.to_thread(load_knowledge_base, cfg, progress=False)
    async with AsyncEngine.from_config(cfg, kb=kb) as engine:
        questions = ["gold card annual fee?", "how to report a lost card", "金卡年费多少", "transfer limit per day"]
        resps = await asyncio.gather(*[engine.handle(ChatRequest(question=questions[i % 4], user=f"u{i}"))
                                       for i in range(16)])
        assert all(r.sources for r in resps)
        assert all("embed" in r.timings_ms and "retrieve_dense" in r.timings_ms for r in resps)
        batcher = engine.lanes["control"].batcher
        assert batcher is not None and batcher.items == 16 and batcher.batches < 16
        assert resps[0].answer == (await engine.handle(ChatRequest(question=questions[0]))).answer
        assert "workbench_embed_batch_size_count" in engine.metrics.render().decode()


async def test_the_cache_lookup_embeds_through_the_pipelines_batcher(serving_index_dir: Path) -> None:
    cfg = PipelineConfig.load("default").model_copy(update={"index_dir": str(serving_index_dir)})
    cfg = cfg.with_overrides({"cache.enabled": True})
    kb = await asyncio.to_thread(load_knowledge_base, cfg, progress=False)
    async with AsyncEngine.from_config(cfg, kb=kb) as engine:
        lane = engine.lanes["control"]
        batcher = lane.batcher
        assert batcher is not None and lane.cached_embedding is not None
        first = await engine.handle(ChatRequest(question="What is the Gold Card annual fee?"))
        assert first.cache_layer is None and first.sources
        assert batcher.items == 1 and batcher.reused == 1  # the lookup embedded; the pipeline reused it
        assert "retrieve_dense" in first.timings_ms
        await asyncio.sleep(0.2)  # the answer is stored after the response
        again = await engine.handle(ChatRequest(question="what is the gold card annual fee"))
        assert again.cache_layer == "exact" and batcher.items == 1  # an exact hit embeds nothing
        other = await engine.handle(ChatRequest(question="how do i report a lost card"))
        assert other.cache_layer is None and batcher.items == 2 and batcher.reused == 2
        assert lane.stats()["shared_embeddings"] == 2
