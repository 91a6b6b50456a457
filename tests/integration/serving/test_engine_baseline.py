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


async def test_engine_is_a_streaming_target_and_runs_a_closed_loop(llm_cfg: Callable[..., PipelineConfig],
                                                                   fast_kb: KnowledgeBase) -> None:
    async with AsyncEngine.from_config(llm_cfg(), kb=fast_kb) as engine:
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
