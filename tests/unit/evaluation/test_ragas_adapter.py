"""The ragas adapter: non-LLM metrics, structured parsing, and the LLM metrics wired through a scripted judge."""

from __future__ import annotations

import json
import math

import pytest
from pydantic import BaseModel

from workbench.errors import GeneratorError
from workbench.evaluation.metrics.ragas_adapter import (
    LocalRagasLLM,
    RagasEvaluator,
    RagasSample,
    parse_structured,
    run_sync,
)


class _Verdict(BaseModel):
    verdict: int


def test_parse_structured_skips_invalid_json() -> None:
    assert parse_structured('noise {"bad": } then {"verdict": 1} tail', _Verdict).verdict == 1
    with pytest.raises(GeneratorError, match="did not return a valid _Verdict"):
        parse_structured("no json at all", _Verdict)


def test_non_llm_metrics() -> None:
    ev = RagasEvaluator()
    out = ev.score(RagasSample("fee?", response="20 dollars a year", reference="20 dollars a year"))
    assert out["ragas_exact_match"] == 1.0 and out["ragas_rouge_l"] == pytest.approx(1.0)
    assert out["ragas_errors"] == {}
    with pytest.raises(ValueError):
        RagasEvaluator(metrics=["faithfulness"])


class _ScriptedGenerator:
    """Answers ragas' prompts with fixed JSON, by what the prompt asks for."""

    model = "scripted"

    def run(self, prompt: str = "", **_: object) -> dict:
        tail = prompt.split("Now perform")[-1]
        if '"context"' in tail and '"statements"' in tail:         # NLI verdicts
            raw = json.dumps({"statements": [{"statement": "The fee is 20 dollars.", "reason": "stated",
                                              "verdict": 1}]})
        elif '"context"' in tail:                                   # context precision: no JSON
            raw = "I cannot say."
        else:                                                       # statement extraction
            raw = json.dumps({"statements": ["The fee is 20 dollars."]})
        return {"replies": [raw], "meta": [{"raw": raw}]}


def test_llm_metric_through_the_custom_llm_interface() -> None:
    llm = LocalRagasLLM(_ScriptedGenerator())
    ev = RagasEvaluator(llm=llm, metrics=["faithfulness", "context_precision"])
    out = ev.score(RagasSample("What is the fee?", response="The fee is 20 dollars.", reference="20 dollars",
                               retrieved_contexts=("The gold card fee is 20 dollars.",)))
    assert out["ragas_faithfulness"] == 1.0
    assert math.isnan(out["ragas_context_precision"])              # the judge gave no JSON: NaN + an error
    assert "context_precision" in out["ragas_errors"] and llm.failures >= 1


async def test_run_sync_works_inside_a_running_loop() -> None:
    async def answer() -> int:
        return 42

    assert run_sync(answer()) == 42
