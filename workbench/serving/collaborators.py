"""What an engine is built from, per configuration: one lane per variant, and the collaborators it calls.

The engine sees each collaborator only through its protocol (:mod:`workbench.serving.protocols`); this
module is where the concrete ones are chosen from a :class:`PipelineConfig`::

    parts = EngineParts.from_config(cfg)        # lanes, and the cache, memory and agent cfg enables
    engine = AsyncEngine(cfg, parts)

A request with a session runs inside :meth:`EngineParts.conversation`: the session is held (its turns are
answered one at a time, in arrival order), its view is loaded for the caller (another user's session is
refused), and :meth:`SessionTurn.commit` appends the turn before the engine acknowledges it::

    async with parts.conversation(req, question, rewrite=True) as turn:
        ...                                          # answer turn.standalone (with turn.history)
        await turn.commit(resp.answer)               # durable; then the response goes out
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workbench.config import PipelineConfig
from workbench.errors import WorkbenchError
from workbench.pipelines import load_knowledge_base
from workbench.pipelines.knowledge_base import KnowledgeBase
from workbench.serving.admission import AdmissionQueue
from workbench.serving.lane import Lane
from workbench.serving.protocols import AnswerCache, ConversationMemory, ConversationView, ToolAgent
from workbench.serving.responses import cache_payload
from workbench.serving.schema import ChatRequest, ChatResponse

if TYPE_CHECKING:
    from workbench.cache import CacheStack
    from workbench.tools.snapshot import SnapshotCache

__all__ = ["CONTROL", "EngineParts", "SessionTurn", "build_agent", "build_caches", "build_lanes", "build_memory"]

log = logging.getLogger(__name__)

#: The name of the lane that runs the engine's own config.
CONTROL = "control"


def build_lanes(cfg: PipelineConfig, kb: KnowledgeBase, embed_executor: Executor) -> dict[str, Lane]:
    """The control lane of ``cfg`` over ``kb``, then one lane per A/B variant (its own knowledge base when its
    index differs); all embed on ``embed_executor``."""
    lanes = {CONTROL: Lane.build(CONTROL, cfg, kb, embed_executor)}
    for v in cfg.serving.variants:
        vcfg = PipelineConfig.load(v.config)
        vkb = kb if vcfg.index_hash == cfg.index_hash else load_knowledge_base(vcfg, progress=False)
        lanes[v.name] = Lane.build(v.name, vcfg, vkb, embed_executor)
    return lanes


def build_caches(cfg: PipelineConfig, lanes: dict[str, Lane]) -> tuple[CacheStack, dict[str, CacheStack]]:
    """The control's cache stack and one per variant (keyed by the variant's own config hash and knowledge
    base), so a canary user is never served the control's cached answer, nor the control a canary's. A
    semantic layer of the lane's own query model uses that very model (:meth:`Lane.share_embedding`)."""
    from workbench.cache import CacheStack

    def stack(lane: Lane, lcfg: PipelineConfig) -> CacheStack:
        qe, sem = lane.qp.query_embedder, lcfg.cache.semantic
        same = qe is not None and sem.enabled and (sem.model or lcfg.embedder.model) == qe.model
        return CacheStack.from_config(lcfg, kb_version=lane.qp.kb.version,
                                      embedder=qe.embedder if same else None)  # type: ignore[union-attr]

    control = stack(lanes[CONTROL], cfg)
    variants = {name: stack(lane, lane.cfg.model_copy(update={"cache": cfg.cache}))
                for name, lane in lanes.items() if name != CONTROL}
    return control, variants


def build_memory(cfg: PipelineConfig) -> ConversationMemory:
    """The conversation memory of ``cfg.memory``."""
    from workbench import memory

    return memory.ConversationMemory.from_config(cfg.memory)


def build_agent(cfg: PipelineConfig, snapshots: SnapshotCache | None) -> ToolAgent:
    """The tool-calling agent of ``cfg.tools``, caching per-user tool results in ``snapshots`` (the cache
    stack's per-user layer, shared with other workers on Redis; ``None``: in process)."""
    from workbench.tools import ToolCallingAgent

    return ToolCallingAgent.from_config(cfg.tools, snapshot_cache=snapshots)


@dataclass
class SessionTurn:
    """One request's part of its conversation: the history it read, and the append that acknowledges it.

    Without a session (or without memory) it is empty: no history, and :meth:`commit` stores nothing.
    """

    question: str
    """The question as asked."""
    standalone: str
    """What the pipeline answers and the cache is asked: ``question``, or its rewrite with the history."""
    memory: ConversationMemory | None = None
    tenant: str = ""
    session: str | None = None
    owner: str | None = None
    view: ConversationView | None = None
    load_ms: float | None = None
    """How long loading the view took (``None``: nothing loaded)."""

    @property
    def turns(self) -> int:
        """Turns of the history shown to this request."""
        return len(self.view.turns) if self.view is not None else 0

    @property
    def history(self) -> list[dict[str, str]] | None:
        """The history as chat messages for the generator (``None``: none)."""
        return self.view.messages() if self.uses_history else None  # type: ignore[union-attr]

    @property
    def uses_history(self) -> bool:
        """Whether the answer depends on the session: the question was rewritten from it, or earlier turns
        (or their summary) go to the generator. Such an answer is never stored in a cache."""
        if self.standalone != self.question:
            return True
        return self.view is not None and bool(self.view.turns or self.view.summary)

    async def commit(self, answer: str) -> float:
        """Append the turn to the session (nothing without one); returns the milliseconds it took.

        Returns only once the store has the turn, so the caller acknowledges a durable turn. A cancellation
        (deadline, client gone) still waits for an append already under way, so the session is released
        only after it: the next turn of the session cannot overtake it.
        """
        if self.memory is None or self.session is None:
            return 0.0
        from workbench.memory import META_STANDALONE

        t = time.perf_counter_ns()
        task = asyncio.ensure_future(self.memory.aappend(self.tenant, self.session, self.question, answer,
                                                         {META_STANDALONE: self.standalone}, owner=self.owner))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            await asyncio.wait({task})
            raise
        return round((time.perf_counter_ns() - t) / 1e6, 3)


@dataclass
class EngineParts:
    """What an engine orchestrates: one lane per variant and the collaborators, with who closes what.

    :meth:`from_config` chooses them from a config; a cache built there is owned (closed with the parts)
    and also holds the agent's per-user tool snapshots.
    """

    lanes: dict[str, Lane]
    cache: AnswerCache | None = None
    memory: ConversationMemory | None = None
    agent: ToolAgent | None = None
    variant_caches: dict[str, AnswerCache] = field(default_factory=dict)
    """Per-variant caches: a canary user is never served the control's cached answer, nor the reverse."""
    owns_cache: bool = False
    embed_executor: Executor | None = None
    """The one embedding thread the lanes' micro-batchers share (shut down with the parts)."""
    lookups: AdmissionQueue | None = None
    """The admission line in front of the semantic cache lookups' embeddings (work done before the pipeline's
    own admission; ``None`` when no lane shares its embedder with an owned cache)."""
    _pending: set[asyncio.Task[None]] = field(default_factory=set, repr=False)

    @classmethod
    def from_config(cls, cfg: PipelineConfig, *, kb: KnowledgeBase | None = None, cache: AnswerCache | None = None,
                    memory: ConversationMemory | None = None, agent: ToolAgent | None = None) -> EngineParts:
        """The lanes of ``cfg`` and the cache, memory and agent it enables that the caller did not give."""
        embed_executor = ThreadPoolExecutor(1, thread_name_prefix="embed")
        parts = cls(build_lanes(cfg, kb or load_knowledge_base(cfg, progress=False), embed_executor),
                    cache=cache, memory=memory, agent=agent, embed_executor=embed_executor)
        snapshots = None
        if cache is None and cfg.cache.enabled:
            stack, parts.variant_caches = build_caches(cfg, parts.lanes)  # type: ignore[assignment]
            parts.cache, snapshots, parts.owns_cache = stack, stack.snapshot_store(), True
        if parts.owns_cache:  # a given cache may serve other engines
            parts.lookups = AdmissionQueue.for_lookups(cfg.serving)
            for name, lane in parts.lanes.items():  # one embedding per request where the models are the same
                lane.share_embedding(parts.cache_for(name), parts.lookups)
        if memory is None and cfg.memory.enabled:
            parts.memory = build_memory(cfg)
        if agent is None and cfg.tools.enabled:
            parts.agent = build_agent(cfg, snapshots)
        return parts

    def cache_for(self, variant: str) -> AnswerCache | None:
        """The cache a variant reads and writes (the control's for the control)."""
        return self.variant_caches.get(variant, self.cache)

    @asynccontextmanager
    async def conversation(self, req: ChatRequest, question: str, *, rewrite: bool) -> AsyncIterator[SessionTurn]:
        """The request's :class:`SessionTurn`, with its session held for the whole turn (see the module
        docstring); ``rewrite``: rewrite a follow-up into a standalone question from the history.

        :raises SessionNotFoundError: the session belongs to another user (or to no user, for a named one).
        """
        if self.memory is None or not req.session:
            yield SessionTurn(question, question)
            return
        async with self.memory.hold(req.tenant, req.session):
            t = time.perf_counter_ns()
            view = await self.memory.aload(req.tenant, req.session, owner=req.user)
            standalone = question
            if rewrite and view.turns:
                from workbench.memory import rewrite_followup

                standalone = rewrite_followup(view, question)  # type: ignore[arg-type]
            yield SessionTurn(question, standalone, self.memory, req.tenant, req.session, req.user, view,
                              round((time.perf_counter_ns() - t) / 1e6, 3))

    def store_later(self, req: ChatRequest, question: str, resp: ChatResponse, *, personalized: bool) -> None:
        """After the response: cache it in its variant's cache (per user when ``personalized``), off the critical
        path. The caller decides whether it may be cached at all. A failing store logs and never breaks
        serving; :meth:`aclose` waits for pending stores."""
        async def store() -> None:
            try:
                cache = self.cache_for(resp.variant or CONTROL)
                if cache is not None and resp.answer:
                    await cache.astore(req.tenant, question, cache_payload(resp), user=req.user,
                                       personalized=personalized)
            except (WorkbenchError, OSError) as exc:
                log.warning("storing an answer in the cache failed: %s", exc)

        task = asyncio.get_running_loop().create_task(store())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def start(self) -> None:
        """Warm every lane's models."""
        for lane in self.lanes.values():
            await lane.start()

    async def aclose(self) -> None:
        """Finish pending stores; close the lanes (threads, clients), the embedding thread and an owned cache."""
        await asyncio.gather(*self._pending, return_exceptions=True)
        for lane in self.lanes.values():
            await lane.aclose()
        if self.embed_executor is not None:
            self.embed_executor.shutdown(wait=False, cancel_futures=True)
        for cache in (self.cache, *self.variant_caches.values()) if self.owns_cache else ():
            await cache.aclose()  # type: ignore[union-attr]
