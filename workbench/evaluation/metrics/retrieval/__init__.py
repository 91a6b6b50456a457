"""Retrieval metrics (trec_eval definitions)."""

from workbench.evaluation.metrics.retrieval.ranking import (
    Qrels,
    Run,
    average_precision,
    dedupe,
    has_relevant,
    hit_at_k,
    ndcg_at_k,
    precision_at_k,
    rank_run,
    recall_at_k,
    reciprocal_rank,
    retrieval_scores,
)

__all__ = [
    "Qrels",
    "Run",
    "average_precision",
    "dedupe",
    "has_relevant",
    "hit_at_k",
    "ndcg_at_k",
    "precision_at_k",
    "rank_run",
    "recall_at_k",
    "reciprocal_rank",
    "retrieval_scores",
]
