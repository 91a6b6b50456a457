"""Evaluation metrics, one module or folder per family: ``retrieval``, ``answer``, ``latency``, ``cache``,
and ``ragas_adapter`` (imported on demand: ragas is heavy). Percentiles: :mod:`workbench.percentiles`."""

from workbench.evaluation.metrics.answer import (
    AnswerMatch,
    SemanticSimilarity,
    answer_scores,
    cmrc_em,
    cmrc_f1,
    exact_match,
    f1_score,
    match_answer,
    rouge_l,
    squad_em,
    squad_f1,
)
from workbench.evaluation.metrics.cache import CacheEvent, cache_quality
from workbench.evaluation.metrics.latency import latency_summary, token_summary
from workbench.evaluation.metrics.retrieval import (
    average_precision,
    dedupe,
    hit_at_k,
    ndcg_at_k,
    precision_at_k,
    rank_run,
    recall_at_k,
    reciprocal_rank,
    retrieval_scores,
)

#: Bumped whenever a metric definition changes: it is part of every experiment's cache key.
#: 2: the answer's language comes from the question, never the references; the ``correct`` column.
METRICS_VERSION = "2"

__all__ = [
    "AnswerMatch",
    "CacheEvent",
    "METRICS_VERSION",
    "SemanticSimilarity",
    "answer_scores",
    "average_precision",
    "cache_quality",
    "cmrc_em",
    "cmrc_f1",
    "dedupe",
    "exact_match",
    "f1_score",
    "hit_at_k",
    "latency_summary",
    "match_answer",
    "ndcg_at_k",
    "precision_at_k",
    "rank_run",
    "recall_at_k",
    "reciprocal_rank",
    "retrieval_scores",
    "rouge_l",
    "squad_em",
    "squad_f1",
    "token_summary",
]
