"""Prometheus metrics of one serving engine, on its own :class:`CollectorRegistry`.

Several engines in one process (tests, A/B notebooks) never clash, because nothing is registered on
the global registry::

    m = EngineMetrics()
    m.observe_request(variant="control", level=0, cache_layer=None, status="ok", total_ms=12.0,
                      stages={"generate": 10.0})
    text = m.render().decode()
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["EngineMetrics", "STAGES"]

#: Stages whose latency is exported as ``workbench_stage_latency_seconds{stage=...}``.
STAGES = ("cache", "embed", "generate", "memory", "prompt", "queue", "rerank", "retrieve_bm25", "retrieve_dense",
          "fuse", "tool", "ttft")

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class EngineMetrics:
    """The engine's counters, gauges and histograms (names prefixed ``workbench_``)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("workbench_requests", "Requests answered or refused",
                                ["variant", "level", "cache_layer", "status"], registry=r)
        self.latency = Histogram("workbench_request_latency_seconds", "End-to-end engine latency",
                                 ["variant", "level"], buckets=_BUCKETS, registry=r)
        self.stage = Histogram("workbench_stage_latency_seconds", "Latency per request-path stage",
                               ["stage", "variant"], buckets=_BUCKETS, registry=r)
        self.inter_token = Histogram("workbench_inter_token_seconds", "Time between streamed tokens",
                                     ["variant"], buckets=_BUCKETS, registry=r)
        self.cache_hits = Counter("workbench_cache_hits", "Cache hits per layer", ["layer"], registry=r)
        self.cache_misses = Counter("workbench_cache_misses", "Cache lookups that missed", registry=r)
        self.shed = Counter("workbench_shed", "Requests shed by admission control or degradation", ["reason"],
                            registry=r)
        self.queue_depth = Gauge("workbench_queue_depth", "Requests waiting for a pipeline slot", registry=r)
        self.in_flight = Gauge("workbench_in_flight", "Requests holding a pipeline slot", registry=r)
        self.level = Gauge("workbench_degradation_level", "Current degradation level (0 = full)", registry=r)
        self.batch_size = Histogram("workbench_embed_batch_size", "Query-embedding micro-batch sizes",
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128), registry=r)

    def observe_request(self, *, variant: str, level: int, cache_layer: str | None, status: str, total_ms: float,
                        stages: Mapping[str, float] | None = None) -> None:
        """Count one finished request and observe its latencies (milliseconds in, seconds exported)."""
        lvl = str(level)
        self.requests.labels(variant, lvl, cache_layer or "miss", status).inc()
        self.latency.labels(variant, lvl).observe(total_ms / 1000.0)
        for name, ms in (stages or {}).items():
            if name in STAGES:
                self.stage.labels(name, variant).observe(ms / 1000.0)

    def render(self) -> bytes:
        """The Prometheus text exposition of this engine's registry."""
        return generate_latest(self.registry)
