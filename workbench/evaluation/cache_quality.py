"""Cache-quality evaluation: a threshold sweep on paraphrases and near-misses, a threshold picker, and a
replay that measures a stack on a request stream (drawn by :mod:`workbench.evaluation.streams`).

Sweeps do not re-implement the semantic layer's decision: a :class:`SemanticProbe` holds the stored
questions in a real :class:`~workbench.cache.SemanticCache` and asks it each query at each setting, so the
threshold, the verifier, the refusal margin and the judge tier decide exactly as they do when serving.

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

from workbench.cache.backends.memory import MemoryBackend
from workbench.cache.judge import JudgeTier
from workbench.cache.keys import namespace
from workbench.cache.normalizer import QueryNormalizer
from workbench.cache.semantic import REFUSAL_MARGIN, SemanticCache
from workbench.cache.stack import CacheStack
from workbench.cache.verifier import HitVerifier, RuleVerifier
from workbench.datasets import BankDataset, load_dataset
from workbench.errors import ConfigError
from workbench.evaluation.streams import StreamRequest
from workbench.percentiles import PERCENTILE_METHOD, percentiles

__all__ = [
    "CachedEmbedder",
    "ProbeQuery",
    "SemanticProbe",
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
# the semantic layer's own decision, on fixed stored questions and queries
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProbeQuery:
    """One query of a probe: its normalized text, its true intent and its kind (``paraphrase``, ``near_miss``)."""

    text: str
    intent: str
    kind: str


class SemanticProbe:
    """A :class:`~workbench.cache.SemanticCache` holding fixed questions, asked fixed queries at any setting.

    Texts are embedded once; each :meth:`run` sets the threshold, refusal margin and judge tier on the
    cache and calls its ``get`` per query, so the decision is the serving one (candidates nearest first,
    the verifier, :func:`~workbench.cache.semantic.clearly_closer`, the judge's band and verdict cache).

    :param embedder: embeds the normalized texts (``embed_queries``).
    :param stored: normalized question → its intent (the cache's entries).
    :param queries: what is asked.
    :param verifier: the rules (default: :class:`~workbench.cache.RuleVerifier` of the bank lexicon).
    :param top_k: candidates examined per lookup.

    ```python
    probe = SemanticProbe(embedder, {"gold card annual fee": "cards.gold.annual_fee"},
                          [ProbeQuery("whats the yearly fee on the gold card", "cards.gold.annual_fee", "paraphrase")])
    probe.run(threshold=0.93)        # [('cards.gold.annual_fee', 0.95)]: served intent and similarity
    ```
    """

    def __init__(self, embedder: Any, stored: dict[str, str], queries: Sequence[ProbeQuery], *,
                 verifier: HitVerifier | None = None, top_k: int = 4) -> None:
        self.stored = dict(stored)
        self.queries = list(queries)
        texts = list(self.stored)
        sv = np.asarray(embedder.embed_queries(texts), dtype=np.float32) if texts else np.zeros((0, 1), np.float32)
        qv = np.asarray(embedder.embed_queries([q.text for q in self.queries]), dtype=np.float32) \
            if self.queries else np.zeros((0, sv.shape[1]), np.float32)
        self.query_vectors = qv
        self.ns = namespace("probe", kb_version="probe", config_hash="probe")
        # one frozen clock for the index and the backend: an evaluation that runs longer than the TTL (a judge grid
        # scoring pairs for minutes) must not see its stored payloads expire and its hits vanish
        self.cache = SemanticCache(None, MemoryBackend(max_entries=10 * (len(texts) + 1) + 100_000,
                                                       clock=lambda: 0.0), threshold=1.0,
                                   verifier=verifier if verifier is not None else RuleVerifier(), top_k=top_k,
                                   dim=int(sv.shape[1]) if len(texts) else None, clock=lambda: 0.0,
                                   max_entries=len(texts) + 1)
        for text, vec in zip(texts, sv, strict=True):
            self.cache.put(self.ns, text, question=text, payload={"intent": self.stored[text]},
                           intent=self.stored[text], embedding=vec)

    def run(self, *, threshold: float, refusal_margin: float = REFUSAL_MARGIN,
            judge: JudgeTier | None = None) -> list[tuple[str | None, float]]:
        """Per query, in order: the intent of the entry the cache served (``None``: a miss) and its similarity."""
        cache = self.cache
        cache.threshold, cache.refusal_margin, cache.judge = threshold, refusal_margin, judge
        out: list[tuple[str | None, float]] = []
        for q, vec in zip(self.queries, self.query_vectors, strict=True):
            match = cache.get(self.ns, q.text, embedding=vec)
            out.append((match.entry.intent, match.similarity) if match is not None else (None, 0.0))
        return out


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
                    lookup_latency_ms: float | None = None, refusal_margin: float = REFUSAL_MARGIN,
                    judge: JudgeTier | None = None) -> ThresholdSweep:
    """Hit rate, wrong-hit rate and latency saved per threshold, on paraphrases and near-misses.

    The cache holds, per paraphrase group, its first paraphrase, and per near-miss pair its ``a``
    side. Queries are the other paraphrases (a hit should serve their own intent) and the ``b``
    sides (serving ``a``'s answer is wrong). Each query is decided by the semantic layer itself
    (:class:`SemanticProbe`: threshold, ``verifier``, ``refusal_margin``, ``judge``). Queries identical
    to a stored text (after normalization) are skipped: they are exact hits, not semantic ones.
    """
    ds = load_dataset(dataset) if isinstance(dataset, str) else dataset
    norm = normalizer or QueryNormalizer()
    ver = verifier if verifier is not None else RuleVerifier()
    stored: dict[str, str] = {}
    for g in ds.paraphrases:
        stored.setdefault(norm(g.paraphrases[0]), g.intent)
    for nm in ds.near_misses:
        stored.setdefault(norm(nm.a), nm.intent_a)
    queries = [ProbeQuery(norm(p), g.intent, "paraphrase") for g in ds.paraphrases for p in g.paraphrases[1:]]
    queries += [ProbeQuery(norm(nm.b), nm.intent_b, "near_miss") for nm in ds.near_misses]
    queries = [q for q in queries if q.text not in stored]
    probe = SemanticProbe(embedder, stored, queries, verifier=ver, top_k=top_k)
    rows = []
    for th in sorted(thresholds):
        c = {"paraphrase": [0, 0, 0], "near_miss": [0, 0, 0]}  # queries, hits, wrong
        for q, (served, _) in zip(queries, probe.run(threshold=th, refusal_margin=refusal_margin, judge=judge),
                                  strict=True):
            c[q.kind][0] += 1
            if served is not None:
                c[q.kind][1] += 1
                c[q.kind][2] += int(served != q.intent)
        pq, ph, pw = c["paraphrase"]
        nq, nh, nw = c["near_miss"]
        hits, wrong, total = ph + nh, pw + nw, pq + nq
        hit_rate = hits / total if total else 0.0
        saved = None
        if miss_latency_ms is not None:
            saved = hit_rate * miss_latency_ms - (lookup_latency_ms or 0.0)
        rows.append(SweepRow(th, pq, ph, pw, nq, nh, nw, hits, wrong, hit_rate, ph / pq if pq else 0.0,
                             wrong / hits if hits else 0.0, nw / nq if nq else 0.0, saved))
    return ThresholdSweep(rows, type(ver).__name__, len(stored), {"queries": len(queries), "top_k": top_k,
                                                                  "refusal_margin": refusal_margin})


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
