"""Cache-quality evaluation: a threshold sweep on paraphrases and near-misses, a threshold picker, and a
replay that measures a stack on a request stream (drawn by :mod:`workbench.evaluation.streams`).

A wrong hit is a hit whose stored entry's intent differs from the request's intent. The wrong-hit
rate is stated per hit (wrong hits / hits), the way semantic caches report precision; per request
(wrong hits / requests) is reported next to it::

    stream = ZipfSampler(intent_texts("meridian_bank"), s=1.1, seed=7).sample(5000)
    replay_stream(stack, stream, answer=lambda q: qp.run(q).to_dict()).summary()["wrong_hit_rate_of_hits"]
    sweep = threshold_sweep(load_embedding_model("e5-small"))
    sweep.pick_threshold(0.01)                                       # lowest threshold with ≤ 1% wrong hits
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from workbench.cache.normalizer import QueryNormalizer
from workbench.cache.stack import CacheStack
from workbench.cache.verifier import HitVerifier, RuleVerifier
from workbench.datasets import BankDataset, load_dataset
from workbench.errors import ConfigError
from workbench.evaluation.streams import StreamRequest
from workbench.percentiles import PERCENTILE_METHOD, percentiles

__all__ = [
    "CachedEmbedder",
    "StreamResult",
    "SweepRow",
    "ThresholdSweep",
    "pick_threshold",
    "replay_stream",
    "threshold_sweep",
]


class CachedEmbedder:
    """Wraps an embedder and remembers every text's query embedding (evaluation only: sweeps reuse them)."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder
        self.name = getattr(embedder, "name", "embedder")
        self.dim = embedder.dim
        self._memo: dict[str, np.ndarray] = {}

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts``, computing only the ones not seen before."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if todo:
            for t, v in zip(todo, self.embedder.embed_queries(todo), strict=True):
                self._memo[t] = np.asarray(v, dtype=np.float32)
        return np.stack([self._memo[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Passages are not cached (delegates)."""
        return self.embedder.embed_passages(texts)


# ------------------------------------------------------------------------------------------------
# threshold sweep
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepRow:
    """Cache quality at one threshold."""

    threshold: float
    paraphrase_queries: int
    paraphrase_hits: int
    paraphrase_wrong: int
    near_miss_queries: int
    near_miss_hits: int
    near_miss_wrong: int
    hits: int
    wrong_hits: int
    hit_rate: float
    """Hits / all queries (paraphrases and near-misses)."""
    paraphrase_hit_rate: float
    wrong_hit_rate: float
    """Wrong hits / hits (0 when there are no hits)."""
    near_miss_wrong_rate: float
    """Near-miss queries served another intent's answer / near-miss queries."""
    latency_saved_ms: float | None
    """Per request: hit rate × miss latency − the semantic lookup's own cost (``None`` without latencies)."""


@dataclass
class ThresholdSweep:
    """Rows of a sweep, lowest threshold first."""

    rows: list[SweepRow]
    verifier: str
    stored: int
    notes: dict[str, Any] = field(default_factory=dict)

    def pick_threshold(self, target_wrong_hit_rate: float = 0.01) -> float:
        """See :func:`pick_threshold`."""
        return pick_threshold(self, target_wrong_hit_rate)

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per row (for ``pandas.DataFrame`` or JSON)."""
        return [asdict(r) for r in self.rows]


def pick_threshold(sweep: ThresholdSweep, target_wrong_hit_rate: float = 0.01) -> float:
    """The lowest threshold (so the most hits) whose wrong-hit rate is at most the target, with at least one hit.

    Raises :class:`ConfigError` when no threshold of the sweep meets it (widen the sweep upwards).
    """
    if not 0 <= target_wrong_hit_rate <= 1:
        raise ConfigError("a fraction between 0 and 1 is expected", field="target_wrong_hit_rate")
    ok = [r for r in sweep.rows if r.hits > 0 and r.wrong_hit_rate <= target_wrong_hit_rate]
    if not ok:
        raise ConfigError(f"no threshold in the sweep keeps the wrong-hit rate at or below {target_wrong_hit_rate:.1%};"
                          " sweep higher thresholds or use a stricter verifier", field="cache.semantic.threshold")
    return min(ok, key=lambda r: r.threshold).threshold


def threshold_sweep(embedder: Any, dataset: BankDataset | str = "meridian_bank", *,
                    thresholds: Iterable[float] = tuple(round(0.80 + 0.01 * i, 2) for i in range(20)),
                    verifier: HitVerifier | None = None, normalizer: QueryNormalizer | None = None,
                    top_k: int = 4, miss_latency_ms: float | None = None,
                    lookup_latency_ms: float | None = None) -> ThresholdSweep:
    """Hit rate, wrong-hit rate and latency saved per threshold, on paraphrases and near-misses.

    The cache holds, per paraphrase group, its first paraphrase, and per near-miss pair its ``a``
    side. Queries are the other paraphrases (a hit should serve their own intent) and the ``b``
    sides (serving ``a``'s answer is wrong). A query is served by the first of its ``top_k``
    nearest stored questions at or above the threshold that ``verifier`` accepts, as in
    :class:`~workbench.cache.semantic.SemanticCache`. Queries identical to a stored text (after
    normalization) are skipped: they are exact hits, not semantic ones.
    """
    ds = load_dataset(dataset) if isinstance(dataset, str) else dataset
    norm = normalizer or QueryNormalizer()
    ver = verifier if verifier is not None else RuleVerifier()
    stored: dict[str, str] = {}
    for g in ds.paraphrases:
        stored.setdefault(norm(g.paraphrases[0]), g.intent)
    for nm in ds.near_misses:
        stored.setdefault(norm(nm.a), nm.intent_a)
    queries: list[tuple[str, str, str]] = []  # (normalized, intent, kind)
    for g in ds.paraphrases:
        queries += [(norm(p), g.intent, "paraphrase") for p in g.paraphrases[1:]]
    queries += [(norm(nm.b), nm.intent_b, "near_miss") for nm in ds.near_misses]
    queries = [q for q in queries if q[0] not in stored]
    s_texts = list(stored)
    s_intents = [stored[t] for t in s_texts]
    sv = np.asarray(embedder.embed_queries(s_texts), dtype=np.float32)
    qv = np.asarray(embedder.embed_queries([q[0] for q in queries]), dtype=np.float32)
    sims = qv @ sv.T
    order = np.argsort(-sims, axis=1)[:, :top_k]
    verdict: dict[tuple[int, int], bool] = {}
    rows = []
    for th in sorted(thresholds):
        c = {"paraphrase": [0, 0, 0], "near_miss": [0, 0, 0]}  # queries, hits, wrong
        for qi, (qt, qintent, kind) in enumerate(queries):
            c[kind][0] += 1
            for si in order[qi]:
                if sims[qi, si] < th:
                    break
                key = (qi, int(si))
                if key not in verdict:
                    verdict[key] = ver.verify(qt, s_texts[si]) is None
                if verdict[key]:
                    c[kind][1] += 1
                    c[kind][2] += int(s_intents[si] != qintent)
                    break
        pq, ph, pw = c["paraphrase"]
        nq, nh, nw = c["near_miss"]
        hits, wrong, total = ph + nh, pw + nw, pq + nq
        hit_rate = hits / total if total else 0.0
        saved = None
        if miss_latency_ms is not None:
            saved = hit_rate * miss_latency_ms - (lookup_latency_ms or 0.0)
        rows.append(SweepRow(th, pq, ph, pw, nq, nh, nw, hits, wrong, hit_rate, ph / pq if pq else 0.0,
                             wrong / hits if hits else 0.0, nw / nq if nq else 0.0, saved))
    return ThresholdSweep(rows, type(ver).__name__, len(s_texts), {"queries": len(queries), "top_k": top_k})


# ------------------------------------------------------------------------------------------------
# replaying a stream through a stack
# ------------------------------------------------------------------------------------------------
@dataclass
class StreamResult:
    """Per-request outcomes of :func:`replay_stream`."""

    layers: list[str | None]
    """The layer that served each request (``None``: a miss)."""
    latency_ms: list[float]
    """Whole request: lookup, and on a miss the answer function and the store."""
    lookup_ms: list[float]
    wrong: list[bool]

    def summary(self) -> dict[str, Any]:
        """Hit rate, wrong-hit rates, hits per layer, latency (mean, p50, p95 by :data:`PERCENTILE_METHOD`)
        overall and per layer."""
        n = len(self.layers)
        hits = sum(1 for x in self.layers if x is not None)
        wrong = sum(self.wrong)
        out: dict[str, Any] = {
            "requests": n, "hits": hits, "hit_rate": hits / n if n else 0.0, "wrong_hits": wrong,
            "wrong_hit_rate_of_hits": wrong / hits if hits else 0.0,
            "wrong_hit_rate_of_requests": wrong / n if n else 0.0,
            "percentile_method": PERCENTILE_METHOD,
            "latency_ms": _latency(self.latency_ms),
            "layers": {},
        }
        for layer in ("exact", "semantic", "user", None):
            idx = [i for i, x in enumerate(self.layers) if x == layer]
            if not idx:
                continue
            out["layers"][layer or "miss"] = {
                "count": len(idx), "wrong": sum(self.wrong[i] for i in idx),
                "lookup_ms": _latency([self.lookup_ms[i] for i in idx]),
                "latency_ms": _latency([self.latency_ms[i] for i in idx]),
            }
        return out


def _latency(values_ms: Sequence[float]) -> dict[str, float]:
    """Mean, p50 and p95 (NaN when there are no values)."""
    return {"mean": float(np.mean(values_ms)) if len(values_ms) else math.nan, **percentiles(values_ms, (50, 95))}


def replay_stream(stack: CacheStack, requests: Sequence[StreamRequest], answer: Callable[[str], dict[str, Any]], *,
                  tenant: str = "default", clock_advance: Callable[[int], None] | None = None) -> StreamResult:
    """Send each request through ``stack`` (lookup; on a miss ``answer(text)`` then store) and time it.

    Each request's intent goes to the stack as ground truth, and is stored with the entry, so wrong
    hits are counted. ``clock_advance(i)`` runs before request ``i`` (a simulated clock for TTLs).
    """
    layers: list[str | None] = []
    latency: list[float] = []
    lookups: list[float] = []
    wrong: list[bool] = []
    for i, req in enumerate(requests):
        if clock_advance is not None:
            clock_advance(i)
        t0 = time.perf_counter_ns()
        hit = stack.lookup(tenant, req.text, intent=req.intent)
        t1 = time.perf_counter_ns()
        if hit is None:
            stack.store(tenant, req.text, answer(req.text), intent=req.intent)
        t2 = time.perf_counter_ns()
        layers.append(hit.layer if hit else None)
        lookups.append((t1 - t0) / 1e6)
        latency.append((t2 - t0) / 1e6)
        wrong.append(bool(hit is not None and hit.intent is not None and hit.intent != req.intent))
    return StreamResult(layers, latency, lookups, wrong)
