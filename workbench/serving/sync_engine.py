"""The synchronous baseline: the same query pipeline, one request at a time per worker thread.

This is how a plain blocking web worker serves RAG (each worker runs ``QueryPipeline.run`` start to
finish); :mod:`bench.bench_serving` compares it with :class:`~workbench.serving.engine.AsyncEngine`::

    async with SyncEngine.from_config(cfg, workers=2) as baseline:
        resp = await baseline.handle(ChatRequest(question="gold card annual fee?"))
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from workbench.config import PipelineConfig
from workbench.errors import UnknownTenantError
from workbench.pipelines import QueryPipeline, load_knowledge_base
from workbench.pipelines.knowledge_base import KnowledgeBase
from workbench.serving.responses import response_from
from workbench.serving.schema import ChatRequest, ChatResponse

__all__ = ["SyncEngine"]


class SyncEngine:
    """``workers`` threads, each running one blocking ``QueryPipeline.run`` at a time (no cache, no batching)."""

    def __init__(self, cfg: PipelineConfig, qp: QueryPipeline, *, workers: int = 1) -> None:
        self.cfg, self.qp, self.workers = cfg, qp, workers
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="sync-worker")

    @classmethod
    def from_config(cls, cfg: PipelineConfig, *, kb: KnowledgeBase | None = None, workers: int = 1) -> SyncEngine:
        """The baseline of ``cfg`` (``workers``: requests served at once)."""
        return cls(cfg, QueryPipeline(cfg, kb or load_knowledge_base(cfg, progress=False)), workers=workers)

    def __repr__(self) -> str:
        return f"SyncEngine({self.cfg.name!r}, workers={self.workers})"

    async def start(self) -> SyncEngine:
        """Load the models (of full service: the baseline never degrades)."""
        await asyncio.to_thread(self.qp.warm_up, fallbacks=False)
        return self

    async def aclose(self) -> None:
        """Stop the worker threads and close the pipeline's clients."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        await self.qp.aclose()

    async def __aenter__(self) -> SyncEngine:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def answer(self, req: ChatRequest) -> ChatResponse:
        """Blocking: answer one request in the calling thread."""
        t0 = time.perf_counter_ns()
        if req.tenant not in self.cfg.serving.tenants:
            raise UnknownTenantError(f"unknown tenant {req.tenant!r} (serving.tenants)")
        out = self.qp.run(req.question, tenant=req.tenant)
        timings = {**out.timings_ms, "total": round((time.perf_counter_ns() - t0) / 1e6, 3)}
        return response_from(out, variant="sync", timings_ms=timings, session=req.session)

    async def handle(self, req: ChatRequest) -> ChatResponse:
        """Queue the request for the next free worker thread and wait for its answer."""
        t0 = time.perf_counter_ns()
        resp = await asyncio.get_running_loop().run_in_executor(self._pool, self.answer, req)
        resp.timings_ms["queue"] = round(max(0.0, (time.perf_counter_ns() - t0) / 1e6 - resp.timings_ms["total"]), 3)
        resp.timings_ms["total"] = round((time.perf_counter_ns() - t0) / 1e6, 3)
        return resp
