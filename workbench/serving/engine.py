"""The asyncio serving engine: the request path of DESIGN.md without ever blocking the event loop.

normalize → cache (before admission: hits never take a slot) → route (A/B, sticky) → degradation level →
admission (bounded queue, max wait, shed with ``OverloadedError``) → memory → tools → embed (micro-batched)
→ retrieve (inline: sub-millisecond) → rerank (thread) → prompt → generate (native async for an
OpenAI-compatible service, a bounded thread pool for in-process models) → store (cache, memory) → metrics::

    async with AsyncEngine.from_config(PipelineConfig.load("fast")) as engine:
        resp = await engine.handle(ChatRequest(question="gold card annual fee?"))
        async for ev in engine.stream(ChatRequest(question="lost my card", stream=True)):
            print(ev.token or ev.response.timings_ms)
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from haystack import Document

from workbench.components import OpenAICompatibleGenerator
from workbench.components.generators.reply import clean_reply
from workbench.config import PipelineConfig
from workbench.errors import (
    GeneratorError,
    GeneratorTimeoutError,
    OverloadedError,
    UnknownTenantError,
    WorkbenchError,
)
from workbench.observability.metrics import EngineMetrics
from workbench.pipelines import load_knowledge_base, validate_question
from workbench.pipelines.knowledge_base import KnowledgeBase
from workbench.serving.admission import AdmissionQueue
from workbench.serving.degradation import LEVEL_NAMES, DegradationPolicy
from workbench.serving.lane import Lane
from workbench.serving.routing import VariantRouter
from workbench.serving.schema import ChatRequest, ChatResponse, SourceOut, StreamEvent
from workbench.text import detect_language

__all__ = ["AsyncEngine"]

log = logging.getLogger(__name__)
_NS = time.perf_counter_ns
_DONE = object()


def _ms(t0: int) -> float:
    return round((_NS() - t0) / 1e6, 3)


class AsyncEngine:
    """Serves :class:`ChatRequest`s concurrently (see the module docstring); a load-test ``Target``.

    Build with :meth:`from_config`; ``await start()`` (or ``async with``) warms the models (the first
    request starts the engine otherwise); ``await aclose()`` releases threads and clients.
    """

    def __init__(self, cfg: PipelineConfig, lanes: dict[str, Lane], *, cache: Any = None, memory: Any = None,
                 agent: Any = None, owns: tuple[str, ...] = ()) -> None:
        self.cfg = cfg
        s = cfg.serving
        self.lanes = lanes
        self.control = next(iter(lanes))
        self.router = VariantRouter(self.control, {v.name: v.share for v in s.variants})
        self.cache, self.memory, self.agent = cache, memory, agent
        self.variant_caches: dict[str, Any] = {}
        """Per-variant cache stacks (keyed by the variant's own config hash): a canary user is never
        served the control's cached answer, nor the control a canary's."""
        self._owns = owns
        self.admission = AdmissionQueue(max_concurrency=s.max_concurrency, max_queue=s.max_queue,
                                        max_wait_ms=s.max_wait_ms)
        self.policy = DegradationPolicy(s.degradation)
        self.metrics = EngineMetrics()
        self._gen_pool = ThreadPoolExecutor(s.generator_workers, thread_name_prefix="generate")
        self._cpu_pool = ThreadPoolExecutor(1, thread_name_prefix="rerank")
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self.ready = False
        self._closed = False
        self._start_lock: asyncio.Lock | None = None
        self.counts: dict[str, int] = {"requests": 0, "cache_hits": 0, "shed": 0, "errors": 0}
        for lane in lanes.values():
            if lane.batcher is not None:
                lane.batcher.on_batch = self.metrics.batch_size.observe

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_config(cls, cfg: PipelineConfig, *, kb: KnowledgeBase | None = None, cache: Any = None,
                    memory: Any = None, agent: Any = None) -> AsyncEngine:
        """The engine of ``cfg``: its knowledge base, one lane per A/B variant, cache/memory/tools when enabled.

        ```python
        engine = AsyncEngine.from_config(PipelineConfig.load("default"))
        ```
        """
        kb = kb or load_knowledge_base(cfg, progress=False)
        embed_pool = ThreadPoolExecutor(1, thread_name_prefix="embed")
        lanes = {"control": Lane.build("control", cfg, kb, embed_pool)}
        lanes["control"].extra["embed_pool"] = embed_pool
        for v in cfg.serving.variants:
            vcfg = PipelineConfig.load(v.config)
            vkb = kb if vcfg.index_hash == cfg.index_hash else load_knowledge_base(vcfg, progress=False)
            lanes[v.name] = Lane.build(v.name, vcfg, vkb, embed_pool)
        owns: list[str] = []
        if cache is None and cfg.cache.enabled:
            from workbench.cache import CacheStack

            cache = CacheStack.from_config(cfg, kb_version=kb.version)
            owns.append("cache")
            variant_caches = {name: CacheStack.from_config(lane.cfg.model_copy(update={"cache": cfg.cache}),
                                                           kb_version=lane.qp.kb.version)
                              for name, lane in lanes.items() if name != "control"}
        else:
            variant_caches = {}
        if memory is None and cfg.memory.enabled:
            from workbench.memory import ConversationMemory

            memory = ConversationMemory.from_config(cfg.memory)
            owns.append("memory")
        if agent is None and cfg.tools.enabled:
            from workbench.tools import ToolCallingAgent

            agent = ToolCallingAgent.from_config(cfg.tools, snapshot_cache=cache)
        engine = cls(cfg, lanes, cache=cache, memory=memory, agent=agent, owns=tuple(owns))
        engine.variant_caches = variant_caches
        return engine

    def cache_for(self, variant: str) -> Any:
        """The cache stack a variant reads and writes (the control's for the control)."""
        return self.variant_caches.get(variant, self.cache)

    def __repr__(self) -> str:
        return f"AsyncEngine({self.cfg.name!r}, variants={list(self.lanes)}, level={self.policy.level})"

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> AsyncEngine:
        """Warm every lane's models and start the degradation ticker (safe to call twice)."""
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self.ready:
                return self
            for lane in self.lanes.values():
                await lane.start()
            self._ticker = asyncio.get_running_loop().create_task(self._tick())
            self.ready = True
            self._closed = False
        return self

    async def aclose(self) -> None:
        """Stop the ticker, finish background stores, close clients and thread pools."""
        self.ready = False
        self._closed = True
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for lane in self.lanes.values():
            await lane.aclose()
            if lane.batcher is not None:
                lane.batcher.close()
            pool = lane.extra.get("embed_pool")
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        self._gen_pool.shutdown(wait=False, cancel_futures=True)
        self._cpu_pool.shutdown(wait=False, cancel_futures=True)
        if "cache" in self._owns and self.cache is not None:
            await self.cache.aclose()
            for extra in self.variant_caches.values():
                await extra.aclose()

    async def __aenter__(self) -> AsyncEngine:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _tick(self) -> None:
        """Re-evaluate the degradation level even without traffic (so it recovers when load stops)."""
        while True:
            await asyncio.sleep(0.1)
            self._update_level()

    def _update_level(self) -> int:
        level = self.policy.update(self.admission.fill)
        self.metrics.level.set(level)
        self.metrics.queue_depth.set(self.admission.waiting)
        self.metrics.in_flight.set(self.admission.in_flight)
        return level

    # -- A/B control ----------------------------------------------------------------------------
    def promote(self, variant: str) -> None:
        """Send all traffic to ``variant`` (``"control"`` restores the control)."""
        self.router.promote(variant)

    def rollback(self) -> None:
        """Send all traffic back to the control."""
        self.router.rollback()

    # -- the Target protocol ----------------------------------------------------------------------
    async def handle(self, req: ChatRequest) -> ChatResponse:
        """Answer one request; raises ``OverloadedError`` (shed), ``InputError``/``UnknownTenantError`` (bad input),
        ``GeneratorTimeoutError`` past ``serving.request_timeout_s``."""
        try:
            async with asyncio.timeout(self.cfg.serving.request_timeout_s):
                async for item in self._answer(req):
                    if isinstance(item, ChatResponse):
                        return item
        except TimeoutError as exc:
            raise self._timeout(exc) from exc
        raise GeneratorError("the engine produced no response")  # pragma: no cover

    async def stream(self, req: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Token events as they are generated, then one event carrying the whole :class:`ChatResponse`."""
        try:
            async with asyncio.timeout(self.cfg.serving.request_timeout_s):
                async for item in self._answer(req):
                    if isinstance(item, ChatResponse):
                        yield StreamEvent(response=item)
                    else:
                        yield StreamEvent(token=item)
        except TimeoutError as exc:
            raise self._timeout(exc) from exc

    def _timeout(self, exc: TimeoutError) -> Exception:
        if isinstance(exc, GeneratorTimeoutError):
            return exc
        return GeneratorTimeoutError(f"the request took longer than serving.request_timeout_s="
                                     f"{self.cfg.serving.request_timeout_s:g} s")

    # -- the request path -------------------------------------------------------------------------
    def _validate(self, req: ChatRequest) -> str:
        if req.tenant not in self.cfg.serving.tenants:
            raise UnknownTenantError(f"unknown tenant {req.tenant!r}; configured: "
                                     f"{', '.join(self.cfg.serving.tenants)} (serving.tenants)")
        return validate_question(req.question, self.cfg.limits.max_question_chars)

    async def _answer(self, req: ChatRequest) -> AsyncIterator[str | ChatResponse]:
        t0 = _NS()
        if not self.ready:
            if self._closed:
                raise OverloadedError("the engine is closed", retry_after=1.0)
            await self.start()  # lazily, so a plain load-test Target works without an explicit start()
        question = self._validate(req)
        variant = self.router.route(req.user, req.variant)
        lane = self.lanes[variant]
        lane.requests += 1
        self.counts["requests"] += 1
        timings: dict[str, float] = {}
        personalized = bool(req.personalized) and req.user is not None
        status = "ok"
        level = self.policy.level
        try:
            cache = self.cache_for(variant)
            if cache is not None and not (req.personalized and req.user is None):  # never a shared entry
                t = _NS()
                hit = await cache.alookup(req.tenant, question, user=req.user, personalized=personalized)
                timings["cache"] = _ms(t)
                if hit is not None:
                    self.counts["cache_hits"] += 1
                    self.metrics.cache_hits.labels(hit.layer).inc()
                    resp = self._from_cache(hit.payload, hit.layer, req, variant, level, timings, t0)
                    if resp.answer:
                        yield resp.answer
                    self._done(resp, status)
                    yield resp
                    return
                self.metrics.cache_misses.inc()
            level = self._update_level()
            if level >= 4:
                self.metrics.shed.labels("cache_only").inc()
                raise OverloadedError("degraded to cache-only service: this question is not cached",
                                      retry_after=max(1.0, self.cfg.serving.degradation.cooldown_s))
            try:
                async with self.admission.slot() as waited:
                    timings["queue"] = round(waited, 3)
                    level = max(level, self.policy.level)  # a request that queued takes the level of now
                    resp = None
                    async for item in self._pipeline(req, question, lane, level, timings, t0):
                        if isinstance(item, ChatResponse):
                            resp = item
                        else:
                            yield item
            except OverloadedError:
                self.metrics.shed.labels("admission").inc()
                raise
            assert resp is not None
            self.policy.observe(resp.timings_ms["total"])
            self._done(resp, status)
            yield resp
        except WorkbenchError as exc:
            status = exc.type
            self.counts["shed" if isinstance(exc, OverloadedError) else "errors"] += 1
            self.metrics.observe_request(variant=variant, level=level, cache_layer=None, status=status,
                                         total_ms=(_NS() - t0) / 1e6)
            raise

    def _done(self, resp: ChatResponse, status: str) -> None:
        self.metrics.observe_request(variant=resp.variant or self.control, level=resp.degradation_level,
                                     cache_layer=resp.cache_layer, status=status, total_ms=resp.timings_ms["total"],
                                     stages=resp.timings_ms)

    def _from_cache(self, payload: dict[str, Any], layer: Any, req: ChatRequest, variant: str, level: int,
                    timings: dict[str, float], t0: int) -> ChatResponse:
        timings["total"] = _ms(t0)
        return ChatResponse(answer=str(payload.get("answer", "")),
                            sources=[SourceOut(**s) for s in payload.get("sources", [])], cache_layer=layer,
                            variant=variant, degradation_level=level, degradation=LEVEL_NAMES[level],
                            timings_ms=timings, tokens=int(payload.get("tokens") or 0), session=req.session,
                            tool=payload.get("tool"), simulated=bool(payload.get("simulated")),
                            language=payload.get("language"), request_id=uuid.uuid4().hex[:16])

    async def _pipeline(self, req: ChatRequest, question: str, lane: Lane, level: int, timings: dict[str, float],
                        t0: int) -> AsyncIterator[str | ChatResponse]:
        view = None
        query = question
        if req.session and self.memory is not None:
            t = _NS()
            view = await self.memory.aload(req.tenant, req.session)
            if self.cfg.memory.rewrite_followups:
                from workbench.memory import rewrite_followup

                query = rewrite_followup(view, question)
            timings["memory"] = _ms(t)
        tool_name = None
        docs: list[Document] = []
        answer = ""
        tokens = 0
        simulated = False
        if self.agent is not None and req.user is not None and req.personalized is not False:
            t = _NS()
            outcome = await self.agent.amaybe_call(req.tenant, req.user, query)
            timings["tool"] = _ms(t)
            if outcome is not None:
                tool_name, answer = outcome.tool, outcome.answer
        if tool_name is not None:
            tokens = 1 if answer else 0
            if answer:
                timings["ttft"] = _ms(t0)
                yield answer
        else:
            docs = await self._retrieve(lane, query, req.tenant, level, timings)
            qp = lane.qp
            t = _NS()
            built = qp.prompt_builder.run(question=query, documents=docs)
            messages = built["messages"]
            if view is not None and view.turns:
                messages = [*view.messages(), *messages]
            timings["prompt"] = _ms(t)
            gen, simulated = qp.generator, lane.simulated
            if level >= 3 or (level == 2 and lane.small is None):
                gen, simulated = lane.extractive, False
            elif level == 2:
                gen, simulated = lane.small, lane.small_simulated
            t = _NS()
            first = last = 0
            gaps: list[float] = []
            pieces: list[str] = []
            meta: dict[str, Any] = {}
            async for piece in self._generate(gen, built["prompt"], messages, query, docs, meta):
                now = _NS()
                if not first:
                    first = now
                    timings["ttft"] = round((now - t0) / 1e6, 3)
                else:
                    gaps.append((now - last) / 1e9)
                last = now
                pieces.append(piece)
                yield piece
            timings["generate"] = _ms(t)
            if gaps:
                timings["itl"] = round(1000 * sum(gaps) / len(gaps), 3)
                hist = self.metrics.inter_token.labels(lane.name)
                for g in gaps:
                    hist.observe(g)
            answer = meta["answer"] if "answer" in meta else clean_reply("".join(pieces), getattr(gen, "stop", ["\n"]))
            tokens = int(meta.get("completion_tokens") or len(pieces))
            if qp.guard is not None and gen is qp.generator:
                out = qp.guard.run(replies=[answer], meta=[meta], question=query, documents=docs,
                                   context=built["context"])
                answer = out["replies"][0]
        timings["total"] = _ms(t0)
        resp = ChatResponse(
            answer=answer,
            sources=[SourceOut(id=d.meta.get("doc_id", d.id), title=d.meta.get("title", ""), text=d.content or "",
                               score=float(d.score or 0.0)) for d in docs],
            variant=lane.name, degradation_level=level, degradation=LEVEL_NAMES[level], timings_ms=timings,
            tokens=tokens, session=req.session, memory_turns=len(view.turns) if view is not None else 0,
            tool=tool_name, simulated=simulated, language=detect_language(question),
            request_id=uuid.uuid4().hex[:16])
        self._store_later(req, question, resp, personalized=tool_name is not None)
        yield resp

    async def _retrieve(self, lane: Lane, query: str, tenant: str, level: int,
                        timings: dict[str, float]) -> list[Document]:
        qp = lane.qp
        filters = {"tenant": tenant}
        dense_docs: list[Document] = []
        bm25_docs: list[Document] = []
        if lane.batcher is not None and qp.dense is not None:
            t = _NS()
            vec = await lane.batcher.embed(query)
            timings["embed"] = _ms(t)
            t = _NS()
            dense_docs = qp.dense.run(query_embedding=vec, top_k=qp.first_k, filters=filters)["documents"]
            timings["retrieve_dense"] = _ms(t)
        if qp.bm25 is not None:
            t = _NS()
            bm25_docs = qp.bm25.run(query=query, top_k=qp.first_k, filters=filters)["documents"]
            timings["retrieve_bm25"] = _ms(t)
        if qp.fusion is not None:
            t = _NS()
            docs = qp.fusion.run(dense=dense_docs, bm25=bm25_docs, top_k=qp.fusion.top_k)["documents"]
            timings["fuse"] = _ms(t)
        else:
            docs = dense_docs or bm25_docs
        k = lane.cfg.retriever.top_k
        if qp.reranker is not None and level == 0:
            t = _NS()
            rr = qp.reranker
            top = max(k, lane.cfg.reranker.top_k)
            docs = (await asyncio.get_running_loop().run_in_executor(
                self._cpu_pool, lambda: rr.run(query=query, documents=docs, top_k=top)))["documents"]
            timings["rerank"] = _ms(t)
            k = min(k, lane.cfg.reranker.top_k)
        return docs[:k]

    async def _generate(self, gen: Any, prompt: str, messages: list[dict[str, str]], question: str,
                        docs: list[Document], meta: dict[str, Any]) -> AsyncIterator[str]:
        """Pieces of text: natively async for a remote service, from a worker thread otherwise."""
        if isinstance(gen, OpenAICompatibleGenerator):
            async for piece in gen.astream(prompt=prompt, messages=messages):
                yield piece
            return
        loop = asyncio.get_running_loop()
        q: asyncio.Queue[Any] = asyncio.Queue()

        def callback(piece: str) -> None:
            loop.call_soon_threadsafe(q.put_nowait, piece)

        def work() -> dict[str, Any]:
            return gen.run(prompt=prompt, messages=messages, question=question, documents=docs,
                           streaming_callback=callback)

        fut = loop.run_in_executor(self._gen_pool, work)
        fut.add_done_callback(lambda _f: q.put_nowait(_DONE))
        while True:
            item = await q.get()
            if item is _DONE:
                break
            yield item
        try:
            out = fut.result()
        except WorkbenchError:
            raise
        except Exception as exc:
            raise GeneratorError(f"the generator failed: {type(exc).__name__}: {exc}") from exc
        meta.update(out["meta"][0] if out.get("meta") else {})
        meta["answer"] = out["replies"][0] if out.get("replies") else ""

    def _store_later(self, req: ChatRequest, question: str, resp: ChatResponse, *, personalized: bool) -> None:
        """Cache and memory writes run after the response, off the critical path."""
        async def store() -> None:
            try:
                cache = self.cache_for(resp.variant or self.control)
                if cache is not None and resp.answer and resp.degradation_level == 0 and \
                        (not personalized or req.user is not None):
                    payload = {"answer": resp.answer, "sources": [s.model_dump() for s in resp.sources],
                               "tokens": resp.tokens, "language": resp.language, "tool": resp.tool,
                               "simulated": resp.simulated}
                    await cache.astore(req.tenant, question, payload, user=req.user, personalized=personalized)
                if self.memory is not None and req.session:
                    await self.memory.aappend(req.tenant, req.session, question, resp.answer)
            except (WorkbenchError, OSError) as exc:  # a failing store never breaks serving
                log.warning("store after request failed: %s", exc)

        task = asyncio.get_running_loop().create_task(store())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- introspection --------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counters, queue state, degradation level, router shares and batching per variant."""
        return {
            **self.counts,
            "level": self.policy.level,
            "degradation": self.policy.name,
            "level_changes": list(self.policy.changes),
            "queue_waiting": self.admission.waiting,
            "in_flight": self.admission.in_flight,
            "shed_queue_full": self.admission.shed_full,
            "shed_timeout": self.admission.shed_timeout,
            "shares": dict(self.router.shares),
            "variants": {n: {"requests": ln.requests, "simulated": ln.simulated,
                             "embed_batches": ln.batcher.batches if ln.batcher else 0,
                             "mean_embed_batch": ln.batcher.mean_batch if ln.batcher else 0.0}
                         for n, ln in self.lanes.items()},
            "cache": self.cache.stats() if self.cache is not None else None,
        }

