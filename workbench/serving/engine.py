"""The asyncio serving engine: it orchestrates the request path of DESIGN.md and runs no stage itself.

validate → route (A/B, sticky: the variant's cache and pipeline) → the session (held for the turn; its
owner checked; a follow-up rewritten) → cache (before admission: hits never take a slot) → degradation
level → admission (bounded queue, max wait, shed with ``OverloadedError``; with ``degradation.overflow`` a request
it would shed is served at the extractive level in slots of its own instead) → tools →
``pipeline.astream(level.plan)`` (``arun`` for ``handle``; its embed stage is handed the cache lookup's embedding
when the semantic layer runs the pipeline's query model: a request embeds its question once, through the lane's
micro-batcher) → the turn appended to memory (durable before the
response is acknowledged, cache hits included) → the answer cached (after the response; never one that used
the session's history) → metrics::

    async with AsyncEngine.from_config(PipelineConfig.load("fast")) as engine:
        resp = await engine.handle(ChatRequest(question="gold card annual fee?"))
        async for ev in engine.stream(ChatRequest(question="lost my card", stream=True)):
            print(ev.token or ev.response.timings_ms)
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any, Literal

from workbench.config import PipelineConfig
from workbench.errors import OverloadedError, UnknownTenantError, WorkbenchError
from workbench.observability.metrics import EngineMetrics
from workbench.pipelines import RAGAnswer, validate_question
from workbench.pipelines.knowledge_base import KnowledgeBase
from workbench.serving.admission import DEFAULT_SLOTS, AdmissionQueue, request_deadline
from workbench.serving.collaborators import CONTROL, EngineParts, SessionTurn
from workbench.serving.degradation import DegradationLevel, DegradationPolicy
from workbench.serving.lane import Lane
from workbench.serving.protocols import AnswerCache, ConversationMemory, ToolAgent
from workbench.serving.responses import PieceClock, response_from, response_from_cache
from workbench.serving.routing import VariantRouter
from workbench.serving.schema import ChatRequest, ChatResponse, StreamEvent
from workbench.text import detect_language

__all__ = ["AsyncEngine"]

_NS = time.perf_counter_ns


def _ms(t0: int) -> float:
    return round((_NS() - t0) / 1e6, 3)


class AsyncEngine:
    """Serves :class:`ChatRequest` s concurrently (see the module docstring); a load-test ``Target``. ``start()``
    (or ``async with``, or the first request) warms the models; ``aclose()`` releases threads and clients."""

    def __init__(self, cfg: PipelineConfig, parts: EngineParts) -> None:
        s = cfg.serving
        self.cfg, self.parts, self.lanes = cfg, parts, parts.lanes
        self.cache, self.memory, self.agent = parts.cache, parts.memory, parts.agent
        self.router = VariantRouter(CONTROL, {v.name: v.share for v in s.variants})
        self.admission = AdmissionQueue.for_pipeline(cfg)
        self.policy = DegradationPolicy.for_pipeline(cfg, cache=parts.cache is not None)
        self.overflow: AdmissionQueue | None = None
        """The slots of requests the admission would shed, answered extractively (``degradation.overflow``)."""
        if s.degradation.enabled and s.degradation.overflow and DegradationLevel.EXTRACTIVE in self.policy.levels:
            self.overflow = AdmissionQueue.from_config(s, max_concurrency=DEFAULT_SLOTS)
        self.metrics = EngineMetrics()
        self.counts: dict[str, int] = {"requests": 0, "cache_hits": 0, "shed": 0, "errors": 0, "overflow": 0}
        self.ready = self._closed = False
        self._ticker: asyncio.Task[None] | None = None
        self._start_lock = asyncio.Lock()
        for lane in self.lanes.values():
            if lane.batcher is not None:
                lane.batcher.on_batch = self.metrics.batch_size.observe

    @classmethod
    def from_config(cls, cfg: PipelineConfig, *, kb: KnowledgeBase | None = None, cache: AnswerCache | None = None,
                    memory: ConversationMemory | None = None, agent: ToolAgent | None = None) -> AsyncEngine:
        """The engine of ``cfg``: its knowledge base, one lane per A/B variant, and the cache, memory and tools
        it enables unless given (:meth:`EngineParts.from_config`): ``AsyncEngine.from_config(cfg)``."""
        return cls(cfg, EngineParts.from_config(cfg, kb=kb, cache=cache, memory=memory, agent=agent))

    def cache_for(self, variant: str) -> AnswerCache | None:
        """The cache a variant reads and writes (the control's for the control)."""
        return self.parts.cache_for(variant)

    def __repr__(self) -> str:
        return f"AsyncEngine({self.cfg.name!r}, variants={list(self.lanes)}, level={self.policy.name})"

    # -- lifecycle and A/B control ----------------------------------------------------------------
    async def start(self) -> AsyncEngine:
        """Warm every lane's models and start the degradation ticker (safe to call twice)."""
        async with self._start_lock:
            if not self.ready:
                await self.parts.start()
                self._ticker = asyncio.get_running_loop().create_task(self.policy.watch(self._update_level))
                self.ready, self._closed = True, False
        return self

    async def aclose(self) -> None:
        """Stop the ticker, close the parts (pending stores, threads, clients, an owned cache)."""
        self.ready, self._closed = False, True
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None
        await self.parts.aclose()

    async def __aenter__(self) -> AsyncEngine:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _update_level(self) -> DegradationLevel:
        level = self.policy.update(self.admission.fill)
        self.metrics.level.set(level)
        self.metrics.queue_depth.set(self.admission.waiting)
        self.metrics.in_flight.set(self.admission.in_flight)
        return level

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
        async with request_deadline(self.cfg.serving.request_timeout_s), \
                aclosing(self._answer(req, streaming=False)) as items:  # closed now: the session is released
            async for item in items:
                if isinstance(item, ChatResponse):
                    return item
        raise WorkbenchError("the engine produced no response")  # pragma: no cover

    async def stream(self, req: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Token events as they are generated, then one event carrying the whole :class:`ChatResponse`."""
        async with request_deadline(self.cfg.serving.request_timeout_s), \
                aclosing(self._answer(req, streaming=True)) as items:
            async for item in items:
                yield StreamEvent(response=item) if isinstance(item, ChatResponse) else StreamEvent(token=item)

    # -- the request path -------------------------------------------------------------------------
    async def _answer(self, req: ChatRequest, *, streaming: bool) -> AsyncIterator[str | ChatResponse]:
        t0 = _NS()
        if not self.ready:
            if self._closed:
                raise OverloadedError("the engine is closed", retry_after=1.0)
            await self.start()  # lazily, so a plain load-test Target works without an explicit start()
        if req.tenant not in self.cfg.serving.tenants:
            raise UnknownTenantError(f"unknown tenant {req.tenant!r}; configured: "
                                     f"{', '.join(self.cfg.serving.tenants)} (serving.tenants)")
        question = validate_question(req.question, self.cfg.limits.max_question_chars)
        lane = self.lanes[self.router.route(req.user, req.variant)]
        lane.requests += 1
        self.counts["requests"] += 1
        timings: dict[str, float] = {}
        level = self.policy.level
        try:
            async with self.parts.conversation(req, question, rewrite=self.cfg.memory.rewrite_followups) as turn:
                if turn.load_ms is not None:
                    timings["memory"] = turn.load_ms
                try:
                    cached = await self._cached(req, turn, lane.name, level, timings)
                except OverloadedError:  # the semantic lookup's embedding found no slot in time
                    self.metrics.shed.labels("lookup").inc()
                    raise
                if cached is not None:
                    await self._acknowledge(req, turn, cached, t0, answered=None)
                    if cached.answer:
                        yield cached.answer
                    yield cached
                    return
                level = self._update_level()
                if not level.serves_misses:
                    self.metrics.shed.labels("cache_only").inc()
                    raise OverloadedError("degraded to cache-only service: this question is not cached",
                                          retry_after=max(1.0, self.cfg.serving.degradation.cooldown_s))
                admitted = False
                try:
                    # time spent so far counts; with an overflow, no blind wait before a service time is known
                    async with self.admission.slot(since_ns=t0, unmeasured_wait=self.overflow is None) as waited:
                        admitted = True
                        timings["queue"] = round(waited, 3)
                        level = max(level, self.policy.level)  # a request that queued takes the level of now
                        async for item in self._serve(req, turn, lane, level, timings, t0, streaming):
                            yield item
                except OverloadedError:
                    if admitted or self.overflow is None:
                        self.metrics.shed.labels("admission").inc()
                        raise
                if not admitted:  # shed by the pipeline's admission: an extractive answer in the overflow slots
                    level = DegradationLevel.EXTRACTIVE
                    try:
                        async with self.overflow.slot(since_ns=t0) as waited:
                            timings["queue"] = round(waited, 3)
                            self.counts["overflow"] += 1
                            async for item in self._serve(req, turn, lane, level, timings, t0, streaming):
                                yield item
                    except OverloadedError:
                        self.metrics.shed.labels("overflow").inc()
                        raise
        except WorkbenchError as exc:
            self.counts["shed" if isinstance(exc, OverloadedError) else "errors"] += 1
            self.metrics.observe_request(variant=lane.name, level=level, cache_layer=None, status=exc.type,
                                         total_ms=(_NS() - t0) / 1e6)
            raise

    async def _cached(self, req: ChatRequest, turn: SessionTurn, variant: str, level: DegradationLevel,
                      timings: dict[str, float]) -> ChatResponse | None:
        """The cached answer to the turn's standalone question (a personal one only for its user), or ``None``."""
        cache = self.cache_for(variant)
        if cache is None or (req.personalized and req.user is None):
            return None
        t = _NS()
        hit = await cache.alookup(req.tenant, turn.standalone, user=req.user, personalized=bool(req.personalized))
        timings["cache"] = _ms(t)
        if hit is None:
            self.metrics.cache_misses.inc()
            return None
        self.counts["cache_hits"] += 1
        self.metrics.cache_hits.labels(hit.layer).inc()
        return response_from_cache(hit.payload, hit.layer, variant=variant, degradation_level=int(level),
                                   degradation=level.label, timings_ms=timings, session=req.session,
                                   memory_turns=turn.turns)

    async def _serve(self, req: ChatRequest, turn: SessionTurn, lane: Lane, level: DegradationLevel,
                     timings: dict[str, float], t0: int, streaming: bool) -> AsyncIterator[str | ChatResponse]:
        """Tools → the pipeline under ``level``'s plan → the response, acknowledged once its turn is stored."""
        query = turn.standalone
        fields = {"variant": lane.name, "degradation_level": int(level), "degradation": level.label,
                  "session": req.session, "memory_turns": turn.turns, "language": detect_language(turn.question),
                  "timings_ms": timings}
        if self.agent is not None and req.user is not None and req.personalized is not False:
            t = _NS()
            outcome = await self.agent.amaybe_call(req.tenant, req.user, query)
            timings["tool"] = _ms(t)
            if outcome is not None:
                resp = ChatResponse(answer=outcome.answer, tool=outcome.tool, tokens=int(bool(outcome.answer)),
                                    request_id=uuid.uuid4().hex[:16], **fields)
                await self._acknowledge(req, turn, resp, t0, answered="personal" if outcome.ok else "failed")
                if outcome.answer:
                    resp.timings_ms["ttft"] = resp.timings_ms["total"]  # the answer goes out now, after its turn is stored
                    yield outcome.answer
                yield resp
                return
        clock = PieceClock(t0)
        kw: dict[str, Any] = {"tenant": req.tenant, "plan": level.plan, "history": turn.history}
        lane.hand_on_embedding(query)  # the cache lookup's embedding, when it ran this very model: embed once
        if streaming:  # pieces go out as they are generated
            async for item in lane.qp.astream(query, **kw):
                if isinstance(item, RAGAnswer):
                    answer = item
                else:
                    clock.tick(timings)
                    yield item
        else:  # pieces are only timed: no hand-off per piece
            answer = await lane.qp.arun(query, streaming_callback=lambda _piece: clock.tick(timings), **kw)
        timings.update((k, v) for k, v in answer.timings_ms.items() if k != "total")
        hist = self.metrics.inter_token.labels(lane.name)
        for gap in clock.finish(timings):
            hist.observe(gap)
        resp = response_from(answer, **{**fields, "tokens": answer.tokens or len(clock.times)})
        await self._acknowledge(req, turn, resp, t0, answered="shared")
        yield resp

    async def _acknowledge(self, req: ChatRequest, turn: SessionTurn, resp: ChatResponse, t0: int, *,
                           answered: Literal["shared", "personal", "failed"] | None) -> None:
        """Make the response ready to send: append its turn (durable before the client hears of it), time and
        count it, and cache it after it is sent. ``answered``: ``None`` for a cache hit; ``shared`` (the
        pipeline) or ``personal`` (a tool) for an answer to cache so; ``failed`` for a tool's failure notice,
        never cached (the user would get it until it expired). Only a full-service answer that did not use
        the session's history is cached."""
        if turn.session is not None:
            resp.timings_ms["memory_store"] = await turn.commit(resp.answer)
        resp.timings_ms["total"] = _ms(t0)
        if answered is not None:
            self.policy.observe(resp.timings_ms["total"])
            if answered != "failed" and resp.degradation_level == DegradationLevel.FULL and not turn.uses_history:
                self.parts.store_later(req, turn.question, resp, personalized=answered == "personal")
        self._observe(resp)

    def _observe(self, resp: ChatResponse) -> None:
        self.metrics.observe_request(variant=resp.variant or CONTROL, level=resp.degradation_level,
                                     cache_layer=resp.cache_layer, status="ok", total_ms=resp.timings_ms["total"],
                                     stages=resp.timings_ms)

    # -- introspection --------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counters, queue state, degradation level, router shares and batching per variant."""
        a = self.admission
        return {**self.counts, "level": int(self.policy.level), "degradation": self.policy.name,
                "level_changes": [(t, int(lvl)) for t, lvl in self.policy.changes], "queue_waiting": a.waiting,
                "in_flight": a.in_flight, "shed_queue_full": a.shed_full, "shed_timeout": a.shed_timeout,
                "shed_lookup": self.parts.lookups.shed if self.parts.lookups is not None else 0,
                "shares": dict(self.router.shares),
                "variants": {name: lane.stats() for name, lane in self.lanes.items()},
                "cache": self.cache.stats() if self.cache is not None else None}
