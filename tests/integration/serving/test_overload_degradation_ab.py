"""Load behaviour on real uvicorn: shedding under overload, degradation and recovery, A/B shares and stickiness."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import httpx
import pytest

from workbench.config import PipelineConfig
from workbench.errors import OverloadedError
from workbench.pipelines.knowledge_base import KnowledgeBase
from workbench.serving import AsyncEngine, create_app
from workbench.serving.schema import ChatRequest, ChatResponse
from workbench.testing import UvicornServer

QUESTIONS = ["What is the gold card annual fee?", "How do I report a lost card?", "How long does a transfer take?",
             "How do I reset my password?"]


async def test_overload_sheds_with_429_no_hang_no_500(llm_cfg: Callable[..., PipelineConfig],
                                                      fast_kb: KnowledgeBase) -> None:
    cfg = llm_cfg({"serving.max_concurrency": 2, "serving.max_queue": 3, "serving.max_wait_ms": 300,
                   "serving.degradation.enabled": False})
    with UvicornServer(create_app(lambda: AsyncEngine.from_config(cfg, kb=fast_kb))) as srv:
        async with httpx.AsyncClient(base_url=srv.url, timeout=10) as client:
            async def one(i: int) -> httpx.Response:
                return await client.post("/v1/chat", json={"question": QUESTIONS[i % 4], "user": f"u{i}"})

            responses = await asyncio.wait_for(asyncio.gather(*[one(i) for i in range(30)]), 20)
            statuses = Counter(r.status_code for r in responses)
            assert set(statuses) <= {200, 429}, statuses
            assert statuses[429] >= 10 and statuses[200] >= 2
            shed = [r for r in responses if r.status_code == 429]
            assert all(int(r.headers["retry-after"]) >= 1 for r in shed)
            assert all(r.json()["error"]["type"] == "overloaded" for r in shed)
            # the server is healthy afterwards and counted the shedding
            ok = await client.post("/v1/chat", json={"question": QUESTIONS[0]})
            assert ok.status_code == 200
            metrics = (await client.get("/metrics")).text
            assert 'workbench_shed_total{reason="admission"}' in metrics


@pytest.mark.parametrize("overflow", [True, False])
async def test_overflow_answers_extractively_what_admission_would_shed(llm_cfg: Callable[..., PipelineConfig],
                                                                      fast_kb: KnowledgeBase, overflow: bool) -> None:
    """degradation.overflow: a request the pipeline's one slot cannot take in time gets an extractive answer
    (level 3, no LLM call) from slots of its own instead of a 429; without it the same burst is shed."""
    cfg = llm_cfg({"serving.max_concurrency": 1, "serving.max_queue": 1, "serving.max_wait_ms": 50,
                   "serving.degradation.overflow": overflow, "serving.degradation.cooldown_s": 60})
    async with AsyncEngine.from_config(cfg, kb=fast_kb) as engine:
        assert (engine.overflow is not None) is overflow

        async def one(i: int) -> ChatResponse | OverloadedError:
            try:
                return await engine.handle(ChatRequest(question=QUESTIONS[i % 4], user=f"u{i}"))
            except OverloadedError as exc:
                return exc

        out = await asyncio.wait_for(asyncio.gather(*[one(i) for i in range(12)]), 20)
    answered = [r for r in out if isinstance(r, ChatResponse)]
    shed = [r for r in out if isinstance(r, OverloadedError)]
    full = [r for r in answered if r.degradation_level == 0]
    assert full and all(r.simulated for r in full if not r.abstained)
    if overflow:
        assert not shed and len(answered) == 12
        extractive = [r for r in answered if r.degradation_level == 3]
        assert len(extractive) >= 6 and engine.counts["overflow"] == len(extractive)
        assert all(r.degradation == "extractive" and not r.simulated and r.answer for r in extractive)
        assert 'workbench_shed_total{reason="overflow"}' not in engine.metrics.render().decode()
    else:
        assert len(shed) >= 6 and engine.counts["overflow"] == 0


async def test_degradation_level_rises_under_load_and_recovers(llm_cfg: Callable[..., PipelineConfig],
                                                               fast_kb: KnowledgeBase) -> None:
    cfg = llm_cfg({"serving.max_concurrency": 2, "serving.max_queue": 64, "serving.max_wait_ms": 5000,
                   "serving.degradation.slo_p95_ms": 150, "serving.degradation.queue_high": 0.2,
                   "serving.degradation.queue_low": 0.05, "serving.degradation.window_s": 0.5,
                   "serving.degradation.cooldown_s": 0.2, "serving.degradation.max_level": 3})
    async with AsyncEngine.from_config(cfg, kb=fast_kb) as engine:
        seen: list[int] = []
        simulated_at: dict[int, set[bool]] = {}

        async def one(i: int) -> None:
            try:
                resp = await engine.handle(ChatRequest(question=QUESTIONS[i % 4], user=f"u{i}"))
                seen.append(resp.degradation_level)
                simulated_at.setdefault(resp.degradation_level, set()).add(resp.simulated)
                assert resp.degradation in ("full", "no_reranker", "small_generator", "extractive")
            except OverloadedError:
                pass

        await asyncio.wait_for(asyncio.gather(*[one(i) for i in range(60)]), 30)
        peak = max(lvl for _, lvl in engine.policy.changes)
        assert peak >= 1 and max(seen) >= 1
        assert simulated_at.get(0, {True}) == {True}
        assert simulated_at.get(3, {False}) == {False}  # level 3 answers extractively, without the LLM
        for _ in range(100):  # bounded: the ticker brings the level back down when load stops
            if engine.policy.level == 0:
                break
            await asyncio.sleep(0.1)
        assert engine.policy.level == 0
        resp = await engine.handle(ChatRequest(question=QUESTIONS[0]))
        assert resp.degradation_level == 0 and resp.simulated is True
        assert "workbench_degradation_level 0.0" in engine.metrics.render().decode()


async def test_cache_only_level_sheds_misses_but_serves_hits(fast_cfg: PipelineConfig,
                                                             fast_kb: KnowledgeBase) -> None:
    cfg = fast_cfg.with_overrides({"cache.enabled": True, "cache.semantic.enabled": False,
                                   "serving.degradation.cooldown_s": 60})
    async with AsyncEngine.from_config(cfg, kb=fast_kb) as engine:
        first = await engine.handle(ChatRequest(question=QUESTIONS[0]))
        await asyncio.sleep(0.05)  # the store runs after the response
        engine.policy.force(4)
        hit = await engine.handle(ChatRequest(question=QUESTIONS[0]))
        assert hit.cache_layer == "exact" and hit.answer == first.answer and hit.degradation_level == 4
        with pytest.raises(OverloadedError, match="cache-only"):
            await engine.handle(ChatRequest(question=QUESTIONS[1]))


async def test_ab_shares_stickiness_promote_rollback(fast_cfg: PipelineConfig, fast_kb: KnowledgeBase) -> None:
    cfg = fast_cfg.with_overrides({"serving.variants": [{"name": "canary", "config": "fast", "share": 0.2}]})
    async with AsyncEngine.from_config(cfg, kb=fast_kb) as engine:
        users = [f"user{i}" for i in range(400)]
        first = {u: (await engine.handle(ChatRequest(question=QUESTIONS[0], user=u))).variant for u in users}
        share = sum(v == "canary" for v in first.values()) / len(users)
        assert 0.13 < share < 0.27
        again = {u: (await engine.handle(ChatRequest(question=QUESTIONS[1], user=u))).variant for u in users[:100]}
        assert all(again[u] == first[u] for u in again)  # sticky per user
        forced = await engine.handle(ChatRequest(question=QUESTIONS[0], user=users[0], variant="canary"))
        assert forced.variant == "canary"
        engine.promote("canary")
        assert {(await engine.handle(ChatRequest(question=QUESTIONS[2], user=u))).variant for u in users[:50]} \
            == {"canary"}
        engine.rollback()
        assert {(await engine.handle(ChatRequest(question=QUESTIONS[2], user=u))).variant for u in users[:50]} \
            == {"control"}
        stats = engine.stats()
        assert stats["variants"]["canary"]["requests"] > 0
        text = engine.metrics.render().decode()
        assert 'variant="canary"' in text and 'variant="control"' in text


class _CountingReranker:
    def __init__(self) -> None:
        self.calls = 0

    def run(self, query: str, documents: list, top_k: int) -> dict:
        self.calls += 1
        return {"documents": documents[:top_k]}


async def test_levels_take_effect_per_request(llm_cfg: Callable[..., PipelineConfig], sim_llm: UvicornServer,
                                              fast_kb: KnowledgeBase) -> None:
    cfg = llm_cfg({"serving.degradation.cooldown_s": 60, "serving.degradation.small_generator": {
        "kind": "openai", "base_url": f"{sim_llm.url}/v1", "max_tokens": 2, "retries": 0}})
    async with AsyncEngine.from_config(cfg, kb=fast_kb) as engine:
        rr = _CountingReranker()
        engine.lanes["control"].qp.reranker = rr  # type: ignore[assignment]
        req = ChatRequest(question="How do I report a lost card?")
        full = await engine.handle(req)
        assert "rerank" in full.timings_ms and rr.calls == 1 and full.simulated
        engine.policy.force(1)
        r1 = await engine.handle(req)
        assert r1.degradation == "no_reranker" and "rerank" not in r1.timings_ms and rr.calls == 1
        engine.policy.force(2)
        r2 = await engine.handle(req)
        assert r2.degradation == "small_generator" and r2.simulated and r2.tokens <= 2 < full.tokens
        engine.policy.force(3)
        r3 = await engine.handle(req)
        assert r3.degradation == "extractive" and not r3.simulated and r3.answer


async def test_variants_never_share_cache_entries(fast_cfg: PipelineConfig, fast_kb: KnowledgeBase) -> None:
    cfg = fast_cfg.with_overrides({"serving.variants": [{"name": "canary", "config": "fast", "share": 0.5}],
                                   "cache.enabled": True, "cache.semantic.enabled": False})

    async def ask(engine: AsyncEngine, variant: str) -> ChatResponse:
        for _ in range(100):  # stores run after the response: wait (bounded) until the entry is there
            resp = await engine.handle(ChatRequest(question=QUESTIONS[3], user="u7", variant=variant))
            if resp.cache_layer is not None:
                return resp
            await asyncio.sleep(0.02)
        return resp

    async with AsyncEngine.from_config(cfg, kb=fast_kb) as engine:
        first = await engine.handle(ChatRequest(question=QUESTIONS[3], user="u7", variant="control"))
        assert first.cache_layer is None and first.variant == "control"
        assert (await ask(engine, "control")).cache_layer == "exact"
        canary = await engine.handle(ChatRequest(question=QUESTIONS[3], user="u7", variant="canary"))
        assert canary.variant == "canary" and canary.cache_layer is None, "a canary must not get the control's entry"
        assert (await ask(engine, "canary")).cache_layer == "exact"
        assert engine.cache_for("canary") is not engine.cache_for("control")
