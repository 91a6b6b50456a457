"""Cache quality metrics: hit rate and wrong-hit rate."""

from workbench.evaluation.metrics.cache.quality import CacheEvent, cache_quality

__all__ = ["CacheEvent", "cache_quality"]
