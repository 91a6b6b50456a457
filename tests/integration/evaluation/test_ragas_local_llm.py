"""ragas' LLM metrics judged by our local Gemma-3-270M through the custom-LLM interface, offline.

Small and bounded: 2 samples, short generations. A 270M judge is weak; the test checks the wiring
(the model is called, every value is a score in [0, 1] or NaN with a recorded reason), not its judgment.
"""

from __future__ import annotations

import importlib.util
import math

import pytest

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python missing")]


def test_faithfulness_relevancy_precision_with_gemma() -> None:
    from workbench.evaluation.metrics.ragas_adapter import (
        LocalRagasEmbeddings,
        LocalRagasLLM,
        RagasEvaluator,
        RagasSample,
    )

    llm = LocalRagasLLM("gemma-3-270m", max_tokens=96, threads=2)
    ev = RagasEvaluator(llm=llm, embeddings=LocalRagasEmbeddings("e5-small"),
                        metrics=["faithfulness", "answer_relevancy", "context_precision"], strictness=1)
    samples = [
        RagasSample("What is the gold card annual fee?", response="The gold card annual fee is 200 yuan.",
                    reference="200 yuan", retrieved_contexts=("The gold card has an annual fee of 200 yuan.",)),
        RagasSample("How long does a domestic transfer take?", response="It arrives within one business day.",
                    reference="one business day",
                    retrieved_contexts=("Domestic transfers arrive within one business day.",)),
    ]
    frame = ev.score_many(samples)
    assert len(frame) == 2 and llm.calls >= 4
    scored = 0
    for col in ("ragas_faithfulness", "ragas_answer_relevancy", "ragas_context_precision"):
        for value, errors in zip(frame[col], frame["ragas_errors"], strict=True):
            assert (math.isnan(value) and col.removeprefix("ragas_") in errors) or -1.0 <= value <= 1.0
            scored += not math.isnan(value)
    # a NaN with a reason is allowed per value, but if every metric failed on every sample the wiring is broken
    assert scored > 0, f"every ragas metric failed: {list(frame['ragas_errors'])}"
