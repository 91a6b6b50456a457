"""The in-process target is the serving engine itself, usable from any event loop and from blocking code."""

from __future__ import annotations

import asyncio

import pytest

from workbench.config import PipelineConfig
from workbench.errors import ConfigError
from workbench.loadtest import ClosedLoopRunner, Workload, WorkloadSpec
from workbench.loadtest.inprocess import EngineThread, ThreadedTarget, make_inprocess_target, pipeline_answer_fn
from workbench.serving.schema import ChatRequest

Q = ChatRequest(question="how much is the gold card annual fee", user="u1")


@pytest.fixture(scope="module")
def cfg(default_config: PipelineConfig) -> PipelineConfig:
    """``fast`` with the exact cache on, indexing into the session's folder."""
    return PipelineConfig.load("fast").model_copy(update={"index_dir": default_config.index_dir}).with_overrides(
        {"cache.enabled": True, "cache.semantic.enabled": False})


def test_engine_thread_serves_many_loops_and_blocking_callers(cfg: PipelineConfig) -> None:
    target = make_inprocess_target(cfg)
    try:
        assert isinstance(target, EngineThread)
        first = asyncio.run(target.handle(Q))  # one loop ...
        assert "600" in first.answer and first.cache_layer is None and first.variant == "control"

        async def streamed() -> list:  # type: ignore[type-arg]
            return [ev async for ev in target.stream(Q.model_copy(update={"stream": True}))]

        events = asyncio.run(streamed())  # ... another loop: the engine stays on its own
        assert events[-1].response is not None and events[-1].response.answer == first.answer
        assert [ev.token for ev in events[:-1]] == [first.answer]
        cached = None
        for _ in range(100):  # the store runs after the response; bounded wait
            cached = target.answer(Q)  # blocking code
            if cached.cache_layer is not None:
                break
        assert cached is not None and cached.cache_layer == "exact" and cached.answer == first.answer
        result = ClosedLoopRunner(target, Workload(WorkloadSpec(seed=3, personalized_share=0.0, session_share=0.0)),
                                  users=4, max_requests=20).run_sync()
        assert len(result.df) == 20 and (result.df["status"] == "ok").all()
        assert target.stats()["requests"] >= 23
    finally:
        target.close()
    target.close()  # twice is fine
    with pytest.raises(ConfigError, match="closed"):
        target.answer(Q)


def test_threaded_target_closes_the_engine_it_serves(cfg: PipelineConfig) -> None:
    fn = pipeline_answer_fn(cfg)
    target = ThreadedTarget(fn, workers=2, name="engine in threads")
    try:
        async def four() -> list:  # type: ignore[type-arg]
            return await asyncio.gather(*[target.handle(Q) for _ in range(4)])

        resps = asyncio.run(four())
        answers = {r.answer for r in resps}
        assert len(answers) == 1 and "600" in answers.pop()
    finally:
        target.close()
    assert isinstance(fn, EngineThread)
    with pytest.raises(ConfigError, match="closed"):
        fn(Q)
