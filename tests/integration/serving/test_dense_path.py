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
