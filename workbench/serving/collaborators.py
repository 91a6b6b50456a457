"""What an engine is built from, per configuration: one lane per variant, and the collaborators it calls.

The engine sees each collaborator only through its protocol (:mod:`workbench.serving.protocols`); this
module is where the concrete ones are chosen from a :class:`PipelineConfig`::

    parts = EngineParts.from_config(cfg)        # lanes, and the cache, memory and agent cfg enables
    engine = AsyncEngine(cfg, parts)
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workbench.config import PipelineConfig
from workbench.errors import WorkbenchError
from workbench.pipelines import load_knowledge_base
from workbench.pipelines.knowledge_base import KnowledgeBase
from workbench.serving.lane import Lane
from workbench.serving.protocols import AnswerCache, ConversationMemory, ToolAgent
from workbench.serving.responses import cache_payload
from workbench.serving.schema import ChatRequest, ChatResponse

if TYPE_CHECKING:
    from workbench.cache import CacheStack
    from workbench.tools.snapshot import SnapshotCache

__all__ = ["CONTROL", "EngineParts", "build_agent", "build_caches", "build_lanes", "build_memory"]

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
    base), so a canary user is never served the control's cached answer, nor the control a canary's."""
    from workbench.cache import CacheStack

    control = CacheStack.from_config(cfg, kb_version=lanes[CONTROL].qp.kb.version)
    variants = {
        name: CacheStack.from_config(lane.cfg.model_copy(update={"cache": cfg.cache}), kb_version=lane.qp.kb.version)
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
        if memory is None and cfg.memory.enabled:
            parts.memory = build_memory(cfg)
        if agent is None and cfg.tools.enabled:
            parts.agent = build_agent(cfg, snapshots)
        return parts

    def cache_for(self, variant: str) -> AnswerCache | None:
        """The cache a variant reads and writes (the control's for the control)."""
        return self.variant_caches.get(variant, self.cache)

    def store_later(self, req: ChatRequest, question: str, resp: ChatResponse, *, cacheable: bool,
                    personalized: bool) -> None:
        """After the response: cache it (when ``cacheable``; per user when ``personalized``) in its variant's
        cache, and append the turn to the session's memory. Off the critical path; a failing store logs and
        never breaks serving; :meth:`aclose` waits for pending stores."""
        async def store() -> None:
            try:
                cache = self.cache_for(resp.variant or CONTROL)
                if cache is not None and cacheable and resp.answer:
                    await cache.astore(req.tenant, question, cache_payload(resp), user=req.user,
                                       personalized=personalized)
                if self.memory is not None and req.session:
                    await self.memory.aappend(req.tenant, req.session, question, resp.answer)
            except (WorkbenchError, OSError) as exc:
                log.warning("store after request failed: %s", exc)

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
