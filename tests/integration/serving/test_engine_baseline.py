"""The engine as a load-test target, the synchronous baseline, streaming in-process, the CLI command."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from click.testing import CliRunner

from workbench.config import PipelineConfig
from workbench.errors import OverloadedError
from workbench.loadtest import ClosedLoopRunner, StreamingTarget, Workload, WorkloadSpec
from workbench.pipelines.knowledge_base import KnowledgeBase
from workbench.serving import AsyncEngine, SyncEngine
from workbench.serving.cli import serve
from workbench.serving.schema import ChatRequest
from workbench.tools.audit import hash_arguments


async def test_engine_is_a_streaming_target_and_runs_a_closed_loop(llm_cfg: Callable[..., PipelineConfig],
                                                                   fast_kb: KnowledgeBase) -> None:
    # abstention off: an abstained question is answered without the generator, so it is not "simulated"
    async with AsyncEngine.from_config(llm_cfg({"abstention.enabled": False}), kb=fast_kb) as engine:
        assert isinstance(engine, StreamingTarget)
        events = [ev async for ev in engine.stream(ChatRequest(question="How do I report a lost card?"))]
        assert events[-1].response is not None and all(ev.token for ev in events[:-1])
        assert "".join(ev.token or "" for ev in events[:-1]).strip().startswith(events[-1].response.answer[:10])
        result = await ClosedLoopRunner(engine, Workload(WorkloadSpec(seed=1)), users=8, max_requests=40).run()
        df = result.df
        assert len(df) == 40 and (df["status"] == "ok").all()
        assert df["simulated"].all()


async def test_sync_baseline_answers_one_at_a_time(llm_cfg: Callable[..., PipelineConfig],
                                                   fast_kb: KnowledgeBase) -> None:
    async with SyncEngine.from_config(llm_cfg(), kb=fast_kb, workers=1) as base:
        resps = await asyncio.gather(*[base.handle(ChatRequest(question="What is the gold card annual fee?"))
                                       for _ in range(3)])
    assert all(r.answer and r.simulated for r in resps)
    queued = sorted(r.timings_ms["queue"] for r in resps)
    assert queued[-1] > queued[0]  # one worker: the later requests waited for the earlier ones


def test_serve_cli_help() -> None:
    out = CliRunner().invoke(serve, ["--help"])
    assert out.exit_code == 0 and "--workers" in out.output
    bad = CliRunner().invoke(serve, ["no-such-preset"])
    assert bad.exit_code != 0


async def test_engine_starts_lazily_and_refuses_after_close(fast_cfg: PipelineConfig,
                                                            fast_kb: KnowledgeBase) -> None:
    engine = AsyncEngine.from_config(fast_cfg, kb=fast_kb)
    resps = await asyncio.gather(*[engine.handle(ChatRequest(question="gold card annual fee?")) for _ in range(3)])
    assert engine.ready and all(r.answer for r in resps)
    await engine.aclose()
    with pytest.raises(OverloadedError, match="closed"):
        await engine.handle(ChatRequest(question="gold card annual fee?"))


async def test_cache_and_tools_together_serve_personal_questions(fast_cfg: PipelineConfig,
                                                                 fast_kb: KnowledgeBase) -> None:
    """Issue 13, item 1: with the cache and tools both on, tool results are cached in the cache stack's
    per-user layer (not by calling .get()/.set() on the stack itself, which failed every such request)."""
    cfg = fast_cfg.with_overrides({"cache.enabled": True, "cache.semantic.enabled": False, "tools.enabled": True,
                                   "tools.audit_log": None, "tools.policy": {"bank": ["*"]},
                                   "serving.tenants": ["bank"]})
    async with AsyncEngine.from_config(cfg, kb=fast_kb) as engine:
        ask = [ChatRequest(tenant="bank", user=user, question=q, personalized=True)
               for user, q in (("u001", "what's my credit limit?"), ("u001", "how high is my credit limit now?"),
                               ("u002", "what's my credit limit?"))]
        first, again, other = [await engine.handle(req) for req in ask]
        assert first.tool == again.tool == other.tool == "get_credit_limit"
        assert "credit limit of RMB" in first.answer and again.answer == first.answer and other.answer
        assert first.cache_layer is None and again.cache_layer is None  # a new question: the tool answered
        audit = engine.agent.executor.audit.records()  # type: ignore[union-attr]
        assert [(r.who, r.status) for r in audit] == [("u001", "ok"), ("u001", "cached"), ("u002", "ok")]
        key = f"get_credit_limit:1.0:{hash_arguments({})}"  # the snapshot lives in the stack's per-user layer
        assert engine.cache.get_snapshot("bank", "u001", key) is not None  # type: ignore[union-attr]
        assert engine.cache.get_snapshot("bank", "u003", key) is None  # type: ignore[union-attr]
        for _ in range(100):  # the answer is stored after the response: per user, never shared
            repeat = await engine.handle(ask[0])
            if repeat.cache_layer is not None:
                break
            await asyncio.sleep(0.02)
        assert repeat.cache_layer == "user" and repeat.answer == first.answer

