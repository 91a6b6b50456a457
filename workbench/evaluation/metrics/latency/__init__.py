"""Latency percentiles (nearest rank) and token counts."""

from workbench.evaluation.metrics.latency.percentiles import (
    PERCENTILE_METHOD,
    latency_summary,
    nearest_rank_percentile,
    token_summary,
)

__all__ = ["PERCENTILE_METHOD", "latency_summary", "nearest_rank_percentile", "token_summary"]
