"""In-process targets built around a blocking answer function (today: a config's ``QueryPipeline.run``).

* :class:`ThreadedTarget`: async service, the blocking work runs in a thread pool (``asyncio.to_thread``
  style), so the event loop keeps accepting requests: the "async" side of *sync vs async*.
* :class:`BlockingTarget`: calls the blocking function on the event loop itself, one request at a
  time: a synchronous server in an async costume, the "sync" side.
* :func:`make_inprocess_target`: the target the CLI builds from a config: the query pipeline (with the
  config's cache stack in front when ``cache.enabled``), in a thread. The async engine will replace it.

```python
target = make_inprocess_target(PipelineConfig.load("fast"))
resp = await target.handle(ChatRequest(question="what's the gold card annual fee?"))
```
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import Any

from workbench.config import PipelineConfig
from workbench.errors import ConfigError
from workbench.serving.schema import ChatRequest, ChatResponse, SourceOut

__all__ = ["BlockingTarget", "ThreadedTarget", "make_inprocess_target", "pipeline_answer_fn", "run_with_engine"]

AnswerFn = Callable[[ChatRequest], ChatResponse]


class ThreadedTarget:
    """Runs a blocking ``fn(request) -> ChatResponse`` in a pool of ``workers`` threads."""

    def __init__(self, fn: AnswerFn, *, workers: int = 4, name: str = "threaded") -> None:
        if workers < 1:
            raise ConfigError("workers must be >= 1", field="workers")
        self.fn, self.workers, self.name = fn, workers, name
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="wb-target")

    def __repr__(self) -> str:
        return f"ThreadedTarget({self.name}, workers={self.workers})"

    async def handle(self, request: ChatRequest) -> ChatResponse:
        """``fn(request)`` in the pool."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.fn, request)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class BlockingTarget:
    """Calls a blocking ``fn(request)`` on the event loop: nothing else runs meanwhile (a sync server)."""

    def __init__(self, fn: AnswerFn, *, name: str = "blocking") -> None:
        self.fn, self.name = fn, name

    def __repr__(self) -> str:
        return f"BlockingTarget({self.name})"

    async def handle(self, request: ChatRequest) -> ChatResponse:
        """``fn(request)``, blocking the loop."""
        return self.fn(request)


def pipeline_answer_fn(cfg: PipelineConfig, *, pipeline: Any = None, cache: Any = None) -> AnswerFn:
    """A blocking answer function: ``cfg``'s query pipeline, behind ``cfg``'s cache stack when enabled.

    The knowledge base is single-tenant today: retrieval uses the config's tenant; cache entries are
    kept per request tenant (and per user for personalized requests).
    """
    from workbench.pipelines import build_query_pipeline

    qp = pipeline or build_query_pipeline(cfg, progress=False)
    stack = cache
    if stack is None and cfg.cache.enabled:
        from workbench.cache.stack import CacheStack

        stack = CacheStack.from_config(cfg, kb_version=qp.kb.version)

    def answer(req: ChatRequest) -> ChatResponse:
        personal = bool(req.personalized) and req.user is not None
        if stack is not None:
            hit = stack.lookup(req.tenant, req.question, user=req.user, personalized=personal)
            if hit is not None:
                return ChatResponse.model_validate({**hit.payload, "cache_layer": hit.layer})
        r = qp.run(req.question)
        resp = ChatResponse(answer=r.answer, tokens=r.tokens, timings_ms=r.timings_ms, language=r.language,
                            sources=[SourceOut(id=s.id, title=s.title, text=s.text, score=s.score) for s in r.sources])
        if stack is not None:
            stack.store(req.tenant, req.question, resp.model_dump(mode="json", exclude={"cache_layer"}),
                        user=req.user, personalized=personal)
        return resp

    return answer


def make_inprocess_target(cfg: PipelineConfig, *, workers: int = 2, blocking: bool = False) -> Any:
    """The in-process target of ``cfg`` (a :class:`ThreadedTarget`, or a :class:`BlockingTarget` when ``blocking``)."""
    fn = pipeline_answer_fn(cfg)
    name = f"{cfg.name}{'+cache' if cfg.cache.enabled else ''}"
    return BlockingTarget(fn, name=name) if blocking else ThreadedTarget(fn, workers=workers, name=name)


def run_with_engine(cfg: PipelineConfig, build_runner: Callable[[Any], Any]) -> Any:
    """Load-test the async serving engine of ``cfg``: the engine is created, started, driven by
    ``build_runner(engine)`` (a runner with an async ``run()``) and closed, all inside one event loop
    (the engine's queue and micro-batcher belong to the loop they start on). Not for a running loop
    (a notebook): there, create ``AsyncEngine.from_config(cfg)`` and ``await runner.run()`` directly.

    ```python
    result = run_with_engine(cfg, lambda engine: OpenLoopRunner(engine, Workload(), LoadProfile.steady(20, 10)))
    ```
    """
    import asyncio

    from workbench.serving.engine import AsyncEngine

    async def go() -> Any:
        engine = AsyncEngine.from_config(cfg)
        await engine.start()
        try:
            return await build_runner(engine).run()
        finally:
            await engine.aclose()

    return asyncio.run(go())
