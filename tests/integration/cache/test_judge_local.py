"""The local judge with the real bundled model (Qwen2.5-Coder-1.5B-Instruct, llama.cpp in process).

Slow: each verdict is one forward pass over the pair's tokens (the instruction and the examples stay
evaluated), seconds on a busy 2-core machine."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.cache import JudgeTier, LocalJudge, MemoryBackend, NullVerifier, SemanticCache, namespace
from workbench.errors import GeneratorTimeoutError

pytestmark = pytest.mark.slow

SAME = [("gold card annual fee", "whats the yearly fee on the gold card"),
        ("whats the daily limit for debit card atm withdrawals", "debit card atm limit per day"),
        ("how long is the sms code valid", "sms code expiry time")]
DIFFERENT = [("how do i raise my credit limit", "how do i lower my credit limit"),
             ("got a new login alert and it was me", "got a new login alert and it wasnt me"),
             ("fee to send money abroad", "fee to receive money from abroad")]


@pytest.fixture(scope="module")
def judge() -> LocalJudge:
    j = LocalJudge("qwen2.5-coder-1.5b", threads=1, timeout_s=600.0)  # 1: differs from the batch default (every core)
    yield j
    j.close()


def test_the_model_scores_paraphrases_above_near_misses(judge: LocalJudge) -> None:
    import llama_cpp

    same = [judge.score(a, b) for a, b in SAME]
    ctx = judge._verdict._llm.ctx  # type: ignore[union-attr]
    assert llama_cpp.llama_n_threads_batch(ctx) == llama_cpp.llama_n_threads(ctx) == judge.threads
    different = [judge.score(a, b) for a, b in DIFFERENT]
    assert min(same) > max(different), (same, different)
    assert judge.score(*SAME[0][::-1]) == same[0]  # unordered pair, remembered


async def test_the_tier_serves_a_paraphrase_and_refuses_a_near_miss(judge: LocalJudge) -> None:
    """No rules (a null verifier): the judge alone decides in its band."""
    ns = namespace("acme", kb_version="v1", config_hash="c1")
    cutoff = (min(judge.score(a, b) for a, b in SAME) + max(judge.score(a, b) for a, b in DIFFERENT)) / 2
    judge.cutoff = cutoff
    tier = JudgeTier(judge, accept_above=0.999)
    sem = SemanticCache(None, MemoryBackend(), threshold=0.5, verifier=NullVerifier(), dim=2, judge=tier)
    near = np.asarray([0.95, 0.3122499], dtype=np.float32)
    q = np.asarray([1.0, 0.0], dtype=np.float32)
    sem.put(ns, SAME[1][0], question="q", payload={"answer": "RMB 20,000 per day"}, embedding=near)
    assert (await sem.aget(ns, SAME[1][1], embedding=q)) is not None
    sem2 = SemanticCache(None, MemoryBackend(), threshold=0.5, verifier=NullVerifier(), dim=2, judge=tier)
    sem2.put(ns, DIFFERENT[2][0], question="q", payload={"answer": "0.1%"}, embedding=near)
    assert sem2.get(ns, DIFFERENT[2][1], embedding=q) is None
    assert tier.stats()["yes"] == 1 and tier.stats()["no"] == 1 and tier.stats()["failures"] == 0


def test_a_verdict_past_its_deadline_is_a_timeout() -> None:
    judge = LocalJudge("qwen2.5-coder-1.5b", timeout_s=0.001)  # loading the model alone takes longer
    with pytest.raises(GeneratorTimeoutError):
        judge.same_answer("a", "b")
    judge.close()
