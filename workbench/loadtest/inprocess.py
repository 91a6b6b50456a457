"""In-process targets: the config's serving engine itself, and wrappers for sync-vs-async comparisons.

* :class:`EngineThread`: the config's :class:`~workbench.serving.AsyncEngine` on its own event loop in a
  background thread. ``handle`` / ``stream`` work from any event loop (a notebook's, a runner's
  ``asyncio.run``, a widget's), ``answer`` from plain blocking code; the engine's queue, batcher and
  clients stay on their one loop. :func:`make_inprocess_target` returns one.
* :func:`run_with_engine`: the engine driven by a runner inside one ``asyncio.run`` (no extra thread).
* :class:`ThreadedTarget` / :class:`BlockingTarget`: a blocking ``fn(request) -> ChatResponse`` served
  asynchronously (in a thread pool) or synchronously (on the event loop): the two sides of *sync vs
  async*. ``fn`` is an engine's blocking ``answer`` (:func:`pipeline_answer_fn`) or the synchronous
  baseline's (:class:`~workbench.serving.SyncEngine`), never another copy of the request path.

```python
target = make_inprocess_target(PipelineConfig.load("fast"))
resp = await target.handle(ChatRequest(question="what's the gold card annual fee?"))
target.close()
```
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from workbench.config import PipelineConfig
from workbench.errors import ConfigError
from workbench.serving.schema import ChatRequest, ChatResponse, StreamEvent

if TYPE_CHECKING:
    from workbench.pipelines import QueryPipeline
    from workbench.serving.engine import AsyncEngine
    from workbench.serving.protocols import AnswerCache

__all__ = ["BlockingTarget", "EngineThread", "ThreadedTarget", "make_inprocess_target", "pipeline_answer_fn",
           "run_with_engine"]

AnswerFn = Callable[[ChatRequest], ChatResponse]
T = TypeVar("T")
_END = object()


class EngineThread:
    """An :class:`~workbench.serving.AsyncEngine` started on its own event loop in a daemon thread.

    ```python
    service = EngineThread(AsyncEngine.from_config(cfg))
    resp = await service.handle(req)          # from any loop
    resp = service.answer(req)                # from blocking code
    service.close()
    ```
    """

    def __init__(self, engine: AsyncEngine, *, name: str | None = None) -> None:
        self.engine = engine
        self.name = name or engine.cfg.name
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"wb-engine-{self.name}", daemon=True)
        self._thread.start()
        try:
            self._submit(engine.start()).result()
        except BaseException:
            self.close()  # a model that fails to load leaves no loop or thread behind
            raise

    def __repr__(self) -> str:
        return f"EngineThread({self.name!r})"

    def _submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        if self._loop.is_closed():
            coro.close()
            raise ConfigError(f"{self!r} is closed", field="target")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def handle(self, request: ChatRequest) -> ChatResponse:
        """The engine's answer (raises what the engine raises: ``OverloadedError`` when it sheds, ...)."""
        return await asyncio.wrap_future(self._submit(self.engine.handle(request)))

    def answer(self, request: ChatRequest) -> ChatResponse:
        """Blocking :meth:`handle` (not from the engine's own thread)."""
        return self._submit(self.engine.handle(request)).result()

    __call__ = answer  # an EngineThread is itself a blocking answer function (see pipeline_answer_fn)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """The engine's token events, then the response event, delivered on the caller's loop."""
        caller = asyncio.get_running_loop()
        events: asyncio.Queue[Any] = asyncio.Queue()

        async def pump() -> None:
            try:
                async for event in self.engine.stream(request):
                    caller.call_soon_threadsafe(events.put_nowait, event)
            finally:
                caller.call_soon_threadsafe(events.put_nowait, _END)

        done = self._submit(pump())
        try:
            while (item := await events.get()) is not _END:
                yield item
            await asyncio.wrap_future(done)  # raises what the engine raised
        finally:
            done.cancel()

    def stats(self) -> dict[str, Any]:
        """The engine's :meth:`~workbench.serving.AsyncEngine.stats`."""
        return self.engine.stats()

    def close(self) -> None:
        """Close the engine, stop its loop and thread (safe to call twice)."""
        if self._loop.is_closed():
            return
        self._submit(self.engine.aclose()).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


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
        """Stop the threads, and close ``fn`` when it owns resources (an :class:`EngineThread`)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        _close(self.fn)


class BlockingTarget:
    """Calls a blocking ``fn(request)`` on the event loop: nothing else runs meanwhile (a sync server)."""

    def __init__(self, fn: AnswerFn, *, name: str = "blocking") -> None:
        self.fn, self.name = fn, name

    def __repr__(self) -> str:
        return f"BlockingTarget({self.name})"

    async def handle(self, request: ChatRequest) -> ChatResponse:
        """``fn(request)``, blocking the loop."""
        return self.fn(request)

    def close(self) -> None:
        """Close ``fn`` when it owns resources (an :class:`EngineThread`)."""
        _close(self.fn)


def _close(fn: AnswerFn) -> None:
    if isinstance(fn, EngineThread):
        fn.close()


def _engine(cfg: PipelineConfig, *, pipeline: QueryPipeline | None = None,
            cache: AnswerCache | None = None) -> AsyncEngine:
    from workbench.serving.engine import AsyncEngine

    return AsyncEngine.from_config(cfg, kb=pipeline.kb if pipeline is not None else None, cache=cache)


def make_inprocess_target(cfg: PipelineConfig, *, pipeline: QueryPipeline | None = None) -> EngineThread:
    """The in-process target of ``cfg``: its serving engine (cache, admission, batching, degradation as
    configured) on its own loop (``pipeline``: reuse that pipeline's knowledge base). ``close()`` it."""
    return EngineThread(_engine(cfg, pipeline=pipeline), name=f"{cfg.name}{'+cache' if cfg.cache.enabled else ''}")


def pipeline_answer_fn(cfg: PipelineConfig, *, pipeline: QueryPipeline | None = None,
                       cache: AnswerCache | None = None) -> AnswerFn:
    """A blocking answer function for :class:`ThreadedTarget` / :class:`BlockingTarget`: ``cfg``'s serving
    engine (behind ``cfg``'s cache when enabled, or ``cache``) as an :class:`EngineThread`, which closing
    the target closes. ``pipeline``: reuse that pipeline's knowledge base.
    """
    return EngineThread(_engine(cfg, pipeline=pipeline, cache=cache))


def run_with_engine(cfg: PipelineConfig, build_runner: Callable[[Any], Any]) -> Any:
    """Load-test the async serving engine of ``cfg``: the engine is created, started, driven by
    ``build_runner(engine)`` (a runner with an async ``run()``) and closed, all inside one event loop
    (the engine's queue and micro-batcher belong to the loop they start on). Not for a running loop
    (a notebook): there, use :func:`make_inprocess_target`, or ``await runner.run()`` on an engine you
    started on the notebook's loop.

    ```python
    result = run_with_engine(cfg, lambda engine: OpenLoopRunner(engine, Workload(), LoadProfile.steady(20, 10)))
    ```
    """
    async def go() -> Any:
        async with _engine(cfg) as engine:
            return await build_runner(engine).run()

    return asyncio.run(go())
