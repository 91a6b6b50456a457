"""The direct judge prompt with real models: Qwen2.5-Coder-0.5B in process (llama.cpp) and behind the
project's OpenAI-compatible LLM service (a judge chosen by config), and a failing service whose failures are
counted, never turned into verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.config import GeneratorConfig
from workbench.evaluation.judge import JudgeItem, PromptJudge, make_judge_generator
from workbench.evaluation.labels import load_label_set
from workbench.serving import LlamaCppBackend, SimulatedBackend, SimulatedLLM, create_llm_app
from workbench.testing.servers import UvicornServer

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "evaluation"


def _item(item_id: str) -> JudgeItem:
    it = {i.id: i for i in load_label_set(FIX / "judge_labels.jsonl")}[item_id]
    return JudgeItem(it.question, it.references, it.system_answer, lang=it.lang)


def _remote(url: str, **kwargs: object) -> GeneratorConfig:
    return GeneratorConfig(kind="openai", base_url=f"{url}/v1", model="judge", max_tokens=6, stop=("\n",), chat=True,
                           **kwargs)


def test_a_failing_judge_service_gives_missing_verdicts_and_counts_them() -> None:
    spec = SimulatedLLM(ttft_ms=1, tpot_ms=0, jitter=0, failure_rate=1.0)
    with UvicornServer(create_llm_app(SimulatedBackend(spec))) as server:
        gen = make_judge_generator(_remote(server.url, retries=0, timeout_s=5.0))
        judge = PromptJudge(gen, repeats=2, retries=1)
        verdict = judge.judge(_item("fx-01"))
        gen.close()
    assert verdict.verdict is None and verdict.votes == (None, None)
    assert verdict.failures == 2 and verdict.attempts == 4 and judge.failed_calls == 4
    assert all("503" in e for e in verdict.errors)


@pytest.mark.slow
def test_qwen_0_5b_judges_a_clear_case_with_repeats() -> None:
    gen = make_judge_generator("qwen2.5-coder-0.5b")
    try:
        judge = PromptJudge(gen, repeats=2)
        v = judge.judge(_item("fx-01"))            # "4" for "4 free visits per card year": correct (C1)
    finally:
        gen.close()
    assert len(v.votes) == 2 and v.failures == 0 and judge.calls == v.attempts >= 2
    assert v.verdict == "correct", v


@pytest.mark.slow
def test_the_same_model_behind_the_openai_compatible_service_judges_by_config() -> None:
    with UvicornServer(create_llm_app(LlamaCppBackend("qwen2.5-coder-0.5b", threads=1))) as server:
        gen = make_judge_generator(_remote(server.url, timeout_s=300.0))
        judge = PromptJudge(gen, repeats=1)
        v = judge.judge(_item("fx-01"))
        gen.close()
    assert v.failures == 0 and v.verdict == "correct", v
