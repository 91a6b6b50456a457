"""The ragas adapter: non-LLM metrics, and LLM metrics judged by our local model, offline."""

from workbench.evaluation.metrics.ragas_adapter.embeddings import LocalRagasEmbeddings
from workbench.evaluation.metrics.ragas_adapter.evaluator import (
    LLM_METRICS,
    NON_LLM_METRICS,
    RagasEvaluator,
    RagasSample,
    run_sync,
)
from workbench.evaluation.metrics.ragas_adapter.llm import LocalRagasLLM, parse_structured

__all__ = [
    "LLM_METRICS",
    "LocalRagasEmbeddings",
    "LocalRagasLLM",
    "NON_LLM_METRICS",
    "RagasEvaluator",
    "RagasSample",
    "parse_structured",
    "run_sync",
]
