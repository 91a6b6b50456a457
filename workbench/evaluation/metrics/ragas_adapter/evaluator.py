"""Run ragas metrics on our samples: the non-LLM string metrics, and the LLM-judged faithfulness,
answer relevancy and context precision with a local judge.

```python
ev = RagasEvaluator(llm=None)                                   # non-LLM metrics only
ev.score(RagasSample("fee?", response="$20", reference="$20 a year", retrieved_contexts=["..."]))
ev = RagasEvaluator(llm=LocalRagasLLM("gemma-3-270m"), embeddings=LocalRagasEmbeddings("e5-small"))
frame = ev.score_many(samples)                                  # one row per sample, NaN where a judge failed
```

A metric that fails on a sample (the judge returned no valid JSON, a missing input) gives NaN and an
entry in the row's ``ragas_errors``; nothing is silently replaced by 0.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["LLM_METRICS", "NON_LLM_METRICS", "RagasEvaluator", "RagasSample", "run_sync"]

T = TypeVar("T")

#: ragas metrics that need no model.
NON_LLM_METRICS = ("exact_match", "string_presence", "string_similarity", "rouge_l", "bleu", "chrf")
#: ragas metrics judged by an LLM (answer relevancy also needs embeddings).
LLM_METRICS = ("faithfulness", "answer_relevancy", "context_precision")


@dataclass(frozen=True)
class RagasSample:
    """One question with the pipeline's answer, its gold reference and the retrieved passages."""

    user_input: str
    response: str
    reference: str = ""
    retrieved_contexts: tuple[str, ...] = field(default_factory=tuple)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, inside or outside a running event loop
    (inside one, e.g. a notebook, it runs on a private loop in a helper thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="ragas-run-sync")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


class RagasEvaluator:
    """ragas metric collections (0.4 API) applied to :class:`RagasSample` s.

    ``llm``: an ``InstructorBaseRagasLLM`` (e.g. :class:`LocalRagasLLM`) or ``None`` for the non-LLM
    metrics only; ``embeddings``: a ``BaseRagasEmbedding`` for answer relevancy; ``strictness``: how many
    questions answer relevancy generates (1 keeps a small judge fast).
    """

    def __init__(self, *, llm: Any = None, embeddings: Any = None, metrics: Sequence[str] | None = None,
                 strictness: int = 1) -> None:
        wanted = tuple(metrics) if metrics is not None else NON_LLM_METRICS + (LLM_METRICS if llm is not None else ())
        unknown = [m for m in wanted if m not in NON_LLM_METRICS + LLM_METRICS]
        if unknown:
            raise ValueError(f"unknown ragas metrics {unknown}; choose from {NON_LLM_METRICS + LLM_METRICS}")
        if llm is None and any(m in LLM_METRICS for m in wanted):
            raise ValueError(f"metrics {[m for m in wanted if m in LLM_METRICS]} need llm= (e.g. LocalRagasLLM())")
        if "answer_relevancy" in wanted and embeddings is None:
            raise ValueError("answer_relevancy needs embeddings= (e.g. LocalRagasEmbeddings('e5-small'))")
        self.metric_names = wanted
        self._metrics = self._build(wanted, llm, embeddings, strictness)

    @staticmethod
    def _build(names: Sequence[str], llm: Any, embeddings: Any, strictness: int) -> dict[str, Any]:
        from ragas.metrics import collections as rc

        factories = {
            "exact_match": lambda: rc.ExactMatch(),
            "string_presence": lambda: rc.StringPresence(),
            "string_similarity": lambda: rc.NonLLMStringSimilarity(),
            "rouge_l": lambda: rc.RougeScore(rouge_type="rougeL", mode="fmeasure"),
            "bleu": lambda: rc.BleuScore(),
            "chrf": lambda: rc.CHRFScore(),
            "faithfulness": lambda: rc.Faithfulness(llm=llm),
            "answer_relevancy": lambda: rc.AnswerRelevancy(llm=llm, embeddings=embeddings, strictness=strictness),
            "context_precision": lambda: rc.ContextPrecisionWithReference(llm=llm),
        }
        return {name: factories[name]() for name in names}

    def _inputs(self, name: str, s: RagasSample) -> dict[str, Any]:
        if name in NON_LLM_METRICS:
            return {"reference": s.reference, "response": s.response}
        if name == "faithfulness":
            return {"user_input": s.user_input, "response": s.response,
                    "retrieved_contexts": list(s.retrieved_contexts)}
        if name == "answer_relevancy":
            return {"user_input": s.user_input, "response": s.response}
        return {"user_input": s.user_input, "reference": s.reference, "retrieved_contexts": list(s.retrieved_contexts)}

    async def ascore(self, sample: RagasSample) -> dict[str, Any]:
        """``{metric: value}`` for one sample, plus ``ragas_errors`` (metric → message) when some failed.

        Metrics run one after another: a local judge serves one call at a time anyway.
        """
        out: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, metric in self._metrics.items():
            try:
                result = await metric.ascore(**self._inputs(name, sample))
                value = float(result.value) if result.value is not None else math.nan
            except Exception as exc:  # a judge failure is data about the judge, recorded per metric
                value = math.nan
                errors[name] = f"{type(exc).__name__}: {exc}"[:300]
            out[f"ragas_{name}"] = value
        out["ragas_errors"] = errors
        return out

    def score(self, sample: RagasSample) -> dict[str, Any]:
        """Sync :meth:`ascore` (works inside a notebook's running loop too)."""
        return run_sync(self.ascore(sample))

    def score_many(self, samples: Sequence[RagasSample]) -> Any:
        """A pandas DataFrame, one row per sample."""
        import pandas as pd

        async def all_samples() -> list[dict[str, Any]]:
            return [await self.ascore(s) for s in samples]

        return pd.DataFrame(run_sync(all_samples()))
