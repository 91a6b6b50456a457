"""An OpenAI-compatible judge against a real server: the workbench's LLM service on real uvicorn.

The simulated backend gives the failure modes for real (its replies are extractive answers, never
yes/no; a failure rate of 1 answers 503; a long time to first token outlasts the judge's timeout), and the
llama.cpp backend gives a real model's verdicts over HTTP (slow)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from workbench.cache import JudgeTier, MemoryBackend, RemoteJudge, RuleVerifier, SemanticCache, namespace
from workbench.config import CacheJudgeConfig
from workbench.errors import GeneratorError, GeneratorTimeoutError
from workbench.serving import LlamaCppBackend, SimulatedBackend, SimulatedLLM, create_llm_app
from workbench.testing import UvicornServer

NS = namespace("acme", kb_version="v1", config_hash="c1")


def serve(spec: SimulatedLLM) -> UvicornServer:
    return UvicornServer(create_llm_app(SimulatedBackend(spec))).start()


def judge_of(server: UvicornServer, timeout_s: float = 5.0) -> RemoteJudge:
    return RemoteJudge.from_config(CacheJudgeConfig(kind="openai", base_url=f"{server.url}/v1", model="m",
                                                    timeout_s=timeout_s))


@pytest.fixture
def chatty() -> Iterator[UvicornServer]:
    server = serve(SimulatedLLM(ttft_ms=5, tpot_ms=1, slots=4, jitter=0.0))
    yield server
    server.stop()


def test_a_reply_that_is_not_yes_or_no_is_a_failure(chatty: UvicornServer) -> None:
    judge = judge_of(chatty)
    with pytest.raises(GeneratorError, match="neither yes nor no"):
        judge.same_answer("gold card fee", "gold card annual fee")
    judge.close()


async def test_async_garbage_is_a_failure_too(chatty: UvicornServer) -> None:
    judge = judge_of(chatty)
    with pytest.raises(GeneratorError, match="neither yes nor no"):
        await judge.asame_answer("gold card fee", "gold card annual fee")
    await judge.generator.aclose()
    judge.close()


def test_a_server_error_and_a_timeout_refuse_the_candidate_and_are_counted() -> None:
    failing = serve(SimulatedLLM(ttft_ms=5, slots=4, jitter=0.0, failure_rate=1.0))
    slow = serve(SimulatedLLM(ttft_ms=3000, slots=4, jitter=0.0))
    try:
        with pytest.raises(GeneratorTimeoutError):
            judge_of(slow, timeout_s=0.3).same_answer("a", "b")
        for server, timeout in ((failing, 5.0), (slow, 0.3)):
            tier = JudgeTier(judge_of(server, timeout), accept_above=0.99, retry_interval_s=0.0)
            sem = SemanticCache(None, MemoryBackend(), threshold=0.9, verifier=RuleVerifier(), dim=2, judge=tier)
            sem.put(NS, "gold card annual fee", question="q", payload={"answer": "RMB 600"},
                    embedding=np.asarray([0.95, 0.3122499], dtype=np.float32))
            assert sem.get(NS, "whats the yearly fee on the gold card", embedding=np.asarray([1.0, 0.0])) is None
            assert tier.stats()["failures"] == 1 and sem.stats.as_dict()["judge_failed"] == 1
            tier.close()
    finally:
        failing.stop()
        slow.stop()


@pytest.mark.slow
def test_a_real_model_over_http_gives_verdicts() -> None:
    """Qwen2.5-Coder-1.5B behind the LLM service, asked for a one-word reply (about 10-60 s on a busy machine)."""
    with UvicornServer(create_llm_app(LlamaCppBackend("qwen2.5-coder-1.5b", threads=2))) as server:
        judge = judge_of(server, timeout_s=120.0)
        verdicts = {pair: judge.same_answer(*pair) for pair in (
            ("whats the daily limit for debit card atm withdrawals", "debit card atm limit per day"),
            ("gold card annual fee", "whats the yearly fee on the gold card"),
        )}
        judge.close()
    assert all(isinstance(v, bool) for v in verdicts.values())
    assert any(verdicts.values())  # a real verdict, not a refusal by failure
