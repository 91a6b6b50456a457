"""Issue 13, items 3-7 at the engine: durable turns in order, cache hits remembered, sessions bound to their
user, history-dependent answers never cached, no cache-only level without a cache (real SQLite, real uvicorn)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from workbench.config import PipelineConfig
from workbench.errors import ConfigError, OverloadedError
from workbench.memory import SessionNotFoundError, SQLiteSessionStore
from workbench.pipelines.knowledge_base import KnowledgeBase
from workbench.serving import AsyncEngine, create_app
from workbench.serving.degradation import DegradationLevel
from workbench.serving.schema import ChatRequest
from workbench.testing import UvicornServer

QUESTIONS = ["What is the gold card annual fee?", "How do I report a lost card?", "How long does a transfer take?",
             "How do I reset my password?", "What is the platinum card annual fee?", "How do I raise my limit?",
             "Can I get a supplementary card?", "How do I activate my debit card?"]


def _cfg(fast_cfg: PipelineConfig, tmp_path: Path, **overrides: object) -> PipelineConfig:
    return fast_cfg.with_overrides({"memory.enabled": True, "memory.store": "sqlite",
                                    "memory.url": str(tmp_path / "sessions.sqlite3"), "memory.window_turns": 50,
                                    "memory.max_tokens": 100_000, "cache.enabled": True,
                                    "cache.semantic.enabled": False, **overrides})


async def test_a_turn_is_stored_before_the_answer_returns(fast_cfg: PipelineConfig, fast_kb: KnowledgeBase,
                                                          tmp_path: Path) -> None:
    """Item 3: when handle() returns (or the stream's final event arrives), the turn is in the store already;
    with the append as a task after the response, the store was still empty at this point."""
    cfg = _cfg(fast_cfg, tmp_path)
    reader = SQLiteSessionStore(tmp_path / "sessions.sqlite3")
    async with AsyncEngine.from_config(cfg, kb=fast_kb) as engine:
        for i, q in enumerate(QUESTIONS[:3], start=1):
            resp = await engine.handle(ChatRequest(question=q, user="u1", session="s1"))
            stored = reader.turns("default", "s1")                    # no await in between
            assert [t.user for t in stored] == QUESTIONS[:i] and stored[-1].assistant == resp.answer
            assert resp.memory_turns == i - 1 and resp.timings_ms["memory_store"] >= 0
        events = [ev async for ev in engine.stream(ChatRequest(question=QUESTIONS[3], user="u1", session="s1",
                                                               stream=True))]
        assert events[-1].response is not None
        assert [t.user for t in reader.turns("default", "s1")][-1] == QUESTIONS[3]
    reader.close()


async def test_concurrent_turns_of_one_session_are_answered_and_stored_in_order(
        fast_cfg: PipelineConfig, fast_kb: KnowledgeBase, tmp_path: Path) -> None:
    """Item 3: eight turns of one session sent at once: each sees every turn before it (read-your-writes),
    and the store keeps them in arrival order (no inversions), cache hits and misses mixed."""
    cfg = _cfg(fast_cfg, tmp_path)
    async with AsyncEngine.from_config(cfg, kb=fast_kb) as engine:
        await engine.handle(ChatRequest(question=QUESTIONS[4]))    # cached (names its product: never rewritten)
        await asyncio.sleep(0.05)
        for rnd in range(3):
            session = f"burst{rnd}"
            resps = await asyncio.gather(*[engine.handle(ChatRequest(question=q, user="u1", session=session))
                                           for q in QUESTIONS])
            assert [r.memory_turns for r in resps] == list(range(len(QUESTIONS)))
            assert any(r.cache_layer == "exact" for r in resps) and any(r.cache_layer is None for r in resps)
            view = await engine.memory.aload("default", session, owner="u1")   # type: ignore[union-attr]
            assert [t.user for t in view.turns] == QUESTIONS
            assert [t.assistant for t in view.turns] == [r.answer for r in resps]


async def test_a_cache_hit_is_remembered_and_the_follow_up_keeps_its_context(
        fast_cfg: PipelineConfig, fast_kb: KnowledgeBase, tmp_path: Path) -> None:
    """Item 4: a turn answered from the cache is written to memory, so the next turn has its context."""
    cfg = _cfg(fast_cfg, tmp_path)
    async with AsyncEngine.from_config(cfg, kb=fast_kb) as engine:
        await engine.handle(ChatRequest(question=QUESTIONS[0], user="warm"))
        await asyncio.sleep(0.05)                                             # the cache store runs after
        hit = await engine.handle(ChatRequest(question=QUESTIONS[0], user="u1", session="s1"))
        assert hit.cache_layer == "exact" and hit.session == "s1"
        follow = await engine.handle(ChatRequest(question="and for the platinum one?", user="u1", session="s1"))
        assert follow.memory_turns == 1
        (first, second) = (await engine.memory.aload("default", "s1", owner="u1")).turns  # type: ignore[union-attr]
        assert (first.user, first.assistant) == (QUESTIONS[0], hit.answer)
        assert "platinum" in second.meta["standalone"].lower() and "annual fee" in second.meta["standalone"].lower()


async def test_a_session_belongs_to_its_user(fast_cfg: PipelineConfig, fast_kb: KnowledgeBase,
                                             tmp_path: Path) -> None:
    """Item 6: user B naming user A's session gets 'not found' and neither reads nor extends A's history."""
    cfg = _cfg(fast_cfg, tmp_path)
    async with AsyncEngine.from_config(cfg, kb=fast_kb) as engine:
        await engine.handle(ChatRequest(question=QUESTIONS[0], user="alice", session="sa"))
        for intruder in ("bob", None):
            with pytest.raises(SessionNotFoundError):
                await engine.handle(ChatRequest(question="and for the platinum one?", user=intruder, session="sa"))
        again = await engine.handle(ChatRequest(question="and for the platinum one?", user="alice", session="sa"))
        assert again.memory_turns == 1
        turns = (await engine.memory.aload("default", "sa", owner="alice")).turns  # type: ignore[union-attr]
        assert len(turns) == 2 and engine.stats()["errors"] == 2


async def test_another_users_session_is_a_404_over_http_without_the_history(
        fast_cfg: PipelineConfig, fast_kb: KnowledgeBase, tmp_path: Path) -> None:
    cfg = _cfg(fast_cfg, tmp_path)
    with UvicornServer(create_app(lambda: AsyncEngine.from_config(cfg, kb=fast_kb))) as srv:
        async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
            ok = await client.post("/v1/chat", json={"question": QUESTIONS[0], "user": "alice", "session": "sa"})
            assert ok.status_code == 200
            for body in ({"user": "bob"}, {}):
                for route, payload in (("/v1/chat", {"question": "and for the platinum one?"}),
                                       ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]})):
                    r = await client.post(route, json={**payload, "session": "sa", **body})
                    assert r.status_code == 404, r.text
                    err = r.json()["error"]
                    assert err["type"] == "session_not_found" and "alice" not in r.text
                    assert ok.json()["answer"] not in r.text
            follow = await client.post("/v1/chat", json={"question": "and for the platinum one?", "user": "alice",
                                                          "session": "sa"})
            assert follow.status_code == 200 and follow.json()["memory_turns"] == 1


async def test_an_answer_that_used_the_history_is_never_cached(fast_cfg: PipelineConfig, fast_kb: KnowledgeBase,
                                                               tmp_path: Path) -> None:
    """Item 7: the follow-up answered with session A's context is not stored under its literal text (nor its
    rewrite) in the shared cache, so neither another session nor a user without one is served it."""
    cfg = _cfg(fast_cfg, tmp_path)
    follow_up = "and for the platinum one?"
    async with AsyncEngine.from_config(cfg, kb=fast_kb) as engine:
        await engine.handle(ChatRequest(question=QUESTIONS[0], user="alice", session="sa"))
        in_context = await engine.handle(ChatRequest(question=follow_up, user="alice", session="sa"))
        standalone = (await engine.memory.aload("default", "sa", owner="alice")).turns[-1].meta["standalone"]  # type: ignore[union-attr]
        await asyncio.sleep(0.05)                                             # any cache store has run
        assert in_context.cache_layer is None
        assert await engine.cache.alookup("default", follow_up) is None      # type: ignore[union-attr]
        assert await engine.cache.alookup("default", standalone) is None     # type: ignore[union-attr]
        stranger = await engine.handle(ChatRequest(question=follow_up, user="bob"))
        assert stranger.cache_layer is None                                   # alice's answer was not there
        await asyncio.sleep(0.05)
        other_session = await engine.handle(ChatRequest(question=follow_up, user="carol", session="sc"))
        assert other_session.cache_layer == "exact" and other_session.answer == stranger.answer  # bob's, no context
        # a first turn has no history: that answer is shared as before
        await asyncio.sleep(0.05)
        assert (await engine.handle(ChatRequest(question=QUESTIONS[0], user="dave"))).cache_layer == "exact"


async def test_without_a_cache_overload_never_enters_cache_only(llm_cfg: Callable[..., PipelineConfig],
                                                                fast_kb: KnowledgeBase) -> None:
    """Item 5: the cache off and the queue flooded (generation by the simulated LLM service, so the lighter
    levels really save work): the level climbs, but never to cache-only (which would shed every request),
    and every request is answered or shed by admission."""
    cfg = llm_cfg({"cache.enabled": False, "serving.max_concurrency": 1, "serving.max_queue": 8,
                   "serving.max_wait_ms": 10_000, "serving.degradation.queue_high": 0.1,
                   "serving.degradation.cooldown_s": 0.0, "serving.degradation.max_level": 4})
    async with AsyncEngine.from_config(cfg, kb=fast_kb) as engine:
        assert engine.policy.top < DegradationLevel.CACHE_ONLY
        with pytest.raises(ConfigError):
            engine.policy.force(DegradationLevel.CACHE_ONLY)
        shed: list[str] = []

        async def one(i: int) -> int:
            try:
                return (await engine.handle(ChatRequest(question=QUESTIONS[i % len(QUESTIONS)]))).degradation_level
            except OverloadedError as exc:
                shed.append(str(exc))
                return -1

        levels = [lvl for _ in range(4) for lvl in await asyncio.gather(*[one(i) for i in range(12)])]
        peak = max(int(lvl) for _, lvl in engine.policy.changes)
        assert DegradationLevel.FULL < peak < DegradationLevel.CACHE_ONLY      # it did climb: the load was real
        assert max(levels) < DegradationLevel.CACHE_ONLY and max(levels) > DegradationLevel.FULL
        assert not any("cache-only" in m for m in shed)
        assert engine.metrics.render().decode().count('reason="cache_only"') == 0


async def test_a_tool_failure_notice_is_not_cached(fast_cfg: PipelineConfig, fast_kb: KnowledgeBase,
                                                   tmp_path: Path) -> None:
    """The polite notice of a failed tool call is not stored as the user's answer: the next request tries the
    tool again (and gets the data once the back office is back), instead of the notice until its TTL ends."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    flag = tmp_path / "down"
    flag.write_text("1")
    (plugins / "ledger.py").write_text(
        "from pathlib import Path\nfrom workbench.tools.spec import tool\n\n\n"
        "@tool(version='1.0', idempotent=False, cacheable=False, keywords={'en': ('ledger balance',)},\n"
        "      answer={'en': 'Your ledger balance is {balance}.'})\n"
        "def get_ledger(user: str, tenant: str) -> dict:\n"
        "    \"\"\"The ledger balance.\"\"\"\n"
        f"    if Path({str(flag)!r}).exists():\n"
        "        raise ConnectionError('back office down')\n"
        "    return {'balance': 'RMB 42'}\n")
    cfg = _cfg(fast_cfg, tmp_path, **{"tools.enabled": True, "tools.plugins_dir": str(plugins),
                                      "tools.hot_reload": False, "tools.audit_log": None})
    ask = ChatRequest(question="what's my ledger balance?", user="u1", personalized=True)
    async with AsyncEngine.from_config(cfg, kb=fast_kb) as engine:
        down = await engine.handle(ask)
        assert down.tool == "get_ledger" and "can't reach" in down.answer
        await asyncio.sleep(0.05)
        flag.unlink()                                                         # the back office is back
        up = await engine.handle(ask)
        assert up.cache_layer is None and up.answer == "Your ledger balance is RMB 42."
        await asyncio.sleep(0.05)
        assert (await engine.handle(ask)).cache_layer == "user"              # a real answer is cached
