"""The judge tier of the semantic layer, on a crafted index: the band, the verdict cache (in process and in
the backend, shared by workers) and the failure rule (a failing judge refuses, is counted, and rests).

The judge here is a stub: it stands for a model whose answers and failures the tests choose. The real local
model is tested in ``tests/integration/cache/test_judge_local.py``, a real server's garbage replies and
timeouts in ``tests/integration/cache/test_judge_remote.py``."""

from __future__ import annotations

import asyncio
import math
import threading
import uuid
from typing import Any

import numpy as np
import pytest

from workbench.cache import CacheStack, JudgeTier, LocalJudge, MemoryBackend, RuleVerifier, SemanticCache, namespace
from workbench.cache.judge import judge_messages, parse_verdict
from workbench.cache.steps import run_sync
from workbench.cache.testing import FakeClock, HashingEmbedder
from workbench.config import PipelineConfig
from workbench.errors import ConfigError, GeneratorError, GeneratorTimeoutError

NS = namespace("acme", kb_version="v1", config_hash="c1")
QUERY = "whats the yearly fee on the gold card"
STORED = "gold card annual fee"


def at(similarity: float) -> np.ndarray:
    """A unit vector at ``similarity`` to the query vector (1, 0, 0)."""
    return np.asarray([similarity, math.sqrt(1 - similarity ** 2), 0.0], dtype=np.float32)


Q_VEC = np.asarray([1.0, 0.0, 0.0], dtype=np.float32)


class StubJudge:
    """Answers ``verdict`` (or raises ``error``) and counts the calls."""

    name = "stub"

    def __init__(self, verdict: bool = True, error: Exception | None = None) -> None:
        self.verdict, self.error, self.calls = verdict, error, 0

    def same_answer(self, a: str, b: str) -> bool:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.verdict

    async def asame_answer(self, a: str, b: str) -> bool:
        return self.same_answer(a, b)

    def close(self) -> None:
        pass


def cache_with(judge: StubJudge, *, similarity: float = 0.95, accept_above: float = 0.97,
               backend: MemoryBackend | None = None, clock: FakeClock | None = None) -> SemanticCache:
    tier = JudgeTier(judge, accept_above=accept_above, retry_interval_s=10.0, clock=clock or FakeClock())
    sem = SemanticCache(None, backend if backend is not None else MemoryBackend(), threshold=0.9, verifier=RuleVerifier(), dim=3, judge=tier)
    sem.put(NS, STORED, question=STORED, payload={"answer": "RMB 600"}, embedding=at(similarity))
    return sem


def test_parse_verdict() -> None:
    assert parse_verdict("yes") and parse_verdict(" Yes.") and parse_verdict("是")
    assert not parse_verdict("no") and not parse_verdict("No, they differ") and not parse_verdict("否")
    for garbage in ("", "I can", "maybe", "not sure", "never mind"):
        with pytest.raises(GeneratorError, match="neither yes nor no"):
            parse_verdict(garbage)


def test_the_judge_is_asked_about_the_pair_last() -> None:
    msgs = judge_messages("a?", "b?")
    assert msgs[0]["role"] == "system" and msgs[-1] == {"role": "user", "content": "Q1: a?\nQ2: b?"}
    assert [m["role"] for m in msgs[1:-1]] == ["user", "assistant"] * 4


@pytest.mark.parametrize(("verdict", "served"), [(True, True), (False, False)])
def test_in_the_band_the_judge_decides(verdict: bool, served: bool) -> None:
    judge = StubJudge(verdict)
    sem = cache_with(judge)
    match = sem.get(NS, QUERY, embedding=Q_VEC)
    assert (match is not None) is served and judge.calls == 1
    assert sem.stats.as_dict()["judge_refused"] == (0 if served else 1)


def test_above_the_band_the_rules_alone_decide() -> None:
    judge = StubJudge(False)
    sem = cache_with(judge, similarity=0.98, accept_above=0.97)
    assert sem.get(NS, QUERY, embedding=Q_VEC) is not None and judge.calls == 0


def test_a_pair_the_rules_refuse_never_reaches_the_judge() -> None:
    judge = StubJudge(True)
    sem = cache_with(judge)
    assert sem.get(NS, "whats the yearly fee on the platinum card", embedding=Q_VEC) is None
    assert judge.calls == 0 and sem.stats.as_dict()["rejected"] == 1


def test_a_verdict_is_cached_in_process_and_in_the_backend() -> None:
    backend = MemoryBackend()
    judge = StubJudge(True)
    sem = cache_with(judge, backend=backend)
    for _ in range(3):
        assert sem.get(NS, QUERY, embedding=Q_VEC) is not None
    assert judge.calls == 1 and sem.judge.stats()["cached_local"] == 2
    other_worker = StubJudge(False)  # would refuse, but the shared verdict is found first
    sem2 = cache_with(other_worker, backend=backend)
    assert sem2.get(NS, QUERY, embedding=Q_VEC) is not None
    assert other_worker.calls == 0 and sem2.judge.stats()["cached_shared"] == 1
    assert sem.judge.verdict_key("wb", QUERY, STORED) == sem.judge.verdict_key("wb", STORED, QUERY)


def test_the_in_process_lru_is_bounded() -> None:
    tier = JudgeTier(StubJudge(True), lru_entries=2)
    backend = MemoryBackend()
    for i in range(5):
        assert run_sync(tier.plan_verdict(backend, "wb", f"q{i}", "c")) is True
    assert tier.stats()["verdicts_in_process"] == 2 and tier.stats()["asked"] == 5


@pytest.mark.parametrize("error", [GeneratorError("model crashed"), GeneratorTimeoutError("no verdict in 10 s"),
                                   RuntimeError("a bug in a user's judge")])
def test_a_failing_judge_refuses_counts_and_rests(error: Exception) -> None:
    clock = FakeClock()
    judge = StubJudge(True, error=error)
    sem = cache_with(judge, clock=clock)
    assert sem.get(NS, QUERY, embedding=Q_VEC) is None  # never raises, never serves
    assert sem.get(NS, QUERY, embedding=Q_VEC) is None  # inside the retry interval: not even asked
    st = sem.judge.stats()
    assert judge.calls == 1 and st["failures"] == 1 and st["skipped"] == 1
    assert sem.stats.as_dict()["judge_failed"] == 2
    key = sem.judge.verdict_key(sem.prefix, QUERY, STORED)
    assert sem.backend.get(key) is None  # a failure is not a verdict: nothing stored
    clock.advance(11)
    judge.error = None
    assert sem.get(NS, QUERY, embedding=Q_VEC) is not None and judge.calls == 2  # back after the interval
    assert sem.backend.get(key) == b"1"


def test_a_judge_refusal_does_not_promote_the_refused_entry_s_paraphrase() -> None:
    judge = StubJudge(False)
    sem = cache_with(judge, similarity=0.95)
    sem.put(NS, STORED + " please", question="x", payload={"answer": "same entry, other words"}, embedding=at(0.94))
    assert sem.get(NS, QUERY, embedding=Q_VEC) is None
    st = sem.stats.as_dict()
    assert st["judge_refused"] == 1 and st["shadowed"] == 1 and judge.calls == 1


async def test_the_async_form_decides_the_same() -> None:
    for verdict in (True, False):
        judge = StubJudge(verdict)
        sem = cache_with(judge)
        match = await sem.aget(NS, QUERY, embedding=Q_VEC)
        assert (match is not None) is verdict and judge.calls == 1


def test_the_stack_builds_the_tier_from_the_config() -> None:
    cfg = PipelineConfig().with_overrides({
        "cache.enabled": True, "cache.key_prefix": f"t{uuid.uuid4().hex[:8]}", "cache.exact.enabled": False,
        "cache.semantic.threshold": 0.5, "cache.semantic.judge.kind": "local",
        "cache.semantic.judge.accept_above": 0.99, "cache.semantic.judge.model": "qwen2.5-coder-0.5b"})
    stack = CacheStack.from_config(cfg, kb_version="v1", embedder=HashingEmbedder())
    tier = stack.semantic.judge
    assert isinstance(tier, JudgeTier) and isinstance(tier.judge, LocalJudge) and tier.accept_above == 0.99
    assert tier.judge.name == "local:qwen2.5-coder-0.5b@0"  # the model loads on its first verdict, not here
    stack.close()
    judge = StubJudge(False)
    stack = CacheStack.from_config(cfg, kb_version="v1", embedder=HashingEmbedder(), judge=judge)
    stack.store("acme", "what is the annual fee of the gold card", {"answer": "RMB 600"})
    assert stack.lookup("acme", "what is the annual fee of the gold card please") is None and judge.calls == 1
    assert stack.stats()["layers"]["semantic"]["index"]["judge"]["no"] == 1
    no_judge = CacheStack.from_config(PipelineConfig().with_overrides({"cache.enabled": True}), kb_version="v1",
                                      embedder=HashingEmbedder())
    assert no_judge.semantic.judge is None


def test_an_openai_judge_needs_its_server() -> None:
    cfg = PipelineConfig().with_overrides({"cache.enabled": True, "cache.semantic.judge.kind": "openai"})
    with pytest.raises(ConfigError, match="base_url"):
        CacheStack.from_config(cfg, kb_version="v1", embedder=HashingEmbedder())
    cfg = cfg.with_overrides({"cache.semantic.judge.base_url": "http://127.0.0.1:9/v1",
                              "cache.semantic.judge.api_key_env": f"WB_UNSET_{uuid.uuid4().hex}"})
    with pytest.raises(ConfigError, match="not set"):
        CacheStack.from_config(cfg, kb_version="v1", embedder=HashingEmbedder())


def test_without_rules_in_the_band_the_judge_alone_decides() -> None:
    judge = StubJudge(True)
    tier = JudgeTier(judge, accept_above=0.97, rules_in_band=False)
    sem = SemanticCache(None, MemoryBackend(), threshold=0.9, verifier=RuleVerifier(), dim=3, judge=tier)
    sem.put(NS, STORED, question=STORED, payload={"answer": "RMB 600"}, embedding=at(0.95))
    platinum = "whats the yearly fee on the platinum card"  # the rules would refuse it (tier differs)
    assert sem.get(NS, platinum, embedding=Q_VEC) is not None and judge.calls == 1
    above = cache_with(StubJudge(True), similarity=0.98, accept_above=0.97)
    above.judge.rules_in_band = False
    assert above.get(NS, platinum, embedding=Q_VEC) is None  # above the band the rules still decide
    assert tier.stats()["rules_in_band"] is False


class StalledJudge:
    """A judge that never answers until released: the failure mode a timeout exists for (a hung model or server)."""

    name = "stalled"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def same_answer(self, a: str, b: str) -> bool:
        self.calls += 1
        self.release.wait()
        return True

    async def asame_answer(self, a: str, b: str) -> bool:
        self.calls += 1
        await asyncio.Event().wait()  # never set: only the tier's timeout ends it
        return True

    def close(self) -> None:
        self.release.set()


def stalled_cache(judge: StalledJudge, clock: FakeClock, **kw: Any) -> SemanticCache:
    tier = JudgeTier(judge, accept_above=0.97, retry_interval_s=10.0, timeout_s=0.05, clock=clock, **kw)
    sem = SemanticCache(None, MemoryBackend(), threshold=0.9, verifier=RuleVerifier(), dim=3, judge=tier)
    sem.put(NS, STORED, question=STORED, payload={"answer": "RMB 600"}, embedding=at(0.95))
    return sem


def test_a_stalled_judge_times_out_into_a_miss_and_opens_the_breaker() -> None:
    clock = FakeClock()
    judge = StalledJudge()
    sem = stalled_cache(judge, clock)
    assert sem.get(NS, QUERY, embedding=Q_VEC) is None  # returned although the judge still has not answered
    assert sem.get(NS, QUERY, embedding=Q_VEC) is None  # breaker open: not asked again
    st = sem.judge.stats()
    assert judge.calls == 1 and st["failures"] == 1 and st["skipped"] == 1 and st["breaker"] == "open"
    assert sem.stats.as_dict()["judge_failed"] == 2
    judge.release.set()
    clock.advance(11)  # past the reset time: one probe goes through, answers, and closes the breaker
    assert sem.get(NS, QUERY, embedding=Q_VEC) is not None and sem.judge.stats()["breaker"] == "closed"
    sem.judge.close()


async def test_a_stalled_async_judge_times_out_into_a_miss() -> None:
    clock = FakeClock()
    judge = StalledJudge()
    sem = stalled_cache(judge, clock)
    assert await sem.aget(NS, QUERY, embedding=Q_VEC) is None
    assert await sem.aget(NS, QUERY, embedding=Q_VEC) is None
    st = sem.judge.stats()
    assert judge.calls == 1 and st["failures"] == 1 and st["skipped"] == 1
    sem.judge.close()


def test_the_breaker_opens_after_its_failures_in_a_row() -> None:
    clock = FakeClock()
    judge = StubJudge(True, error=GeneratorError("model crashed"))
    tier = JudgeTier(judge, accept_above=0.97, retry_interval_s=10.0, breaker_failures=2, clock=clock)
    backend = MemoryBackend()
    for _ in range(3):
        assert run_sync(tier.plan_verdict(backend, "wb", QUERY, STORED)) is None
    assert judge.calls == 2 and tier.stats()["skipped"] == 1 and tier.breaker is not None
    assert tier.breaker.state == "open"


def test_an_evaluation_tier_keeps_verdicts_out_of_the_backend() -> None:
    backend = MemoryBackend()
    tier = JudgeTier(StubJudge(True), shared_verdicts=False)
    assert run_sync(tier.plan_verdict(backend, "wb", QUERY, STORED)) is True
    assert backend.get(tier.verdict_key("wb", QUERY, STORED)) is None
    with pytest.raises(ConfigError):
        JudgeTier(StubJudge(True), timeout_s=0.0)
